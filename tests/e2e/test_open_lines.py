"""Chats with applicants in a Bitrix24 Open Line (DESIGN F15, issue 18), through both sandboxes: the line chosen on
«Настройки» activates the «rabota.by» connector; an applicant's message reaches the line once, however often its
webhook comes; an operator's reply reaches the HeadHunter chat once, in plain text, marked delivered, and does
not come back into the line; a chat HeadHunter closed for the employer gets a system message in the line; a portal
without Open Lines is told so."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.e2e.harness import SESSION_META, Driver, second_portal, until

FAST = pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20"})
FAST_POLL = pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20", "POLL_INTERVAL_S": "2"})


async def _sandbox(driver: Driver, base: str, method: str, path: str, **kw: Any) -> Any:
    r = await driver.http.request(method, f"{base}/_sandbox{path}", **kw)
    assert r.status_code < 300, r.text
    return r.json()


async def _hh(driver: Driver, method: str, path: str, **kw: Any) -> Any:
    return await _sandbox(driver, driver.stack.hh_url, method, path, **kw)


async def _b24(driver: Driver, method: str, path: str, **kw: Any) -> Any:
    return await _sandbox(driver, driver.stack.b24_url, method, path, **kw)


async def _dialogue(driver: Driver, chat_id: str) -> dict[str, Any] | None:
    lines = await _b24(driver, "GET", "/portals/demo/openlines")
    return next((d for d in lines["dialogues"] if d["external_id"] == chat_id), None)


async def _line_texts(driver: Driver, chat_id: str, needle: str) -> list[dict[str, Any]]:
    dialogue = await _dialogue(driver, chat_id)
    return [m for m in (dialogue or {}).get("messages", []) if needle in m["text"]]


async def _hh_texts(driver: Driver, chat_id: str, text: str) -> list[dict[str, Any]]:
    chat = await _hh(driver, "GET", f"/chats/{chat_id}")
    return [m for m in chat["messages"] if m["text"] == text]


async def _setup(driver: Driver) -> tuple[str, int]:
    """Portal "demo" connected, settings saved with its first Open Line; a negotiation's chat id and the line."""
    await _hh(driver, "POST", "/reset", json={"negotiations": 4})
    await _hh(driver, "PUT", "/knobs", json={"rate_limit_rps": None})
    await driver.install("demo")
    await driver.open_app("demo")
    assert (await driver.connect_hh()).status_code == 200
    options = (await driver.api("GET", "/options")).json()
    assert [x["name"] for x in options["open_lines"]] == ["Подбор персонала", "Сайт компании"]
    line = options["open_lines"][0]["id"]
    stages = [s["id"] for s in options["lead_stages"]]
    body = {"responsible_id": options["users"][0]["id"], "entity_type": "lead", "smart_process_type_id": None,
            "category_id": None, "extended": False, "stage_map": {"response": stages[0], "invitation": stages[1]},
            "open_line_id": line}
    r = await driver.api("PUT", "/settings", json=body)
    assert r.status_code == 200, r.text
    assert (await driver.api("GET", "/settings")).json()["open_line_id"] == line

    # The connector was registered at install and is active on the chosen line, with its channel data.
    state = await _b24(driver, "GET", "/portals/demo/openlines")
    assert [c["NAME"] for c in state["connectors"]] == ["rabota.by"]
    assert state["connectors"][0]["ICON"]["DATA_IMAGE"].startswith("data:image/svg+xml")
    assert {(a["line"], a["active"]) for a in state["active"]} == {(line, True)}

    async def chat_subscription() -> bool:
        subs = (await _hh(driver, "GET", "/webhooks"))["subscriptions"]
        actions = {a["type"]: a for s in subs for a in s["actions"]}
        return "CHAT_MESSAGE_CREATED" in actions and "NEW_RESPONSE_OR_INVITATION_VACANCY" in actions

    await until("a subscription with the chat action", 30, chat_subscription)
    negotiations = await driver.hh_negotiations()
    return str(negotiations[0]["chat_id"]), line


async def _imported(driver: Driver) -> None:
    assert (await driver.api("POST", "/import")).status_code == 202
    await driver.wait_import()


