"""Back-sync's stage → HeadHunter action choice (the inverse of the extended-mode stage map)."""

from __future__ import annotations

from typing import Any

from rabota_common.app_settings import SyncSettings
from rabota_poller.backsync import pick_action, statuses_of_stage

PORTAL = "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4"  # a member_id: 32 lowercase hex characters
SETTINGS = SyncSettings(responsible_id=1, entity_type="lead", extended=True, back_sync=True, stage_map={
    "response": "NEW", "consider": "IN_PROCESS", "phone_interview": "IN_PROCESS", "assessment": "IN_PROCESS",
    "interview": "PROCESSED", "offer": "PROCESSED", "hired": "CONVERTED", "discard": "JUNK"})


def _action(aid: str, required: bool = False, enabled: bool = True) -> dict[str, Any]:
    return {"id": aid, "enabled": enabled, "url": f"https://api.hh.ru/negotiations/{aid}/1",
            "resulting_employer_state": {"id": aid},
            "arguments": [{"id": "message", "required": required}]}


def test_stage_maps_back_to_statuses_in_funnel_order() -> None:
    assert statuses_of_stage(SETTINGS, "IN_PROCESS") == ["consider", "phone_interview", "assessment"]
    assert statuses_of_stage(SETTINGS, "JUNK") == ["discard"]
    assert statuses_of_stage(SETTINGS, "UNKNOWN") == []


def test_discard_prefers_the_employer_discard_and_skips_unusable_actions() -> None:
    actions = [_action("discard_no_interaction"), _action("discard_by_employer"), _action("interview")]
    assert pick_action(SETTINGS, actions, "discard")["id"] == "discard_by_employer"  # type: ignore[index]
    assert pick_action(SETTINGS, [_action("interview", required=True)], "interview") is None
    assert pick_action(SETTINGS, [_action("interview", enabled=False)], "interview") is None
    assert pick_action(SETTINGS, actions, "hired") is None


SPA_SETTINGS = {"responsible_id": 1, "entity_type": "smart_process", "smart_process_type_id": 1040, "extended": True,
                "back_sync": True, "stage_map": {
                    **{k: "DT1040_12:NEW" for k in SETTINGS.stage_map}, "discard": "DT1040_12:FAIL"}}


async def _decide(redis_client: Any, ledger: str, entity: tuple[int, int], settings: dict[str, Any],
                  info_key: str) -> str:
    """back_sync's answer for an event on `entity` when the ledger holds `ledger` for negotiation n1, whose
    entity-info record is under `info_key`. Reaching Bitrix24 or HeadHunter means it meant to act."""
    import logging
    from types import SimpleNamespace

    from rabota_common.crypto import Crypto
    from rabota_common.models import AppEvent
    from rabota_common.store import Store
    from rabota_poller.backsync import back_sync

    store = Store(redis_client, Crypto("k"))
    await redis_client.flushdb()
    await store.put_settings(PORTAL, settings)
    await store.set_entity(PORTAL, "n1", ledger)
    await redis_client.hset(store.key(PORTAL, "entity-info", info_key), mapping={"negotiation_id": "n1", "url": "/x/"})

    async def acting(*_: Any, **__: Any) -> Any:
        raise AssertionError("back-sync went on to act")

    rt: Any = SimpleNamespace(store=store, redis=redis_client, b24_token=acting, log=logging.getLogger("t"))
    event = AppEvent(portal=PORTAL, event="crm_entity_updated",
                     data={"entity_type_id": entity[0], "entity_id": entity[1]})
    try:
        return await back_sync(rt, event)
    except AssertionError:
        return "acts"


async def test_back_sync_acts_only_on_the_ledgers_exact_entity(redis_client: Any) -> None:
    # Settings switched from smart process 1038 to 1040; negotiation n1 lives in 1038's item 42.
    # 1040's own item 42 (same id, other type) is not it, whatever the records say.
    assert await _decide(redis_client, "1038:42:response:7", (1040, 42), SPA_SETTINGS, "1040:42") == "not this entity"
    # Before the upgrade the ledger said only `smart_process:42`: which smart process is unknown, nothing moves.
    assert await _decide(redis_client, "smart_process:42:response:7", (1040, 42), SPA_SETTINGS,
                         "1040:42") == "not this entity"
    # An entity of another type than the settings' (a lead's NEW is not a deal's NEW) moves nothing either.
    assert await _decide(redis_client, "1:42:response:7", (1, 42), dict(SPA_SETTINGS), "1:42") == "other entity type"
    # Not one of ours.
    assert await _decide(redis_client, "1040:42:response:7", (1040, 43), SPA_SETTINGS, "1040:42") == "not ours"
    # The exact entity goes on to Bitrix24 (its stage) and HeadHunter.
    assert await _decide(redis_client, "1040:42:response:7", (1040, 42), SPA_SETTINGS, "1040:42") == "acts"
    lead = {"responsible_id": 1, "entity_type": "lead", "extended": True, "back_sync": True,
            "stage_map": SETTINGS.stage_map}
    # An old untyped lead ref still works after the upgrade.
    assert await _decide(redis_client, "lead:5:response:7", (1, 5), lead, "lead:5") == "acts"
    assert await _decide(redis_client, "lead:5:response:7", (2, 5), dict(lead, entity_type="deal"),
                         "deal:5") == "not this entity"
