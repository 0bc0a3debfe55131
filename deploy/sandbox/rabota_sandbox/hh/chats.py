"""The chats API (`/common/chats`, the newer OpenAPI's «Чаты» tag) and its webhooks.

Modelled on the operations `get-chat-list`, `get-chat-messages`, `chat-message-post`,
`set-last-viewed-message` and `set-write-possibility-common` and the schemas `ChatsCommonChatBasic`,
`ChatsCommonMessagesResponse`, `ChatsCommonMessage`, `ChatsCommonSenderDisplayInfo` and
`ChatsCommonMessagePostText` (text and a UUID idempotency key, both required). Every negotiation has a chat
(`chat_id` of the negotiation); it exists here from its first request or message, and opens with the
negotiation's head (data.chat_head: the applicant's letter, the employer's invitation or the auto-invite bot's
message, already read; message types `SIMPLE`, `PARTICIPANT_JOINED`, `PARTICIPANT_LEFT`). `chat_states` is an
opaque object in the spec: the sandbox puts the employer's and the applicant's write possibility in it
(`{"write_possibility": {"name": "ENABLED_FOR_ALL" | "DISABLED_FOR_EMPLOYER" | ..., "write_disabled_reasons"}}`,
the form HeadHunter's own site uses); a POST while the employer may not write answers 403
`{"type": "chats", "value": "write_disabled"}`."""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from .data import Negotiation, chat_head, iso
from .errors import HHError, bad_argument, not_found, request_id_of
from .events import CHAT_ID_BASE
from .oauth import authenticate, get_state
from .state import SandboxState
from .webhooks import emit, json_object

router = APIRouter()

CHAT_BASE = CHAT_ID_BASE
MAX_TEXT = 4096
MAX_LIMIT = 100
MAX_VACANCY_FILTER = 100
MESSAGE_TYPES = ("SIMPLE", "PARTICIPANT_LEFT", "PARTICIPANT_JOINED")
ROLES = ("APPLICANT", "EMPLOYER", "BOT")


@dataclass
class ChatMessage:
    id: str
    sender: str  # participant id
    role: str  # APPLICANT | EMPLOYER | BOT
    name: str
    text: str
    created_at: float
    automated: bool = False
    viewed_by_opponent: bool = False
    type: str = "SIMPLE"  # SIMPLE | PARTICIPANT_JOINED | PARTICIPANT_LEFT


@dataclass
class Chat:
    id: str
    negotiation_id: str
    vacancy_id: str
    created_at: float
    messages: list[ChatMessage] = field(default_factory=list)
    idempotency: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (text, message id)
    applicant_may_write: bool = True
    employer_may_write: bool = True
    read_up_to: str | None = None  # the employer's last viewed message

    def write_possibility(self) -> dict[str, Any]:
        if self.applicant_may_write and self.employer_may_write:
            name, reasons = "ENABLED_FOR_ALL", []
        elif not self.employer_may_write:
            name, reasons = "DISABLED_FOR_EMPLOYER", ["CHAT_ARCHIVED"]
        else:
            name, reasons = "DISABLED_FOR_APPLICANT", ["EMPLOYER_FORBADE"]
        return {"name": name, "write_disabled_reasons": reasons}


def chat_id_of(neg: Negotiation) -> str:
    return str(CHAT_BASE + int(neg.id))


def chats(state: SandboxState) -> dict[str, Chat]:
    return state.chats


def ensure_chat(state: SandboxState, neg: Negotiation) -> Chat:
    table = chats(state)
    cid = chat_id_of(neg)
    chat = table.get(cid)
    if chat is None:
        chat = Chat(cid, neg.id, neg.vacancy_id, neg.created_at)
        for index, (type_, role, text) in enumerate(chat_head(neg)):
            sender, name = participant(state, neg, role)
            # The head's ids follow the chat's id (apart from the counter of later messages).
            chat.messages.append(ChatMessage(str(int(cid) * 10 + index + 1), sender, role, name, text,
                                             neg.created_at + index, viewed_by_opponent=True, type=type_))
        chat.read_up_to = chat.messages[-1].id if chat.messages else None
        table[cid] = chat
        vacancy = state.store.vacancies[neg.vacancy_id]
        emit(state, "CHAT_CREATED", vacancy, {"chat_id": cid, "creation_time": iso(chat.created_at)})
    return chat


