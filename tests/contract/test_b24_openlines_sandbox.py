"""Contract tests of the Bitrix24 emulator's Open Lines and custom connectors (api-reference/imopenlines/ in
bitrix24/b24restdocs: imopenlines.config.list.get, imconnector.register, .activate, .connector.data.set,
.send.messages, .send.status.delivery; im.message.add; the ONIMCONNECTORMESSAGEADD event)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.contract.test_b24_sandbox import call, ok, sb, token

__all__ = ["sb"]

ICON = {"DATA_IMAGE": "data:image/svg+xml;charset=US-ASCII,%3Csvg%2F%3E"}


def _error(r: httpx.Response, code: str) -> None:
    assert r.status_code == 400, r.text
    assert r.json()["error"] == code, r.text


def _msg(text: str = "Hi", chat: str = "ext-1", **user: Any) -> dict[str, Any]:
    return {"user": {"id": "u-1", **user}, "message": {"id": "m-1", "date": 1773265993, "text": text},
            "chat": {"id": chat, "name": "Channel"}}


async def test_lines_and_connector_lifecycle(sb: httpx.AsyncClient) -> None:
    auth = await token(sb)
    lines = (await ok(sb, "imopenlines.config.list.get", {}, auth))["result"]
    assert [x["LINE_NAME"] for x in lines] == ["Подбор персонала", "Сайт компании"]
    assert (await ok(sb, "imopenlines.config.list.get", {}, await token(sb, "simple"), "simple"))["result"] == []

    _error(await call(sb, "imconnector.register", {"ID": "rabotaby", "NAME": "rabota.by"}, auth), "ERROR_ARGUMENT")
    _error(await call(sb, "imconnector.register", {"ID": "Rabota.By", "NAME": "x", "ICON": ICON,
                                                   "PLACEMENT_HANDLER": "https://app/x"}, auth), "ERROR_ARGUMENT")
    await ok(sb, "imconnector.register", {"ID": "rabotaby", "NAME": "rabota.by", "ICON": ICON,
                                          "PLACEMENT_HANDLER": "https://app/x"}, auth)
    send = {"CONNECTOR": "rabotaby", "LINE": 1, "MESSAGES": [_msg()]}
    _error(await call(sb, "imconnector.send.messages", send, auth), "CONNECTOR_NOT_ACTIVE")
    _error(await call(sb, "imconnector.activate", {"CONNECTOR": "other", "LINE": 1, "ACTIVE": "1"}, auth),
           "IMCONNECTOR_NO_CORRECT_PROVIDER")
    _error(await call(sb, "imconnector.activate", {"CONNECTOR": "rabotaby", "LINE": 9, "ACTIVE": "1"}, auth),
           "NOT_ACTIVE_LINE")
    _error(await call(sb, "imconnector.activate", {"CONNECTOR": "rabotaby", "LINE": 1}, auth), "ERROR_ARGUMENT")
    await ok(sb, "imconnector.activate", {"CONNECTOR": "rabotaby", "LINE": 1, "ACTIVE": "1"}, auth)
    _error(await call(sb, "imconnector.connector.data.set", {"CONNECTOR": "rabotaby", "LINE": 1}, auth),
           "ERROR_ARGUMENT")

    result = (await ok(sb, "imconnector.send.messages", send, auth))["result"]
    item = result["DATA"]["RESULT"][0]
    assert result["SUCCESS"] is True and item["SUCCESS"] is True and item["session"]["CHAT_ID"]
    # Bitrix24 does not deduplicate: the same external message twice shows twice.
    await ok(sb, "imconnector.send.messages", send, auth)
    state = (await sb.get("/_sandbox/portals/demo/openlines")).json()
    assert [m["text"] for m in state["dialogues"][0]["messages"]] == ["Hi", "Hi"]

    for bad in ([_msg(text="")], [_msg(name="R2D2")], [_msg(name="x" * 26)], [{"user": {"id": "u"}}], []):
        r = await call(sb, "imconnector.send.messages", {**send, "MESSAGES": bad}, auth)
        assert r.status_code == 400, (bad, r.text)


async def test_operator_reply_event_and_delivery_status(sb: httpx.AsyncClient) -> None:
    auth = await token(sb)
    await ok(sb, "imconnector.register", {"ID": "rabotaby", "NAME": "rabota.by", "ICON": ICON,
                                          "PLACEMENT_HANDLER": "https://app/x"}, auth)
    await ok(sb, "imconnector.activate", {"CONNECTOR": "rabotaby", "LINE": 1, "ACTIVE": "Y"}, auth)
    sent = (await ok(sb, "imconnector.send.messages", {"CONNECTOR": "rabotaby", "LINE": 1, "MESSAGES": [_msg()]},
                     auth))["result"]
    chat_id = int(sent["DATA"]["RESULT"][0]["session"]["CHAT_ID"])
    r = await sb.post(f"/_sandbox/portals/demo/openlines/chats/{chat_id}/reply", json={"user_id": 1, "text": "Ответ"})
    assert r.status_code == 200, r.text
    message_id = r.json()["message_id"]
    await ok(sb, "imconnector.send.status.delivery", {
        "CONNECTOR": "rabotaby", "LINE": 1,
        "MESSAGES": [{"im": {"chat_id": chat_id, "message_id": message_id}, "message": {"id": ["hh-9"]},
                      "chat": {"id": "ext-1"}}]}, auth)
    await ok(sb, "im.message.add", {"DIALOG_ID": f"chat{chat_id}", "MESSAGE": "Системное", "SYSTEM": "Y"}, auth)
    _error(await call(sb, "im.message.add", {"DIALOG_ID": "chat999", "MESSAGE": "x"}, auth), "CHAT_ID")
    _error(await call(sb, "im.message.add", {"DIALOG_ID": f"chat{chat_id}"}, auth), "MESSAGE_EMPTY")
    dialogue = (await sb.get("/_sandbox/portals/demo/openlines")).json()["dialogues"][0]
    reply = next(m for m in dialogue["messages"] if m["id"] == message_id)
    assert reply["delivered"] and reply["read"] and reply["external_id"] == "hh-9"
    assert dialogue["messages"][-1]["author"] == "system"


async def test_the_portal_page_shows_dialogues(sb: httpx.AsyncClient) -> None:
    auth = await token(sb)
    await ok(sb, "imconnector.register", {"ID": "rabotaby", "NAME": "rabota.by", "ICON": ICON,
                                          "PLACEMENT_HANDLER": "https://app/x"}, auth)
    await ok(sb, "imconnector.activate", {"CONNECTOR": "rabotaby", "LINE": 1, "ACTIVE": "1"}, auth)
    sent = (await ok(sb, "imconnector.send.messages", {"CONNECTOR": "rabotaby", "LINE": 1,
                                                       "MESSAGES": [_msg("<b>Когда</b> собеседование?")]},
                     auth))["result"]
    chat_id = sent["DATA"]["RESULT"][0]["session"]["CHAT_ID"]
    page = await sb.get("/portal/demo/openlines/")
    assert page.status_code == 200
    assert "&lt;b&gt;Когда&lt;/b&gt; собеседование?" in page.text and 'id="ol-reply"' in page.text
    r = await sb.get("/online/", params={"IM_DIALOG": f"chat{chat_id}"}, follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == f"/portal/demo/openlines/?chat={chat_id}"
    assert (await sb.get("/online/", params={"IM_DIALOG": "chat999"})).status_code == 404
    empty = await sb.get("/portal/simple/openlines/")
    assert "на портале нет открытых линий" in empty.text