async def _redeliver(driver: Driver, chat_id: str, message_id: str) -> None:
    """HeadHunter delivers the same webhook again (as it does after a slow answer)."""
    webhooks = await _hh(driver, "GET", "/webhooks")
    sent = next(d for d in webhooks["deliveries"] if d["action_type"] == "CHAT_MESSAGE_CREATED"
                and d["payload"]["message_id"] == message_id and d["ok"])
    body = {k: sent[k] for k in ("id", "subscription_id", "action_type", "user_id", "payload")}
    r = await driver.http.post(sent["url"], json=body)
    assert r.status_code in (200, 409), r.text


@FAST
async def test_a_conversation_both_ways_each_message_once(driver: Driver) -> None:
    chat_id, _line = await _setup(driver)
    await _imported(driver)  # the applicant's lead exists: the dialogue is tied to it

    # Applicant → recruiter, with the webhook delivered twice.
    asked = "Здравствуйте! Когда можно прийти на собеседование?"
    sent = await _hh(driver, "POST", f"/chats/{chat_id}/messages", json={"role": "APPLICANT", "text": asked})
    started = time.monotonic()
    shown = await until("the applicant's message in the Open Line", 30,
                        lambda: _line_texts(driver, chat_id, asked))
    latency = time.monotonic() - started
    await _redeliver(driver, chat_id, sent["id"])
    dialogue = await _dialogue(driver, chat_id)
    assert dialogue is not None
    assert shown[0]["author"] == "client" and shown[0]["external_id"] == sent["id"]
    assert dialogue["client"]["id"] == f"hh-chat-{chat_id}" and dialogue["client"]["name"]
    assert dialogue["name"].startswith("rabota.by: ")

    # Recruiter → applicant: the operator's signature is Bitrix24's BB-code; the applicant reads plain text.
    answer = "Завтра в 10:00, офис на Немиге, 5."
    reply = await _b24(driver, "POST", f"/portals/demo/openlines/chats/{dialogue['chat_id']}/reply",
                       json={"user_id": 1, "text": answer})
    assert [d["status"] for d in reply["deliveries"]] == [200], reply
    posted = await until("the reply in the HeadHunter chat", 30, lambda: _hh_texts(driver, chat_id, answer))
    assert posted[0]["role"] == "EMPLOYER"

    async def delivered() -> bool:
        d = await _dialogue(driver, chat_id)
        return any(m["id"] == reply["message_id"] and m["delivered"] for m in (d or {}).get("messages", []))

    await until("the reply marked delivered in the line", 30, delivered)

    async def read_on_hh() -> bool:
        return bool((await _hh(driver, "GET", f"/chats/{chat_id}"))["read_up_to"] == sent["id"])

    await until("the applicant's message marked read on rabota.by", 30, read_on_hh)

    # The same event again (Bitrix24 retries a slow handler): no second message on HeadHunter.
    event = next(d for d in (await _b24(driver, "GET", "/portals/demo/deliveries"))
                 if d["event"] == "ONIMCONNECTORMESSAGEADD")
    form = dict(httpx.QueryParams(_flatten(event["payload"])))
    r = await driver.http.post(event["url"], data=form)
    assert r.status_code == 200, r.text

    # A later applicant message arrives after our own reply's webhook: the reply never came back into the line.
    later = "Спасибо, буду!"
    await _hh(driver, "POST", f"/chats/{chat_id}/messages", json={"role": "APPLICANT", "text": later})
    await until("the second applicant message", 30, lambda: _line_texts(driver, chat_id, later))
    dialogue = await _dialogue(driver, chat_id)
    assert dialogue is not None
    texts = [(m["author"], m["text"]) for m in dialogue["messages"]]
    assert texts == [("client", asked), ("operator", answer), ("client", later)], texts
    assert len(await _hh_texts(driver, chat_id, answer)) == 1
    assert latency < 3.0, f"applicant message took {latency:.2f}s to reach the line"

    # The dialogue is tied to the applicant's lead once: a timeline comment that opens it.
    negotiation = next(n for n in await driver.hh_negotiations() if str(n["chat_id"]) == chat_id)
    lead = next(x for x in await driver.entities("demo", 1) if x["ORIGIN_ID"] == str(negotiation["id"]))
    comments = (await _b24(driver, "GET", "/portals/demo/openlines"))["timeline_comments"]
    tied = [c for c in comments if "открыть диалог" in c["comment"]]
    assert [(c["entityTypeId"], c["entityId"]) for c in tied] == [(1, int(lead["ID"]))]
    assert f"IM_DIALOG=chat{dialogue['chat_id']}" in tied[0]["comment"]