def _negotiation_of_chat(state: SandboxState, chat_id: str) -> Negotiation | None:
    if not chat_id.isdigit() or int(chat_id) <= CHAT_BASE:
        return None
    return state.store.negotiations.get(str(int(chat_id) - CHAT_BASE))


def _applicant_name(state: SandboxState, neg: Negotiation) -> str:
    resume = state.store.resumes[neg.resume_id]
    if resume.variant != "normal":
        return "Соискатель"
    details = state.store.details(resume)
    return f"{details.first_name} {details.last_name}"


def participant(state: SandboxState, neg: Negotiation, role: str, manager_id: str | None = None) -> tuple[str, str]:
    """(participant id, display name) of a side of the chat."""
    if role == "APPLICANT":
        return f"{neg.resume_id[:8]}-APPLICANT_USER", _applicant_name(state, neg)
    if role == "BOT":
        return "1-BOT", "Помощник rabota.by"
    manager = state.store.managers.get(manager_id or state.store.vacancies[neg.vacancy_id].manager_id)
    name = f"{manager.first_name} {manager.last_name}" if manager else "Работодатель"
    mid = manager.id if manager else "0"
    return f"{mid}-EMPLOYER_USER", name


def add_message(state: SandboxState, neg: Negotiation, role: str, text: str, manager_id: str | None = None,
                automated: bool = False) -> ChatMessage:
    """A message in the negotiation's chat and its CHAT_MESSAGE_CREATED webhook (`is_current_participant` is
    seen from the subscriber, a manager: true for the employer side's own messages)."""
    chat = ensure_chat(state, neg)
    sender, name = participant(state, neg, role, manager_id)
    mid = str(state.next_chat_message_id)
    state.next_chat_message_id += 1
    msg = ChatMessage(mid, sender, role, name, text, time.time(), automated)
    chat.messages.append(msg)
    emit(state, "CHAT_MESSAGE_CREATED", state.store.vacancies[neg.vacancy_id], {
        "chat_id": chat.id, "message_id": mid, "message_type": "SIMPLE", "sender_participant_id": sender,
        "is_current_participant": role == "EMPLOYER", "creation_time": iso(msg.created_at), "role": role})
    return msg


def message_json(msg: ChatMessage, current: str | None) -> dict[str, Any]:
    return {
        "id": msg.id,
        "creation_time": iso(msg.created_at),
        "last_change_time": None,
        "can_edit": msg.sender == current,
        "sender_participant_id": msg.sender,
        "sender_display_info": {"name": msg.name, "is_current_participant": msg.sender == current,
                                "icon": None, "role": msg.role},
        "type": msg.type,
        "payload": {"text": msg.text, "attachments": None, "moved_participant": None} if msg.type == "SIMPLE" else
        {"text": None, "attachments": None, "moved_participant": {"role": msg.role, "name": msg.name}},
        "viewed_by_opponent": msg.viewed_by_opponent,
    }


def chat_basic(state: SandboxState, chat: Chat) -> dict[str, Any]:
    vacancy = state.store.vacancies[chat.vacancy_id]
    unread = 0
    for msg in reversed(chat.messages):
        if msg.id == chat.read_up_to:
            break
        if msg.role != "EMPLOYER":
            unread += 1
    return {
        "id": chat.id,
        "display": {"title": vacancy.name, "icon": None},
        "creation_time": iso(chat.created_at),
        "unread_message_count": unread,
        "muted": False,
        "block_reason": None,
        "type": "NEGOTIATION",
    }


def _ok(request: Request, body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"X-Request-Id": request_id_of(request)})


def _visible_chat(request: Request, chat_id: str) -> tuple[SandboxState, Chat, Negotiation, str]:
    """The chat, if the token's manager may see its vacancy; the manager's participant id."""
    state = get_state(request)
    _, user = authenticate(request)
    assert user is not None
    neg = _negotiation_of_chat(state, chat_id)
    if neg is None or not state.store.user_can_see_vacancy(user, state.store.vacancies[neg.vacancy_id]):
        raise not_found("chats", "chat_not_found")
    chat = ensure_chat(state, neg)
    return state, chat, neg, f"{user.manager_id}-EMPLOYER_USER"


