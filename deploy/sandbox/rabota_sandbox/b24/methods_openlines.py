"""Open Lines and custom connectors (api-reference/imopenlines/ in bitrix24/b24restdocs): imopenlines.config.list.get,
imconnector.register / activate / connector.data.set / send.messages / send.status.delivery / send.status.reading,
imopenlines.crm.chat.get; the OnImConnectorMessageAdd event an operator's reply raises; and the control endpoints
that let a test (or a person on the portal page) play the operator."""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .events import fire_bound
from .openlines import OlChat, OlMessage, OpenLines
from .params import as_list, get_ci, to_int
from .portal import Portal, RestError, SandboxState
from .registry import Ctx, method

CONNECTOR_ID = re.compile(r"^[a-z0-9_]+$")
# name and last_name: letters, spaces, hyphens and apostrophes, at most 25 characters (send.messages docs).
PERSON_NAME = re.compile(r"^[^\W\d_]+(?:[ '\-][^\W\d_]+)*$")
NAME_MAX = 25
LIST_LIMIT_MAX = 200
SYSTEM_USER_BASE = 10_000  # the technical users the connector creates for external clients


def _ol(ctx: Ctx) -> OpenLines:
    return ctx.portal.openlines


def _required(params: dict[str, Any], name: str) -> Any:
    value = get_ci(params, name)
    if value is None or value == "" or value == [] or value == {}:
        raise RestError("ERROR_ARGUMENT", f"Argument '{name}' is null or empty", 400)
    return value


def _connector(ctx: Ctx, params: dict[str, Any]) -> str:
    cid = str(_required(params, "CONNECTOR"))
    if cid not in _ol(ctx).connectors:
        raise RestError("IMCONNECTOR_NO_CORRECT_PROVIDER", "Could not find a suitable provider for the connector",
                        400)
    return cid


def _line(ctx: Ctx, params: dict[str, Any]) -> int:
    line = to_int(_required(params, "LINE"))
    if line is None or line not in _ol(ctx).lines or _ol(ctx).lines[line]["ACTIVE"] != "Y":
        raise RestError("NOT_ACTIVE_LINE", "Line with this ID is inactive or does not exist", 400)
    return line


# ------------------------------------------------------------------------------------- lines
@method("imopenlines.config.list.get")
def m_config_list(ctx: Ctx, params: dict[str, Any]) -> Any:
    sel = get_ci(params, "PARAMS") or {}
    if not isinstance(sel, dict):
        raise RestError("ERROR_ARGUMENT", "PARAMS must be an object", 400)
    limit = to_int(sel.get("limit")) if sel.get("limit") is not None else 50
    offset = to_int(sel.get("offset")) if sel.get("offset") is not None else 0
    if limit is None or not 1 <= limit <= LIST_LIMIT_MAX or offset is None or offset < 0:
        raise RestError("ERROR_ARGUMENT", "limit must be 1..200 and offset non-negative", 400)
    flt = sel.get("filter") or {}
    rows = [dict(r) for _, r in sorted(_ol(ctx).lines.items())]
    if isinstance(flt, dict):
        for key, value in flt.items():
            rows = [r for r in rows if str(r.get(str(key).upper())) == str(value)]
    select = [str(s).upper() for s in as_list(sel.get("select"))]
    if select:
        rows = [{k: v for k, v in r.items() if k in select} for r in rows]
    return rows[offset:offset + limit]