@FAST
async def test_employer_side_and_refused_writing(driver: Driver) -> None:
    chat_id, _line = await _setup(driver)
    # What the employer wrote on rabota.by itself shows as the responsible operator's, marked; bots are marked.
    await _hh(driver, "POST", f"/chats/{chat_id}/messages", json={"role": "EMPLOYER", "text": "Пришлите портфолио"})
    await _hh(driver, "POST", f"/chats/{chat_id}/messages", json={"role": "BOT", "text": "Вакансия ещё открыта"})
    mine = await until("the employer's message", 30, lambda: _line_texts(driver, chat_id, "Пришлите портфолио"))
    bot = await until("the bot's message", 30, lambda: _line_texts(driver, chat_id, "Вакансия ещё открыта"))
    assert mine[0]["author"] == "operator" and "(на rabota.by)" in mine[0]["text"]
    assert "Бот rabota.by" in bot[0]["text"]

    # HeadHunter closes the chat for the employer: the operator is told in the line, nothing is retried.
    await _hh(driver, "PUT", f"/chats/{chat_id}/employer-write", json={"allowed": False})
    dialogue = await _dialogue(driver, chat_id)
    assert dialogue is not None
    await _b24(driver, "POST", f"/portals/demo/openlines/chats/{dialogue['chat_id']}/reply",
               json={"user_id": 1, "text": "Ответ, который не дойдёт"})
    note = await until("the system message", 30, lambda: _line_texts(driver, chat_id, "rabota.by не принял ответ"))
    assert note[0]["author"] == "system"
    assert not await _hh_texts(driver, chat_id, "Ответ, который не дойдёт")


@FAST_POLL
async def test_a_missed_chat_webhook_is_caught_by_reconciliation(driver: Driver) -> None:
    chat_id, _line = await _setup(driver)
    await _imported(driver)
    await _hh(driver, "PUT", "/knobs", json={"webhooks": False})  # HeadHunter does not guarantee delivery
    text = "Вы получили моё сообщение?"
    await _hh(driver, "POST", f"/chats/{chat_id}/messages", json={"role": "APPLICANT", "text": text})
    shown = await until("the missed message in the line", 120, lambda: _line_texts(driver, chat_id, text))
    assert len(shown) == 1 and shown[0]["author"] == "client"


@FAST
async def test_a_portal_without_open_lines_is_told(driver: Driver) -> None:
    b = await second_portal(driver)
    options = (await b.api("GET", "/options")).json()
    assert options["open_lines"] == []
    settings = (await b.api("GET", "/settings")).json()
    assert settings.get("open_line_id") is None
    r = await b.api("PUT", "/settings", json={**settings, "open_line_id": 1})
    assert r.status_code == 422
    assert r.json()["error"] == "validation_error" and "открытая линия не найдена" in r.json()["message"]
    page = await b.post_frame("/b24/app", await b.frame("simple", "app"))
    assert "На портале нет открытых линий" in page.text

    # An operator's reply event is believed only with the portal's application token, and only for our connector.
    portal = next(p for p in await _b24(driver, "GET", "/portals") if p["code"] == "simple")
    form = {"event": "ONIMCONNECTORMESSAGEADD", "auth[member_id]": portal["member_id"],
            "auth[application_token]": "forged", "data[CONNECTOR]": "rabotaby", "data[LINE]": "1",
            "data[MESSAGES][0][im][chat_id]": "1", "data[MESSAGES][0][im][message_id]": "1",
            "data[MESSAGES][0][message][user_id]": "1", "data[MESSAGES][0][message][text]": "x",
            "data[MESSAGES][0][chat][id]": "5000000001"}
    r = await driver.http.post(f"{driver.stack.public_url}/b24/events", data=form)
    assert r.status_code == 403 and r.json()["error"] == "bad_application_token"
    other = {**form, "auth[application_token]": portal["application_token"], "data[CONNECTOR]": "whatsapp"}
    r = await driver.http.post(f"{driver.stack.public_url}/b24/events", data=other)
    assert r.status_code == 200 and r.json()["forwarded"] == 0


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """A nested event payload as Bitrix24 posts it (`data[MESSAGES][0][im][chat_id]=…`)."""
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)  # type: ignore[assignment]
    else:
        return [(prefix, "" if data is None else str(data))]
    out: list[tuple[str, str]] = []
    for key, value in items:
        out += _flatten(value, f"{prefix}[{key}]" if prefix else str(key))
    return out


