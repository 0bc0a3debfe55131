"""Acting on an applicant from the CRM card (F16, issue 19 part 1): an invitation and a rejection, each with its
template text edited, sent from the card, reach HeadHunter and move the lead; a repeat does nothing twice; only
an administrator or the lead's responsible user may act; and a vacancy archived on rabota.by offers the bulk
rejection of the rest of its applicants, confirmed by its count."""

from __future__ import annotations

from typing import Any

from tests.e2e.harness import Driver
from tests.e2e.test_back_sync import STAGE_MAP
from tests.e2e.test_hh_side import FAST, _hh, _one_lead_each, _start, _until

ACTION_ROUTE = "PUT /negotiations/{collection}/{nid}"


async def _negotiation(driver: Driver, nid: str) -> dict[str, Any]:
    return next(n for n in await driver.hh_negotiations() if str(n["id"]) == nid)


async def _lead(driver: Driver, nid: str) -> dict[str, Any]:
    return next(x for x in await driver.entities("demo", 1) if x["ORIGIN_ID"] == nid)


async def _card_html(driver: Driver, lead_id: int) -> str:
    r = await driver.http.get(f"{driver.stack.b24_url}/portal/demo/crm/1/{lead_id}/")
    assert r.status_code == 200
    return r.text


async def _imported(driver: Driver, negotiations: int) -> dict[str, dict[str, Any]]:
    await _start(driver, negotiations=negotiations)
    body: dict[str, Any] = {"responsible_id": 2, "entity_type": "lead", "extended": True, "stage_map": STAGE_MAP}
    assert (await driver.api("PUT", "/settings", json=body)).status_code == 200
    assert (await driver.api("POST", "/import")).status_code == 202
    await driver.wait_import()
    return {lead["ORIGIN_ID"]: lead for lead in await _one_lead_each(driver)}


def _card(lead: dict[str, Any]) -> dict[str, Any]:
    return {"entity_type": "lead", "entity_id": int(lead["ID"])}


@FAST
async def test_invite_and_reject_from_the_card_with_edited_template_text(driver: Driver) -> None:
    leads = await _imported(driver, 12)
    fresh = [str(n["id"]) for n in await driver.hh_negotiations()
             if n["employer_state"] == "response" and n["kind"] == "response"]
    invite_nid, reject_nid = fresh[0], fresh[1]

    # The dialog's data: the negotiation's own actions, each with its template text filled for the applicant.
    r = await driver.api("GET", f"/card-actions?entity_type=lead&entity_id={leads[invite_nid]['ID']}")
    assert r.status_code == 200, r.text
    dialog = r.json()
    assert dialog["negotiation_id"] == invite_nid and dialog["state"] == "response" and dialog["can_act"]
    by_id = {a["id"]: a for a in dialog["actions"]}
    assert by_id["interview"]["kind"] == "invite" and by_id["discard_by_employer"]["kind"] == "discard"
    assert by_id["consider"]["kind"] == "move"
    assert {"discard_by_employer", "discard_by_applicant", "discard_no_interaction"} <= set(by_id)
    template = by_id["interview"]["text"]
    assert "Приглашаем вас на собеседование" in template and "{{" not in template
    assert any(t["id"] == "discard_after_response" for t in dialog["templates"])

    await _hh(driver, "POST", "/stats/reset")
    await driver.http.post(f"{driver.stack.b24_url}/_sandbox/stats/reset")
    invitation = template + "\nЖдём вас в среду в 11:00, офис на Немиге, 5."
    r = await driver.api("POST", "/card-actions", json={**_card(leads[invite_nid]), "action_id": "interview",
                                                        "message": invitation})
    assert r.status_code == 200 and r.json()["already"] is False, r.text
    rejection = "Спасибо за отклик! К сожалению, мы выбрали кандидата с опытом в логистике."
    r = await driver.api("POST", "/card-actions", json={**_card(leads[reject_nid]),
                                                        "action_id": "discard_by_employer", "message": rejection})
    assert r.status_code == 200, r.text

    # HeadHunter has both, with the edited texts.
    invited = await _negotiation(driver, invite_nid)
    assert invited["employer_state"] == "interview"
    assert invited["action_messages"] == [{"employer_state": "interview", "message": invitation}]
    rejected = await _negotiation(driver, reject_nid)
    assert rejected["employer_state"] == "discard_by_employer"
    assert rejected["action_messages"] == [{"employer_state": "discard_by_employer", "message": rejection}]

    # The leads move to the mapped stages and the timeline says what was sent.
    async def moved() -> bool:
        a, b = await _lead(driver, invite_nid), await _lead(driver, reject_nid)
        return bool(a["STATUS_ID"] == STAGE_MAP["interview"] and b["STATUS_ID"] == STAGE_MAP["discard"])

    await _until("both leads to move to their mapped stages", moved, 30)
    # Figures of two actions (the dialog's listing excluded): HeadHunter and Bitrix24 requests, by route/method.
    hh_routes = (await _hh(driver, "GET", "/stats"))["by_route"]
    b24 = (await driver.http.get(f"{driver.stack.b24_url}/_sandbox/stats")).json()
    print(f"\nFIGURES two card actions: HeadHunter {sum(hh_routes.values())} {hh_routes}; "
          f"Bitrix24 {b24['requests_total']} {dict(b24['by_method'])}")
    # Per action: GET and PUT, GET again to publish the new state, GET for the state-change webhook. (The mapper's
    # cover-letter read of the chat, F18, comes on top: GET /common/chats/{chat}/messages once per state change.)
    ours = {r: c for r, c in hh_routes.items() if r in ("GET /negotiations/{id}", ACTION_ROUTE)}
    assert sum(ours.values()) <= 2 * 4, hh_routes
    assert "Приглашение отправлено" in await _card_html(driver, int(leads[invite_nid]["ID"]))
    card = await _card_html(driver, int(leads[reject_nid]["ID"]))
    assert "Отказ отправлен" in card and "логистике" in card

    # Idempotent: the same action again sends nothing and leaves no second line.
    r = await driver.api("POST", "/card-actions", json={**_card(leads[invite_nid]), "action_id": "interview",
                                                        "message": invitation})
    assert r.status_code == 200 and r.json()["already"] is True, r.text
    routes = (await _hh(driver, "GET", "/stats"))["by_route"]
    assert routes.get(ACTION_ROUTE) == 2, routes
    assert (await _card_html(driver, int(leads[invite_nid]["ID"]))).count("Приглашение отправлено") == 1


