"""The ui's API logic against the Bitrix24 emulator over HTTP and a real Redis: the settings form's options read
from the portal, settings checked against them (what does not exist, named in Russian), and the entity the Other
responses view is opened for."""

from __future__ import annotations

from typing import Any

import pytest
from rabota_common.app_settings import SyncSettings
from rabota_common.entity_ref import EntityRef
from rabota_ui.api import portal_options, requested_entity, settings_problem
from rabota_ui.errors import ApiError

from tests.integration.conftest import Sandbox

PORTAL = "a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7"  # a member_id (the rt fixture's token serves the sandbox's portal)


async def test_portal_options_read_the_portal(sandbox: Sandbox, rt: Any) -> None:
    options = await portal_options(rt, PORTAL)
    assert options["crm_mode"] == "classic" and options["entity_types"][:2] == ["lead", "deal"]
    assert options["users"] and all(isinstance(u["id"], int) and u["name"] for u in options["users"])
    assert options["lead_stages"] and all(s["semantics"] in ("S", "F", "P") for s in options["lead_stages"])
    default = [c for c in options["deal_categories"] if c["id"] == 0]
    assert default and default[0]["stages"], options["deal_categories"]
    assert await rt.store.crm_mode(portal=PORTAL) == 1  # remembered for the other pages


def lead_settings(options: dict[str, Any], **over: Any) -> SyncSettings:
    first = options["lead_stages"][0]["id"]
    fields: dict[str, Any] = dict(responsible_id=options["users"][0]["id"], entity_type="lead",
                                  stage_map={"response": first, "invitation": first})
    fields.update(over)
    return SyncSettings(**fields)


async def test_settings_are_checked_against_what_the_portal_has(sandbox: Sandbox, rt: Any) -> None:
    options = await portal_options(rt, PORTAL)
    assert settings_problem(lead_settings(options), options) is None
    deal_stage = next(c for c in options["deal_categories"] if c["id"] == 0)["stages"][0]["id"]
    deal = lead_settings(options, entity_type="deal", stage_map={"response": deal_stage, "invitation": deal_stage})
    assert settings_problem(deal, options) is None
    assert settings_problem(lead_settings(options, responsible_id=999_999), options) == (
        "ответственный не найден среди активных сотрудников портала.")
    assert settings_problem(lead_settings(options, stage_map={"response": "NOPE", "invitation": "NOPE"}),
                            options) == "нет такой стадии для статусов: invitation, response."
    assert settings_problem(deal.model_copy(update={"category_id": 4242}), options) == "воронка сделок не найдена."
    assert settings_problem(lead_settings(options, open_line_id=4242), options) == (
        "открытая линия не найдена на портале.")
    spa = lead_settings(options, entity_type="smart_process", smart_process_type_id=4242)
    assert settings_problem(spa, options) in ("этот тип сущности недоступен на портале.", "смарт-процесс не найден.")


def test_settings_problem_for_smart_processes_and_simple_mode() -> None:
    stage = [{"id": "DT1038_7:NEW", "name": "Новый", "semantics": "P"}]
    options: dict[str, Any] = {
        "users": [{"id": 1, "name": "Админ"}], "entity_types": ["deal", "smart_process"], "lead_stages": [],
        "deal_categories": [], "open_lines": [{"id": 3}],
        "smart_processes": [{"id": 1038, "title": "Кандидаты", "categories": [{"id": 7, "stages": stage}]}]}
    spa = SyncSettings(responsible_id=1, entity_type="smart_process", smart_process_type_id=1038,
                       stage_map={"response": "DT1038_7:NEW", "invitation": "DT1038_7:NEW"}, open_line_id=3)
    assert settings_problem(spa, options) is None  # the first pipeline when none is named
    assert settings_problem(spa.model_copy(update={"category_id": 7}), options) is None
    assert settings_problem(spa.model_copy(update={"category_id": 8}), options) == "воронка смарт-процесса не найдена."
    lead = SyncSettings(responsible_id=1, entity_type="lead", stage_map={"response": "NEW", "invitation": "NEW"})
    assert settings_problem(lead, options) == "этот тип сущности недоступен на портале."  # simple CRM mode


def test_the_other_responses_entity_is_typed() -> None:
    spa_settings = {"entity_type": "smart_process", "smart_process_type_id": 1038}
    assert requested_entity("lead", None, 5, None) == EntityRef(1, 5)
    assert requested_entity("deal", 2, 5, None) == EntityRef(2, 5)
    assert requested_entity("smart_process", 1040, 5, spa_settings) == EntityRef(1040, 5)
    assert requested_entity("smart_process", None, 5, spa_settings) == EntityRef(1038, 5)
    assert requested_entity("", 1040, 5, None) == EntityRef(1040, 5)  # the card's entityTypeId alone
    for args, status in ((("contact", None, 5, None), 422), (("", None, 5, None), 422),
                         (("lead", None, 0, None), 422), (("smart_process", None, 5, None), 404),
                         (("deal", 1, 5, None), 422), (("smart_process", 2, 5, None), 422)):
        with pytest.raises(ApiError) as caught:
            requested_entity(*args)  # type: ignore[arg-type]
        assert caught.value.status == status, args
