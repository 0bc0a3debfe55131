"""Roles (issue 14, item 5): «Другие отклики» lists only the entities the portal user may read in the CRM.

The app writes with the installing administrator's token, so the portal itself is asked, under the user's own
token, which entities the user's CRM role lets them read. The sandbox models Bitrix24's read levels (all, own,
none) per user."""

from __future__ import annotations

from typing import Any

from rabota_common.entity_ref import EntityRef
from rabota_ui.visibility import list_commands, listed

from tests.e2e.harness import Driver
from tests.security.identity_support import is_russian_error


def test_list_commands_name_each_entity_once_fifty_a_command() -> None:
    refs = [EntityRef(1, i) for i in range(1, 121)] + [EntityRef(2, 7), EntityRef(2, 7), EntityRef(0, 5)]
    commands = list_commands(refs)
    assert list(commands) == ["t1_0", "t1_1", "t1_2", "t2_0"]
    assert commands["t1_0"] == ("crm.item.list", {"entityTypeId": 1, "filter": {"@id": list(range(1, 51))},
                                                  "select": ["id"]})
    assert commands["t2_0"][1]["filter"] == {"@id": [7]}  # an entity of unknown type is never asked about
    assert listed("t1_1", {"items": [{"id": 51}, {"id": "52"}, {"id": None}, "x"]}) == {EntityRef(1, 51),
                                                                                     EntityRef(1, 52)}
    assert listed("t2_0", []) == set()


async def _access(driver: Driver, user_id: int, read: str) -> None:
    r = await driver.http.post(f"{driver.stack.b24_url}/_sandbox/portals/demo/users/{user_id}/crm-access",
                               json={"read": read})
    assert r.status_code == 200, r.text


async def _other(driver: Driver, lead_id: int) -> Any:
    return await driver.api("GET", "/other-responses", params={"entity_type": "lead", "entity_id": lead_id})


async def _applicant_with_several_leads(driver: Driver) -> tuple[int, list[int]]:
    for lead in await driver.entities("demo", 1):
        r = await _other(driver, int(lead["ID"]))
        assert r.status_code == 200, r.text
        if r.json()["total"] >= 2 and r.json()["pages"] == 1:
            return int(lead["ID"]), sorted(item["entity_id"] for item in r.json()["items"])
    raise AssertionError("no applicant with several leads in the sandbox's seed")


async def test_other_responses_list_only_what_the_user_may_read(driver: Driver) -> None:
    await driver.install("demo")
    await driver.open_app("demo")
    assert (await driver.connect_hh()).status_code == 200
    await driver.save_lead_settings()
    assert (await driver.api("POST", "/import")).status_code == 202
    await driver.wait_import()
    lead, all_leads = await _applicant_with_several_leads(driver)  # as the admin: every one of them
    assigned = {int(e["ID"]): int(e["ASSIGNED_BY_ID"]) for e in await driver.entities("demo", 1)}
    assert all(assigned[i] != 4 for i in all_leads)

    # A manager whose role reads only their own leads: none of these is theirs, so the view knows nothing.
    await _access(driver, 4, "own")
    frame = await driver.frame("demo", "app", user_id=4)
    page = await driver.post_frame("/b24/app", frame)
    assert page.status_code == 200 and frame["form"]["AUTH_ID"] not in page.text  # carried encrypted only
    await driver.open_app("demo", user_id=4)
    r = await _other(driver, lead)
    assert r.status_code == 404 and r.json()["error"] == "not_found" and is_russian_error(r.json())

    # One of the applicant's leads is handed to the manager: they see that one, and only from it.
    mine, other = all_leads[0], all_leads[1]
    r = await driver.http.post(f"{driver.stack.b24_url}/_sandbox/portals/demo/entities/1/{mine}",
                               json={"fields": {"ASSIGNED_BY_ID": 4}, "user_id": 1})
    assert r.status_code == 200, r.text
    r = await _other(driver, mine)
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 1 and [i["entity_id"] for i in r.json()["items"]] == [mine]
    assert (await _other(driver, other)).status_code == 404

    # A role that reads every lead sees what the admin sees; one that reads none sees nothing.
    await _access(driver, 4, "all")
    r = await _other(driver, other)
    assert r.status_code == 200 and sorted(i["entity_id"] for i in r.json()["items"]) == all_leads
    await _access(driver, 4, "none")
    assert (await _other(driver, mine)).status_code == 404

    # The user's token expired at the portal: the view asks to reopen the app, and shows nothing.
    await _access(driver, 4, "all")
    r = await driver.http.post(f"{driver.stack.b24_url}/_sandbox/portals/demo/tokens/expire")
    assert r.status_code == 200
    r = await _other(driver, mine)
    assert r.status_code == 401 and r.json()["error"] == "session_ended" and is_russian_error(r.json())

    # The admin is not asked about: they read every entity.
    await driver.open_app("demo", user_id=1)
    r = await _other(driver, other)
    assert r.status_code == 200 and sorted(i["entity_id"] for i in r.json()["items"]) == all_leads
