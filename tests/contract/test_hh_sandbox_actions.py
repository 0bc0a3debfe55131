"""Contract tests of the HeadHunter emulator for acting on negotiations (issue 19, F16): each action's arguments
and reply templates, the message it carried, the employer's templates (get-mail-templates, put-mail-templates-
item, get-negotiation-message-templates) and vacancy archivation with its `VACANCY_ARCHIVATION` webhook and the
«Вакансия закрыта» discard sub-state."""

from __future__ import annotations

from typing import Any

import httpx

from tests.contract.test_hh_sandbox import assert_hh_error, bearer, hh

__all__ = ["hh"]  # the fixture, used by name

EMPLOYER = "1000"


async def _neg(hh: httpx.AsyncClient, h: dict[str, str], nid: str) -> dict[str, Any]:
    r = await hh.get(f"/negotiations/{nid}", headers=h)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _a_response(hh: httpx.AsyncClient) -> dict[str, Any]:
    listed = (await hh.get("/_sandbox/negotiations")).json()
    return next(n for n in listed if n["employer_state"] == "response" and n["kind"] == "response"
                and n["hidden_fields"] == [] and n["resume"] == "normal")


async def test_actions_carry_arguments_and_templates(hh: httpx.AsyncClient) -> None:
    h = await bearer(hh)
    n = await _a_response(hh)
    neg = await _neg(hh, h, n["id"])
    actions = {a["id"]: a for a in neg["actions"]}
    assert "response" not in actions and "discard_vacancy_closed" not in actions  # only for an archived vacancy
    for a in actions.values():
        assert {"id", "name", "enabled", "hidden", "method", "url", "resulting_employer_state", "arguments",
                "templates", "sub_actions"} <= set(a)
        assert {arg["id"] for arg in a["arguments"]} == {"message", "send_sms"}
    invite = actions["interview"]["templates"]
    assert [t["id"] for t in invite] == ["invite_after_response"]
    assert invite[0]["url"].endswith(f"/message_templates/invite_after_response?topic_id={n['id']}")
    assert [t["id"] for t in actions["discard_by_employer"]["templates"]] == ["discard_after_response"]
    # The template, filled for this applicant and vacancy.
    r = await hh.get(invite[0]["url"].split("hh.test", 1)[-1], headers=h)
    assert r.status_code == 200, r.text
    text = r.json()["mail"]["text"]
    assert "{{" not in text and neg["vacancy"]["name"] in text and r.json()["sms"] is None
    # Parameters: topic_id alone, or vacancy_id with resume_id; anything else is a bad argument.
    assert_hh_error(await hh.get("/message_templates/invite", headers=h), 400, "bad_argument")
    assert_hh_error(await hh.get("/message_templates/invite", headers=h,
                                 params={"topic_id": n["id"], "vacancy_id": n["vacancy_id"]}), 400, "bad_argument")
    r = await hh.get("/message_templates/invite", headers=h,
                     params={"vacancy_id": n["vacancy_id"], "resume_id": n["resume_id"]})
    assert r.status_code == 200 and r.json()["mail"]["text"]
    assert_hh_error(await hh.get("/message_templates/nope", headers=h, params={"topic_id": n["id"]}), 404,
                    "not_found")


async def test_an_action_keeps_its_message(hh: httpx.AsyncClient) -> None:
    h = await bearer(hh)
    n = await _a_response(hh)
    url = next(a["url"] for a in (await _neg(hh, h, n["id"]))["actions"] if a["id"] == "interview")
    r = await hh.put(url.split("hh.test", 1)[-1], headers=h, data={"message": "Ждём вас в среду.", "send_sms": "false"})
    assert r.status_code == 204, r.text
    listed = {x["id"]: x for x in (await hh.get("/_sandbox/negotiations")).json()}
    assert listed[n["id"]]["employer_state"] == "interview"
    assert listed[n["id"]]["action_messages"] == [{"employer_state": "interview", "message": "Ждём вас в среду."}]
    # A JSON body, an unknown argument or a too long message is refused, nothing kept.
    other = next(x for x in listed.values() if x["employer_state"] == "response" and x["id"] != n["id"])
    path = f"/negotiations/consider/{other['id']}"
    assert_hh_error(await hh.put(path, headers=h, json={"message": "x"}), 400, "bad_argument")
    assert_hh_error(await hh.put(path, headers=h, data={"letter": "x"}), 400, "bad_argument")
    assert_hh_error(await hh.put(path, headers=h, data={"message": "x" * 10_001}), 403, "negotiations",
                    "too_long_message")
    assert (await hh.get("/_sandbox/negotiations")).json()[0]  # still answers
    assert {x["id"]: x for x in (await hh.get("/_sandbox/negotiations")).json()}[other["id"]]["action_messages"] == []