# ------------------------------------------------------------------------------------- connector
def _icon(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not value.get("DATA_IMAGE"):
        raise RestError("ERROR_ARGUMENT", f"Argument '{name}' must hold DATA_IMAGE", 400)
    return dict(value)


@method("imconnector.register")
def m_register(ctx: Ctx, params: dict[str, Any]) -> Any:
    cid = str(_required(params, "ID"))
    if not CONNECTOR_ID.match(cid):
        raise RestError("ERROR_ARGUMENT", "ID may hold only lowercase letters, digits and underscores", 400)
    name = str(_required(params, "NAME"))
    icon = _icon(_required(params, "ICON"), "ICON")
    handler = str(_required(params, "PLACEMENT_HANDLER"))
    disabled = get_ci(params, "ICON_DISABLED")
    _ol(ctx).connectors[cid] = {
        "ID": cid, "NAME": name, "ICON": icon, "PLACEMENT_HANDLER": handler,
        "ICON_DISABLED": _icon(disabled, "ICON_DISABLED") if disabled else None,
        "NEED_SIGNATURE": str(get_ci(params, "NEED_SIGNATURE") or "Y").upper() != "N",
        "CHAT_GROUP": str(get_ci(params, "CHAT_GROUP") or "Y").upper(),
    }
    return {"result": True}


@method("imconnector.activate")
def m_activate(ctx: Ctx, params: dict[str, Any]) -> Any:
    cid = _connector(ctx, params)
    line = _line(ctx, params)
    flag = get_ci(params, "ACTIVE")
    if flag is None:
        raise RestError("ERROR_ARGUMENT", "Argument 'ACTIVE' is null or empty", 400)
    _ol(ctx).active[(cid, line)] = str(flag) not in ("", "0", "N", "n")
    return True


@method("imconnector.connector.data.set")
def m_data_set(ctx: Ctx, params: dict[str, Any]) -> Any:
    cid = _connector(ctx, params)
    line = _line(ctx, params)
    data = _required(params, "DATA")
    if not isinstance(data, dict):
        raise RestError("ERROR_ARGUMENT", "Argument 'DATA' must be an object", 400)
    _ol(ctx).data[(cid, line)] = {k: str(v) for k, v in data.items() if k in ("ID", "URL", "URL_IM", "NAME")}
    return True


def _active_connector(ctx: Ctx, params: dict[str, Any]) -> tuple[str, int]:
    cid = _connector(ctx, params)
    line = _line(ctx, params)
    if not _ol(ctx).active.get((cid, line)):
        raise RestError("CONNECTOR_NOT_ACTIVE", "The connector is not active on this line", 400)
    return cid, line


def _messages(params: dict[str, Any]) -> list[Any]:
    raw = get_ci(params, "MESSAGES")
    if raw is None or raw == "" or raw == []:
        raise RestError("ERROR_ARGUMENT", "Argument 'MESSAGES' is null or empty", 400)
    if not isinstance(raw, list | dict):
        raise RestError("ERROR_ARGUMENT", "The value of an argument 'MESSAGES' must be of type array", 400)
    items = as_list(raw)
    if not all(isinstance(m, dict) for m in items):
        raise RestError("100", "The MESSAGES parameter must be an array of messages (arrays)", 400)
    return items


def _check_user(user: Any) -> dict[str, Any]:
    if not isinstance(user, dict) or not str(user.get("id") or ""):
        raise RestError("IMCONNECTOR_NOT_ALL_THE_REQUIRED_DATA", "Not all required data has been provided", 400)
    for key in ("name", "last_name"):
        value = user.get(key)
        if value in (None, ""):
            continue
        text = str(value)
        if len(text) > NAME_MAX or not PERSON_NAME.match(text):
            raise RestError("IMCONNECTOR_NOT_ALL_THE_REQUIRED_DATA",
                            f"user.{key} may hold letters, spaces, hyphens and apostrophes, at most 25", 400)
    return dict(user)


def _check_message(item: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    user = _check_user(item.get("user"))
    message = item.get("message")
    chat = item.get("chat")
    if not isinstance(message, dict) or not isinstance(chat, dict) or not str(chat.get("id") or ""):
        raise RestError("100", "The incorrect structure of a message inside the MESSAGES parameter.", 400)
    files = as_list(message.get("files"))
    if not str(message.get("text") or "").strip() and not files:
        raise RestError("IMCONNECTOR_NOT_ALL_THE_REQUIRED_DATA", "Not all required data has been provided", 400)
    if any(not isinstance(f, dict) or not f.get("url") for f in files):
        raise RestError("IMCONNECTOR_NOT_ALL_THE_REQUIRED_DATA", "Each file needs a url", 400)
    return user, message, chat


def _dialogue(ctx: Ctx, cid: str, line: int, user: dict[str, Any], chat: dict[str, Any]) -> OlChat:
    ol = _ol(ctx)
    key = (cid, line, str(chat["id"]))
    chat_id = ol.by_external.get(key)
    if chat_id is None:
        uid = ol.client_users.setdefault((cid, str(user["id"])), SYSTEM_USER_BASE + len(ol.client_users) + 1)
        chat_id = ol.new_id()
        ol.chats[chat_id] = OlChat(chat_id, ol.new_id(), line, cid, str(chat["id"]), str(chat.get("name") or ""),
                                   str(chat.get("url") or ""), user, uid)
        ol.by_external[key] = chat_id
    dialogue = ol.chats[chat_id]
    dialogue.client = user
    if chat.get("name"):
        dialogue.name = str(chat["name"])
    return dialogue


@method("imconnector.send.messages")
def m_send_messages(ctx: Ctx, params: dict[str, Any]) -> Any:
    """Messages from the external channel into the line: the client's (or, with `message.user_id`, an
    operator's on their behalf). Bitrix24 does not deduplicate by `message.id`: the same message sent twice
    shows twice."""
    cid, line = _active_connector(ctx, params)
    checked = [_check_message(item) for item in _messages(params)]
    results = []
    for user, message, chat in checked:
        dialogue = _dialogue(ctx, cid, line, user, chat)
        operator = to_int(message.get("user_id"))
        if operator is not None and operator not in ctx.portal.users:
            raise RestError("ERROR_ARGUMENT", "message.user_id is not a portal user", 400)
        msg = OlMessage(_ol(ctx).new_id(), "operator" if operator else "client",
                        operator or dialogue.client_user_id, str(message.get("text") or ""),
                        str(message.get("id") or "") or None, float(to_int(message.get("date")) or time.time()),
                        [dict(f) for f in as_list(message.get("files"))])
        dialogue.messages.append(msg)
        results.append({"user": str(dialogue.client_user_id),
                        "message": {"id": msg.external_id, "date": {}, "text": msg.text, "files": msg.files},
                        "chat": {"id": dialogue.external_id, "name": dialogue.name},
                        "SUCCESS": True,
                        "session": {"ID": str(dialogue.session_id), "CHAT_ID": str(dialogue.chat_id)}})
    return {"SUCCESS": True, "DATA": {"RESULT": results}}


def _status(ctx: Ctx, params: dict[str, Any], attr: str) -> Any:
    _active_connector(ctx, params)
    for item in _messages(params):
        im = item.get("im")
        message = item.get("message")
        if not isinstance(im, dict) or not isinstance(message, dict):
            raise RestError("100", "The incorrect structure of a message inside the MESSAGES parameter.", 400)
        dialogue = _ol(ctx).chats.get(to_int(im.get("chat_id")) or 0)
        if dialogue is None:
            continue
        ids = as_list(message.get("id"))
        for msg in dialogue.messages:
            if msg.id == to_int(im.get("message_id")):
                setattr(msg, attr, True)
                if ids and msg.external_id is None:
                    msg.external_id = str(ids[0])
    return {"SUCCESS": True, "DATA": []}


@method("imconnector.send.status.delivery")
def m_status_delivery(ctx: Ctx, params: dict[str, Any]) -> Any:
    # "when processing the delivered status, the message is also marked as read"
    _status(ctx, params, "read")
    return _status(ctx, params, "delivered")


@method("imconnector.send.status.reading")
def m_status_reading(ctx: Ctx, params: dict[str, Any]) -> Any:
    return _status(ctx, params, "read")


@method("im.message.add")
def m_message_add(ctx: Ctx, params: dict[str, Any]) -> Any:
    """Only the Open Line chats (`chat{id}`) of this sandbox; `SYSTEM=Y` makes a system message."""
    dialog = str(get_ci(params, "DIALOG_ID") or "")
    text = str(get_ci(params, "MESSAGE") or "").strip()
    if not text and not get_ci(params, "ATTACH"):
        raise RestError("MESSAGE_EMPTY", "Message can't be empty", 400)
    if not dialog:
        raise RestError("USER_ID_EMPTY", "User ID can't be empty", 400)
    chat_id = to_int(dialog[4:]) if dialog.startswith("chat") else None
    dialogue = _ol(ctx).chats.get(chat_id or 0)
    if dialogue is None:
        raise RestError("CHAT_ID", "Error creating message", 400)
    system = str(get_ci(params, "SYSTEM") or "N").upper() == "Y"
    msg = OlMessage(_ol(ctx).new_id(), "system" if system else "operator", ctx.user_id, text, None, time.time())
    dialogue.messages.append(msg)
    return msg.id


# ------------------------------------------------------------------------------------- control
def dialogue_json(portal: Portal, d: OlChat) -> dict[str, Any]:
    def who(m: OlMessage) -> str:
        if m.author == "operator" and m.user_id in portal.users:
            u = portal.users[m.user_id]
            return f"{u.name} {u.last_name}"
        if m.author == "system":
            return "Система"
        return " ".join(str(d.client.get(k) or "") for k in ("name", "last_name")).strip() or "Клиент"

    return {"chat_id": d.chat_id, "session_id": d.session_id, "line": d.line, "connector": d.connector,
            "external_id": d.external_id, "name": d.name, "client": d.client,
            "messages": [{"id": m.id, "author": m.author, "user_id": m.user_id, "who": who(m), "text": m.text,
                          "external_id": m.external_id, "files": m.files, "delivered": m.delivered,
                          "read": m.read, "date": m.date} for m in d.messages]}


def reply_event(portal: Portal, d: OlChat, user_id: int, text: str) -> tuple[OlMessage, dict[str, Any]]:
    """An operator writes in the dialogue: the message, and the ONIMCONNECTORMESSAGEADD data Bitrix24 sends the
    connector's app (the operator's signature as BB-code first, when the connector takes signatures)."""
    user = portal.users[user_id]
    connector = portal.openlines.connectors.get(d.connector, {})
    shown = f"[b]{user.name} {user.last_name}:[/b] [br]{text}" if connector.get("NEED_SIGNATURE", True) else text
    msg = OlMessage(portal.openlines.new_id(), "operator", user_id, text, None, time.time())
    d.messages.append(msg)
    data = {"CONNECTOR": d.connector, "LINE": d.line,
            "MESSAGES": [{"im": {"chat_id": d.chat_id, "message_id": msg.id},
                          "message": {"user_id": user_id, "text": shown},
                          "chat": {"id": d.external_id}}]}
    return msg, data


def build_control_router(state: SandboxState) -> APIRouter:
    router = APIRouter(prefix="/_sandbox")

    @router.get("/portals/{code}/openlines")
    async def openlines(code: str) -> Any:
        p = state.portals.get(code)
        if p is None:
            return JSONResponse({"detail": "no such portal"}, status_code=404)
        ol = p.openlines
        return {"lines": list(ol.lines.values()), "connectors": list(ol.connectors.values()),
                "active": [{"connector": c, "line": line, "active": a} for (c, line), a in ol.active.items()],
                "data": [{"connector": c, "line": line, **v} for (c, line), v in ol.data.items()],
                "dialogues": [dialogue_json(p, d) for d in ol.chats.values()],
                "timeline_comments": list(p.comments)}

    @router.post("/portals/{code}/openlines/lines")
    async def set_lines(code: str, request: Request) -> Any:
        """`{"lines": [{"id", "name"}]}` replaces the portal's lines (an empty list: no Open Lines)."""
        p = state.portals.get(code)
        if p is None:
            return JSONResponse({"detail": "no such portal"}, status_code=404)
        body = await request.json()
        p.openlines.lines = {int(x["id"]): {"ID": str(x["id"]), "LINE_NAME": str(x["name"]), "ACTIVE": "Y"}
                             for x in body.get("lines") or []}
        return {"ok": True}

    @router.post("/portals/{code}/openlines/chats/{chat_id}/reply")
    async def reply(code: str, chat_id: int, request: Request) -> Any:
        """An operator answers in a dialogue: `{"user_id", "text"}`; the event goes to the bound handlers."""
        p = state.portals.get(code)
        if p is None or chat_id not in p.openlines.chats:
            return JSONResponse({"detail": "no such portal or dialogue"}, status_code=404)
        body = await request.json()
        user_id = int(body.get("user_id") or 1)
        text = str(body.get("text") or "")
        if user_id not in p.users or not text:
            return JSONResponse({"detail": "user_id must be a portal user and text non-empty"}, status_code=400)
        msg, data = reply_event(p, p.openlines.chats[chat_id], user_id, text)
        deliveries = await fire_bound(state, p, "ONIMCONNECTORMESSAGEADD", data, user_id)
        return {"message_id": msg.id,
                "deliveries": [{k: r[k] for k in ("url", "event", "status", "error")} for r in deliveries]}

    return router
