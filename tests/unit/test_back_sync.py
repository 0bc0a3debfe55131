"""Back-sync's stage → HeadHunter action choice (the inverse of the extended-mode stage map)."""

from __future__ import annotations

from typing import Any

from rabota_common.app_settings import SyncSettings
from rabota_poller.backsync import pick_action, statuses_of_stage

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