async def test_employer_mail_templates(hh: httpx.AsyncClient) -> None:
    h = await bearer(hh)
    r = await hh.get(f"/employers/{EMPLOYER}/mail_templates", headers=h)
    assert r.status_code == 200, r.text
    items = {t["id"]: t for t in r.json()["items"]}
    assert {"invite", "invite_after_response", "discard_after_response", "discard_after_interview"} <= set(items)
    for t in items.values():  # MailTemplatesMailTemplate: every required field
        assert {"id", "name", "text", "type", "variables", "template_modified", "editable"} <= set(t)
        assert t["type"] in ("EMAIL", "SMS") and t["template_modified"] is False
    r = await hh.put(f"/employers/{EMPLOYER}/mail_templates/discard_after_response", headers=h,
                     json={"text": "{{applicant_first_name}}, увы, нет."})
    assert r.status_code == 204, r.text
    changed = {t["id"]: t for t in (await hh.get(f"/employers/{EMPLOYER}/mail_templates", headers=h)).json()["items"]}
    assert changed["discard_after_response"]["template_modified"] is True
    n = await _a_response(hh)
    text = (await hh.get("/message_templates/discard_after_response", headers=h,
                         params={"topic_id": n["id"]})).json()["mail"]["text"]
    assert text.endswith(", увы, нет.") and "{{" not in text
    assert_hh_error(await hh.put(f"/employers/{EMPLOYER}/mail_templates/discard_after_response", headers=h,
                                 json={"text": ""}), 400, "bad_argument")
    assert_hh_error(await hh.get("/employers/999/mail_templates", headers=h), 403, "forbidden")


async def test_archivation_sends_its_webhook_and_allows_only_vacancy_closed(hh: httpx.AsyncClient) -> None:
    h = await bearer(hh)
    r = await hh.post("/webhook/subscriptions", headers=h, json={"url": "http://127.0.0.1:1/hook", "actions": [
        {"type": "VACANCY_ARCHIVATION", "settings": {"vacancies_only_mine": False}}]})
    assert r.status_code == 201, r.text
    n = await _a_response(hh)
    vid = n["vacancy_id"]
    assert (await hh.put(f"/employers/{EMPLOYER}/vacancies/archived/{vid}", headers=h)).status_code == 204
    hooks = (await hh.get("/_sandbox/webhooks")).json()
    sent = [d for d in hooks["deliveries"] if d["action_type"] == "VACANCY_ARCHIVATION"] or hooks.get("pending")
    assert sent
    assert_hh_error(await hh.put(f"/employers/{EMPLOYER}/vacancies/archived/{vid}", headers=h), 403, "vacancies")
    # The archived vacancy's negotiations: only «Вакансия закрыта», which an open vacancy never offers.
    neg = await _neg(hh, h, n["id"])
    assert [a["id"] for a in neg["actions"]] == ["discard_vacancy_closed"]
    assert_hh_error(await hh.put(f"/negotiations/consider/{n['id']}", headers=h), 403, "negotiations",
                    "invalid_vacancy")
    r = await hh.put(f"/negotiations/discard_vacancy_closed/{n['id']}", headers=h, data={"message": "Закрыта."})
    assert r.status_code == 204, r.text
    index = (await hh.get("/negotiations", headers=h, params={"vacancy_id": vid})).json()
    closed = next(c for c in index["collections"] if c["id"] == "discard_vacancy_closed")
    assert closed["counters"]["total"] == 1
    page = (await hh.get(closed["url"].split("hh.test", 1)[-1], headers=h)).json()
    assert [i["id"] for i in page["items"]] == [n["id"]]
    assert page["items"][0]["employer_state"]["name"] == "Вакансия закрыта"
    open_other = next(x for x in (await hh.get("/_sandbox/negotiations")).json()
                      if x["vacancy_id"] != vid and x["employer_state"] == "response")
    assert_hh_error(await hh.put(f"/negotiations/discard_vacancy_closed/{open_other['id']}", headers=h), 403,
                    "negotiations", "invalid_vacancy")