def _bool_arg(request: Request, name: str) -> bool | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise bad_argument(name, f"{name} must be true or false")
    return value == "true"


def _int_arg(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad_argument(name) from exc
    if not low <= value <= high:
        raise bad_argument(name, f"{name} must be between {low} and {high}")
    return value


@router.get("/common/chats")
async def list_chats(request: Request) -> JSONResponse:
    state = get_state(request)
    _, user = authenticate(request)
    assert user is not None
    unread_only = _bool_arg(request, "filter_unread")
    text_only = _bool_arg(request, "filter_has_text_message")
    vacancy_ids = request.query_params.getlist("filter_with_vacancy_ids")
    if len(vacancy_ids) > MAX_VACANCY_FILTER:
        raise bad_argument("filter_with_vacancy_ids", f"at most {MAX_VACANCY_FILTER} vacancies")
    page = _int_arg(request, "page", 0, 0, 10_000)
    per_page = _int_arg(request, "per_page", 20, 1, 100)
    items = []
    for chat in sorted(chats(state).values(), key=lambda c: c.messages[-1].created_at if c.messages else 0,
                       reverse=True):
        if not state.store.user_can_see_vacancy(user, state.store.vacancies[chat.vacancy_id]):
            continue
        if vacancy_ids and chat.vacancy_id not in vacancy_ids:
            continue
        row = chat_basic(state, chat)
        if unread_only and not row["unread_message_count"]:
            continue
        if text_only and not chat.messages:
            continue
        items.append(row)
    return _ok(request, {"items": items[page * per_page:(page + 1) * per_page], "found": len(items),
                         "page": page, "per_page": per_page, "pages": math.ceil(len(items) / per_page)})


@router.get("/common/chats/{chat}/messages")
async def chat_messages(chat: str, request: Request) -> JSONResponse:
    state, room, _neg, me = _visible_chat(request, chat)
    order = request.query_params.get("order") or "prev"
    if order not in ("next", "prev"):
        raise bad_argument("order", "order must be next or prev")
    limit = _int_arg(request, "limit", 20, 1, MAX_LIMIT)
    start = request.query_params.get("start_message_id")
    ids = [m.id for m in room.messages]
    if start is not None:
        if start not in ids:
            raise bad_argument("start_message_id", "no such message in the chat")
        at = ids.index(start)
    else:
        at = 0 if order == "next" else len(ids) - 1
    if order == "next":
        picked = room.messages[at:at + limit]
        more = at + limit < len(ids)
    else:
        low = max(0, at - limit + 1)
        picked = room.messages[low:at + 1]
        more = low > 0
    body = chat_basic(state, room)
    body.update({"has_more": more, "messages": [message_json(m, me) for m in picked],
                 "chat_states": {"write_possibility": room.write_possibility()}, "vacancy_id": room.vacancy_id})
    return _ok(request, body)


async def _json_body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise bad_argument("body", "the body must be application/json")
    return await json_object(request)


def _idempotency_key(body: dict[str, Any]) -> str:
    key = body.get("idempotency_key")
    if not isinstance(key, str) or not key:
        raise bad_argument("idempotency_key", "idempotency_key is required")
    try:
        uuid.UUID(key)
    except ValueError as exc:
        raise bad_argument("idempotency_key", "idempotency_key must be a UUID") from exc
    return key


def _post_text(body: dict[str, Any]) -> str:
    if "file_upload_ids" in body:
        raise bad_argument("file_upload_ids", "files are not supported by the sandbox; send text")
    unknown = sorted(set(body) - {"text", "idempotency_key", "is_automated"})
    if unknown:
        raise bad_argument(unknown[0], "unknown field")
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise HHError(400, [{"type": "chats", "value": "empty_message"}], "Bad Request")
    if len(text) > MAX_TEXT:
        raise HHError(400, [{"type": "chats", "value": "too_long_message"}], "Bad Request")
    automated = body.get("is_automated")
    if automated is not None and not isinstance(automated, bool):
        raise bad_argument("is_automated")
    return text


@router.post("/common/chats/{chat_id}/messages", status_code=201)
async def post_message(chat_id: str, request: Request) -> JSONResponse:
    """`chat-message-post`: text (or uploaded file ids) with a UUID idempotency key. The same key with the same
    text gives the message made the first time; the same key with another text is refused."""
    state, chat, neg, me = _visible_chat(request, chat_id)
    body = await _json_body(request)
    key = _idempotency_key(body)
    text = _post_text(body)
    seen = chat.idempotency.get(key)
    if seen is not None:
        if seen[0] != text:
            raise HHError(400, [{"type": "chats", "value": "idempotency_key_conflict"}], "Bad Request")
        msg = next(m for m in chat.messages if m.id == seen[1])
        return _ok(request, message_json(msg, me), 201)
    if not chat.employer_may_write:
        raise HHError(403, [{"type": "chats", "value": "write_disabled"}], "Forbidden")
    manager_id = me.split("-", 1)[0]
    msg = add_message(state, neg, "EMPLOYER", text, manager_id, bool(body.get("is_automated")))
    chat.idempotency[key] = (text, msg.id)
    return _ok(request, message_json(msg, me), 201)


@router.put("/common/chats/{chat_id}/message/{message_id}/read", status_code=204, response_model=None)
async def mark_read(chat_id: str, message_id: str, request: Request) -> Response:
    _state, chat, _neg, _me = _visible_chat(request, chat_id)
    if message_id not in {m.id for m in chat.messages}:
        raise not_found("chats", "message_not_found")
    chat.read_up_to = message_id
    return Response(status_code=204, headers={"X-Request-Id": request_id_of(request)})


@router.put("/common/chats/{chat_id}/write_possibility", status_code=204, response_model=None)
async def write_possibility(chat_id: str, request: Request) -> Response:
    _state, chat, _neg, _me = _visible_chat(request, chat_id)
    body = await _json_body(request)
    allowed = body.get("applicant_write_possibility")
    if not isinstance(allowed, bool):
        raise bad_argument("applicant_write_possibility", "applicant_write_possibility must be a boolean")
    chat.applicant_may_write = allowed
    return Response(status_code=204, headers={"X-Request-Id": request_id_of(request)})


# -- sandbox control ---------------------------------------------------------------------------------------


def _control_chat(state: SandboxState, chat_id: str) -> Negotiation:
    """The negotiation of a chat a control route names, or the control API's 404."""
    neg = _negotiation_of_chat(state, chat_id)
    if neg is None:
        raise HTTPException(status_code=404, detail="no such chat")
    return neg


def control_router() -> APIRouter:
    ctl = APIRouter(prefix="/_sandbox")

    @ctl.post("/chats/{chat_id}/messages", status_code=201, response_model=None)
    async def say(chat_id: str, request: Request) -> Any:
        """A message in a chat as a person writes it on rabota.by: `{"text", "role": APPLICANT|EMPLOYER|BOT}`."""
        state = get_state(request)
        neg = _control_chat(state, chat_id)
        body = json.loads(await request.body() or b"{}")
        role = str(body.get("role") or "APPLICANT")
        text = str(body.get("text") or "")
        if role not in ROLES or not text:
            return JSONResponse({"detail": "role must be APPLICANT|EMPLOYER|BOT and text non-empty"}, status_code=400)
        msg = add_message(state, neg, role, text)
        return {"id": msg.id, "chat_id": chat_id}

    @ctl.put("/chats/{chat_id}/employer-write", response_model=None)
    async def employer_write(chat_id: str, request: Request) -> Any:
        """`{"allowed": false}`: HeadHunter no longer lets the employer write here (archived, blocked)."""
        state = get_state(request)
        neg = _control_chat(state, chat_id)
        body = json.loads(await request.body() or b"{}")
        ensure_chat(state, neg).employer_may_write = bool(body.get("allowed"))
        return {"ok": True}

    @ctl.get("/chats/{chat_id}", response_model=None)
    async def dump(chat_id: str, request: Request) -> Any:
        state = get_state(request)
        neg = _control_chat(state, chat_id)
        chat = ensure_chat(state, neg)  # every negotiation has its chat, with its head, as on HeadHunter
        return {"id": chat.id, "negotiation_id": chat.negotiation_id, "read_up_to": chat.read_up_to,
                "write_possibility": chat.write_possibility(),
                "messages": [{"id": m.id, "role": m.role, "name": m.name, "text": m.text,
                              "automated": m.automated, "at": iso(m.created_at)} for m in chat.messages]}

    return ctl
