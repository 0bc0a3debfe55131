"""Issue 16 item 3: an invitation that has moved on (e.g. to `consider`) arrives as «Приглашение», in simple
mode (leads) and extended mode (deals), through the import and through webhooks; a response stays «Отклик»."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.harness import MANAGER, Driver, manager_vacancies, until

FAST = pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20"})
EXTENDED = {"response": "NEW", "consider": "IN_PROCESS", "phone_interview": "IN_PROCESS",
            "assessment": "IN_PROCESS", "interview": "PROCESSED", "offer": "PROCESSED",
            "hired": "CONVERTED", "discard": "JUNK"}
WORD = {"response": "Отклик", "invitation": "Приглашение"}


async def _leads(driver: Driver, portal: str, ids: set[str], limit_s: float = 120.0,
                 entity_type_id: int = 1) -> dict[str, dict[str, Any]]:
    async def done() -> dict[str, dict[str, Any]] | None:
        leads = {lead["ORIGIN_ID"]: lead for lead in await driver.entities(portal, entity_type_id)}
        return leads if set(leads) >= ids else None

    return dict(await until(f"a lead for each of {len(ids)} negotiations of {portal}", limit_s, done))


def _check_kinds(leads: dict[str, dict[str, Any]], negotiations: list[dict[str, Any]], simple: bool) -> None:
    for n in negotiations:
        lead = leads[str(n["id"])]
        assert lead["TITLE"].startswith(f"{WORD[n['kind']]}: "), (n, lead["TITLE"])
        if simple:
            assert lead["UF_CRM_RABOTABY_STATUS"] == WORD[n["kind"]], (n, lead["UF_CRM_RABOTABY_STATUS"])
            assert lead["STATUS_ID"] == ("IN_PROCESS" if n["kind"] == "invitation" else "NEW"), n


@FAST
async def test_invitations_that_moved_on_arrive_as_invitations(driver: Driver) -> None:
    await driver.http.put(f"{driver.stack.hh_url}/_sandbox/knobs", json={"rate_limit_rps": None})
    seeded = await driver.hh_negotiations()
    moved_on = [n for n in seeded if n["kind"] == "invitation" and n["employer_state"] != "invitation"]
    assert len(moved_on) >= 10, "the seed has invitations that moved on (consider, assessment, offer, discard…)"

    # Simple mode, the admin's account: the import.
    await driver.install("demo")
    await driver.open_app("demo")
    assert (await driver.connect_hh()).status_code == 200
    await driver.save_lead_settings()  # response → NEW, invitation → IN_PROCESS
    await driver.http.post(f"{driver.stack.hh_url}/_sandbox/stats/reset")
    assert (await driver.api("POST", "/import")).status_code == 202
    await driver.wait_import()
    _check_kinds(await _leads(driver, "demo", {str(n["id"]) for n in seeded}), seeded, simple=True)
    stats = (await driver.http.get(f"{driver.stack.hh_url}/_sandbox/stats")).json()
    chats = stats["by_route"].get("GET /common/chats/{chat}/messages", 0)
    # The chat is asked at most once per negotiation: one read gives the kind (for those that left the response
    # state) and the cover letter (responses, F18).
    assert chats <= len(seeded), stats["by_route"]
    print(f"\nimport of {len(seeded)} negotiations ({len(moved_on)} invitations moved on): "
          f"{stats['requests_total']} HeadHunter requests, {chats} of them chat reads")

    # Extended mode, the manager's account on a second portal: the import, then new ones by webhook.
    ext = Driver(driver.stack, driver.http)
    await ext.install("simple")
    await ext.open_app("simple")
    mine, _ = await manager_vacancies(ext)
    assert (await ext.connect_hh(MANAGER)).status_code == 200
    options = (await ext.api("GET", "/options")).json()
    stages = [s["id"] for s in next(c for c in options["deal_categories"] if c["id"] == 0)["stages"]]
    stage_map = {key: stages[min(i, len(stages) - 1)] for i, key in enumerate(EXTENDED)}
    r = await ext.api("PUT", "/settings", json={
        "responsible_id": options["users"][0]["id"], "entity_type": "deal", "smart_process_type_id": None,
        "category_id": 0, "extended": True, "stage_map": stage_map})
    assert r.status_code == 200, r.text
    assert (await ext.api("POST", "/import")).status_code == 202
    await ext.wait_import()
    visible = [n for n in await ext.hh_negotiations() if str(n["vacancy_id"]) in mine]
    assert any(n in moved_on for n in visible), "the manager's vacancies have invitations that moved on"
    _check_kinds(await _leads(ext, "simple", {str(n["id"]) for n in visible}, entity_type_id=2), visible, simple=False)

    # Live: an invitation (NEW_RESPONSE_OR_INVITATION_VACANCY only) made by HeadHunter's bot, one by the
    # employer that then moves on, and a response (which fires NEW_NEGOTIATION_VACANCY too).
    url = f"{driver.stack.hh_url}/_sandbox/negotiations"
    made = []
    for body in ({"vacancy_id": mine[0], "kind": "invitation", "source": "AUTO_INVITE"},
                 {"vacancy_id": mine[0], "kind": "invitation"},
                 {"vacancy_id": mine[0], "kind": "response", "source": "AUTO_RESPONSE"}):
        r = await driver.http.post(url, json=body)
        assert r.status_code == 201, r.text
        made.append(r.json())
    live = await _leads(ext, "simple", {str(n["id"]) for n in made}, limit_s=60, entity_type_id=2)
    _check_kinds(live, made, simple=False)
    moved = made[1]
    r = await driver.http.post(f"{url}/{moved['id']}/state", json={"employer_state": "interview"})
    assert r.status_code == 200, r.text

    async def interviewed() -> dict[str, Any] | None:
        deal = next(d for d in await ext.entities("simple", 2) if d["ORIGIN_ID"] == str(moved["id"]))
        return dict(deal) if deal["UF_CRM_RABOTABY_STATUS"] == "Интервью" else None

    deal = await until("the invitation's deal to move to the interview stage", 60, interviewed)
    assert deal["TITLE"].startswith("Приглашение: ") and deal["STAGE_ID"] == stage_map["interview"]
    assert len([d for d in await ext.entities("simple", 2) if d["ORIGIN_ID"] == str(moved["id"])]) == 1