@FAST
async def test_only_an_admin_or_the_responsible_user_may_act(driver: Driver) -> None:
    leads = await _imported(driver, 6)
    nids = [str(n["id"]) for n in await driver.hh_negotiations() if n["employer_state"] == "response"]
    lead = leads[nids[0]]
    assert int(lead["ASSIGNED_BY_ID"]) == 2
    # User 3 reads every lead but is not responsible for this one: 403 with a Russian message, nothing sent.
    await driver.http.post(f"{driver.stack.b24_url}/_sandbox/portals/demo/users/3/crm-access", json={"read": "all"})
    await driver.open_app("demo", user_id=3)
    dialog = (await driver.api("GET", f"/card-actions?entity_type=lead&entity_id={lead['ID']}")).json()
    assert dialog["can_act"] is False
    r = await driver.api("POST", "/card-actions", json={**_card(lead), "action_id": "consider"})
    assert r.status_code == 403 and r.json()["error"] == "forbidden", r.text
    assert "ответственный" in r.json()["message"]
    assert (await _negotiation(driver, nids[0]))["employer_state"] == "response"
    # User 2, the responsible one, may.
    await driver.open_app("demo", user_id=2)
    r = await driver.api("POST", "/card-actions", json={**_card(lead), "action_id": "consider"})
    assert r.status_code == 200, r.text
    assert (await _negotiation(driver, nids[0]))["employer_state"] == "consider"


@FAST
async def test_bulk_rejection_when_a_vacancy_is_archived(driver: Driver) -> None:
    await _imported(driver, 30)
    negotiations = await driver.hh_negotiations()
    vacancy = max({n["vacancy_id"] for n in negotiations},
                  key=lambda v: sum(1 for n in negotiations if n["vacancy_id"] == v
                                    and not n["employer_state"].startswith(("discard", "hired"))))
    open_ones = {str(n["id"]) for n in negotiations if n["vacancy_id"] == vacancy
                 and not n["employer_state"].startswith(("discard", "hired"))}
    assert open_ones
    await _hh(driver, "POST", f"/vacancies/{vacancy}/archive")

    async def offered() -> Any:
        offers = (await driver.api("GET", "/bulk-rejections")).json()["offers"]
        return next((o for o in offers if o["vacancy_id"] == vacancy), None)

    offer = await _until("the archivation webhook to offer a bulk rejection", offered, 30)
    assert offer["count"] == len(open_ones)

    async def notified() -> bool:
        r = await driver.http.get(f"{driver.stack.b24_url}/_sandbox/portals/demo/notifications")
        return any("закрыта" in str(n) for n in r.json())

    await _until("the responsible user to be notified", notified, 15)

    # First the count, nothing sent; then the confirmation with that count.
    r = await driver.api("POST", "/bulk-rejections", json={"offer_id": offer["id"],
                                                           "template_id": "discard_after_response"})
    assert r.status_code == 200 and r.json()["count"] == len(open_ones), r.text
    assert r.json()["question"].startswith(f"Отправить отказ {len(open_ones)} соискател")
    states = {str(n["id"]): n["employer_state"] for n in await driver.hh_negotiations()}
    assert not [nid for nid in open_ones if states[nid].startswith("discard")]
    wrong = await driver.api("POST", "/bulk-rejections", json={"offer_id": offer["id"], "confirm": len(open_ones) + 1})
    assert wrong.status_code == 409, wrong.text
    await _hh(driver, "POST", "/stats/reset")
    r = await driver.api("POST", "/bulk-rejections", json={"offer_id": offer["id"], "confirm": len(open_ones),
                                                           "template_id": "discard_after_response"})
    assert r.status_code == 200 and r.json()["count"] == len(open_ones), r.text
    run_id = r.json()["run_id"]

    async def finished() -> Any:
        p = (await driver.api("GET", f"/bulk-rejections/{run_id}")).json()
        return p if p["state"] == "done" else None

    progress = await _until("the bulk rejection to finish", finished, 60)
    assert progress == {"run_id": run_id, "total": len(open_ones), "done": len(open_ones), "failed": 0,
                        "state": "done"}
    for nid in open_ones:
        n = await _negotiation(driver, nid)
        assert n["employer_state"] == "discard_vacancy_closed"
        text = n["action_messages"][-1]["message"]
        assert "К сожалению" in text and "{{" not in text  # the template, filled per applicant
    assert not (await driver.api("GET", "/bulk-rejections")).json()["offers"]

    async def leads_rejected() -> bool:
        leads = {x["ORIGIN_ID"]: x for x in await driver.entities("demo", 1)}
        return all(leads[nid]["STATUS_ID"] == STAGE_MAP["discard"] for nid in open_ones)

    await _until("the leads to move to the rejection stage", leads_rejected, 60)
    hh_routes = (await _hh(driver, "GET", "/stats"))["by_route"]
    print(f"\nFIGURES bulk rejection of {len(open_ones)}: HeadHunter {sum(hh_routes.values())} {hh_routes}")