@FAST
async def test_the_cards_write_link_opens_the_dialogue_before_any_message_was_forwarded(driver: Driver) -> None:
    """Issue 18 item 6: an imported response's activity has «Написать»; its slider (view "chat") asks
    POST /api/card-chat, which opens the applicant's dialogue in the line with the chat's messages (none had been
    forwarded: webhooks were off) and answers its `chat<ID>`; the dialogue is tied to the lead; the same click again
    answers the same dialogue and forwards nothing."""
    _chat, line = await _setup(driver)
    await _imported(driver)
    negotiations = await driver.hh_negotiations()
    leads = {x["ORIGIN_ID"]: x for x in await driver.entities("demo", 1)}
    with_letter = []
    for n in negotiations:  # a response whose chat opens with the applicant's letter
        head = (await _hh(driver, "GET", f"/chats/{n['chat_id']}"))["messages"]
        if n["kind"] == "response" and str(n["id"]) in leads and any(m["text"] for m in head):
            with_letter.append(n)
    chat_id, lead = str(with_letter[0]["chat_id"]), leads[str(with_letter[0]["id"])]
    await _hh(driver, "PUT", "/knobs", json={"webhooks": False})  # nothing reaches the line by itself
    later = "Добрый день! Есть ли новости по моему отклику?"
    await _hh(driver, "POST", f"/chats/{chat_id}/messages", json={"role": "APPLICANT", "text": later})
    assert await _dialogue(driver, chat_id) is None

    # The activity's «Написать» (a link in its line «Чат») opens the app's slider in view "chat" for this lead.
    activities = [a for a in await _b24(driver, "GET", "/portals/demo/activities")
                  if a["ownerTypeId"] == 1 and a["ownerId"] == int(lead["ID"])]
    assert activities and activities[0]["layout"]["body"]["blocks"]["chat"]["properties"]["block"]["properties"][
        "text"] == "Написать"
    click = await _b24(driver, "POST", f"/portals/demo/activities/{activities[0]['id']}/action",
                       json={"action": "block:chat/block", "user_id": 1})
    assert click["type"] == "openRestApp"
    page = await driver.post_frame("/b24/app", click["frame"])
    assert page.status_code == 200 and '<meta name="rabota-sync-view" content="chat">' in page.text
    assert f'content="1:{lead["ID"]}"' in page.text  # the card Bitrix24 named (entityTypeId:entityId)
    session = SESSION_META.search(page.text)
    assert session
    driver.session = session.group(1)  # the slider's own session asks, as its page does

    r = await driver.api("POST", "/card-chat", json={"entity_type_id": 1, "entity_id": int(lead["ID"])})
    assert r.status_code == 200, r.text
    answer = r.json()
    dialogue = await _dialogue(driver, chat_id)
    assert dialogue is not None and dialogue["line"] == line
    assert answer == {"dialog_id": f"chat{dialogue['chat_id']}", "forwarded": len(dialogue["messages"])}
    on_hh = [m["text"] for m in (await _hh(driver, "GET", f"/chats/{chat_id}"))["messages"] if m["text"]]
    assert [m["text"] for m in dialogue["messages"]] == on_hh and on_hh[-1] == later
    assert {m["author"] for m in dialogue["messages"]} == {"client"}

    # Tied to the lead like a dialogue a webhook opened.
    comments = (await _b24(driver, "GET", "/portals/demo/openlines"))["timeline_comments"]
    assert any(c["entityId"] == int(lead["ID"]) and f"IM_DIALOG=chat{dialogue['chat_id']}" in c["comment"]
               for c in comments)

    # Again: the same dialogue, nothing forwarded twice; and the webhook of that message, delivered late, neither.
    again = await driver.api("POST", "/card-chat", json={"entity_type_id": 1, "entity_id": int(lead["ID"])})
    assert again.json() == {"dialog_id": answer["dialog_id"], "forwarded": 0}
    await _hh(driver, "PUT", "/knobs", json={"webhooks": True})
    await _hh(driver, "POST", f"/chats/{chat_id}/messages", json={"role": "APPLICANT", "text": "Жду ответа"})
    await until("the next message in the same dialogue", 30, lambda: _line_texts(driver, chat_id, "Жду ответа"))
    assert len(await _line_texts(driver, chat_id, later)) == 1

    # A lead the app did not write is refused in Russian.
    other = await driver.api("POST", "/card-chat", json={"entity_type_id": 1, "entity_id": 999999})
    assert other.status_code == 404 and other.json()["error"] == "not_found"
