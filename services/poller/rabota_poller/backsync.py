"""Back-sync (DESIGN F10, optional): an entity moved to another stage in Bitrix24 moves its negotiation on
HeadHunter through the negotiation's own action URL (`PUT /negotiations/{action}/{nid}`).

The stage maps back to a status by the inverse of the extended-mode stage map. When several statuses
share the stage, the negotiation stays where it is if its status is one of them, else it takes the
first of them in funnel order. Loops are avoided twice: the writer's own updates come back as events
too, so an entity whose stage is the one the ledger's last written status gives is left alone without
asking HeadHunter; and a negotiation already in a status of that stage is not moved.
"""

from __future__ import annotations

from typing import Any

from rabota_common.app_settings import SyncSettings, status_key
from rabota_common.b24_client import B24Error
from rabota_common.b24_session import open_session
from rabota_common.entity_ref import EntityRef
from rabota_common.hh_client import HhError
from rabota_common.hh_session import TokenSource
from rabota_common.models import EXTENDED_STATUSES, AppEvent
from rabota_common.negotiation_kind import enum_id
from rabota_common.runtime import Runtime

# The HeadHunter action preferred for a status that several employer states share.
PREFERRED_ACTION = {"discard": "discard_by_employer"}


def statuses_of_stage(settings: SyncSettings, stage_id: str) -> list[str]:
    return [key for key in EXTENDED_STATUSES if settings.stage_map.get(key) == stage_id]


def pick_action(settings: SyncSettings, actions: list[dict[str, Any]], target: str) -> dict[str, Any] | None:
    """The enabled action of the negotiation that leads to the target status and needs no argument."""
    fitting = [a for a in actions if a.get("enabled", True) and a.get("url")
               and status_key(settings, enum_id(a.get("resulting_employer_state")) or a.get("id")) == target
               and not any(arg.get("required") for arg in a.get("arguments") or [])]
    preferred = PREFERRED_ACTION.get(target, target)
    fitting.sort(key=lambda a: a.get("id") != preferred)
    return fitting[0] if fitting else None


async def entity_stage(rt: Runtime, portal: str, entity_type_id: int, entity_id: int) -> str | None:
    session = await open_session(rt, portal)
    try:
        result = await session.call("crm.item.get", {"entityTypeId": entity_type_id, "id": entity_id})
    except B24Error as exc:
        if exc.status == 404 or exc.code == "NOT_FOUND":
            return None  # deleted meanwhile
        raise
    return str((result or {}).get("item", {}).get("stageId") or "") or None


async def back_sync(rt: Runtime, event: AppEvent) -> str:
    """Handle one `app.crm_entity_updated`; returns what was done (for logs and tests)."""
    portal = event.portal
    settings = await rt.store.sync_settings(portal=portal)
    if settings is None:
        return "no settings"
    if not settings.back_sync or not settings.extended:
        return "off"
    entity = EntityRef(int(event.data.get("entity_type_id") or 0), int(event.data.get("entity_id") or 0))
    if entity.entity_type_id != settings.entity_type_id:
        return "other entity type"  # the stage map is the current type's: a lead's NEW is not a deal's NEW
    nid = await rt.store.entity_negotiation(portal, entity)
    if not nid:
        return "not ours"
    ledger = await rt.store.ledger_ref(portal=portal, negotiation_id=nid)
    # Only the entity the negotiation is written to moves it: not an item of another smart process that
    # has the same id (ids are numbered per type), nor one the ledger names without its type.
    if ledger is None or not entity.same(ledger.entity):
        return "not this entity"
    written = ledger.state
    entity_type_id, entity_id = entity.entity_type_id, entity.entity_id
    stage = await entity_stage(rt, portal, entity_type_id, entity_id)
    if stage is None:
        return "no stage"
    targets = statuses_of_stage(settings, stage)
    if not targets:
        return "stage not mapped"
    if written in targets:
        return "unchanged"  # the stage the writer itself set (or one of the same group)
    return await move_on_headhunter(rt, portal, settings, nid, targets, entity)


async def move_on_headhunter(rt: Runtime, portal: str, settings: SyncSettings, nid: str, targets: list[str],
                             entity: EntityRef) -> str:
    """Move negotiation `nid` on HeadHunter to the first of `targets` (the statuses of the entity's new
    stage), unless it is in one of them already; a refusal by HeadHunter (403, 404) is final."""
    tokens = TokenSource(rt, portal)
    negotiation = await tokens.call(rt.hh.negotiation, nid)
    current = status_key(settings, enum_id(negotiation.get("employer_state")), negotiation.get("source"))
    if current in targets:
        return "already there"
    target = targets[0]
    action = pick_action(settings, list(negotiation.get("actions") or []), target)
    if action is None:
        rt.log.info("back-sync of negotiation %s: no HeadHunter action leads to %s", nid, target)
        return "no action"
    try:
        await tokens.call(rt.hh.negotiation_action, str(action["url"]))
    except HhError as exc:
        if exc.status in (403, 404) and not exc.auth_lost:
            # wrong_state, archived vacancy, topic gone: HeadHunter's answer stands, retrying cannot help.
            rt.log.warning("back-sync of negotiation %s to %s refused: %s", nid, action.get("id"), exc)
            return "refused"
        raise
    rt.log.info("back-sync: negotiation %s moved to %s on HeadHunter (entity %s in Bitrix24)",
                nid, action.get("id"), entity)
    return f"moved {action.get('id')}"
