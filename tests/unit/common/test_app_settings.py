"""The portal's sync settings: what a settings body must hold, and the stage_map key a negotiation gets."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from rabota_common.app_settings import SyncSettings, status_key
from rabota_common.models import EXTENDED_STATUSES

SIMPLE = {"response": "NEW", "invitation": "IN_PROCESS"}
EXTENDED = {k: f"S_{k}" for k in EXTENDED_STATUSES}


def test_a_settings_body_is_complete_and_consistent() -> None:
    lead = SyncSettings(responsible_id=1, entity_type="lead", stage_map=SIMPLE)
    assert lead.entity_type_id == 1 and not lead.extended and lead.open_line_id is None
    assert SyncSettings(responsible_id=1, entity_type="deal", category_id=0, stage_map=SIMPLE).entity_type_id == 2
    spa = SyncSettings(responsible_id=1, entity_type="smart_process", smart_process_type_id=1038, stage_map=SIMPLE)
    assert spa.entity_type_id == 1038
    assert SyncSettings(responsible_id=1, entity_type="deal", extended=True, stage_map=EXTENDED).extended


@pytest.mark.parametrize(("over", "says"), [
    ({"entity_type": "smart_process"}, "smart_process_type_id"),
    ({"stage_map": {"response": "NEW"}}, "не хватает статусов invitation"),
    ({"stage_map": {**SIMPLE, "hired": "WON"}}, "лишние статусы hired"),
    ({"extended": True}, "не хватает статусов"),
    ({"responsible_id": 0}, "greater than 0"),
    ({"category_id": -1}, "greater than or equal to 0"),
    ({"open_line_id": 0}, "greater than 0"),
    ({"entity_type": "contact"}, "entity_type"),
    ({"unknown": 1}, "Extra inputs are not permitted"),
])
def test_bad_settings_are_refused_with_the_reason(over: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SyncSettings.model_validate({"responsible_id": 1, "entity_type": "lead", "stage_map": SIMPLE, **over})
    assert says in str(caught.value)


def test_status_key_simple_by_kind_extended_by_state_family() -> None:
    simple = SyncSettings(responsible_id=1, entity_type="lead", stage_map=SIMPLE)
    ext = SyncSettings(responsible_id=1, entity_type="deal", extended=True, stage_map=EXTENDED)
    assert status_key(simple, "invitation") == "invitation"
    assert status_key(simple, "response") == "response"
    assert status_key(simple, "consider", kind="invitation") == "invitation"
    assert status_key(simple, {"id": "consider"}, source="AUTO_INVITE") == "invitation"
    assert status_key(ext, {"id": "interview"}) == "interview"
    assert status_key(ext, "discard_by_applicant") == status_key(ext, "discard") == "discard"
    assert status_key(ext, "invitation") == "response"  # an invitation not yet moved
    assert status_key(ext, "state_added_in_2027") == status_key(ext, None) == "response"
