"""The chats API, as far as the product reads it: `GET /common/chats/{chat_id}/messages` (operation
`get-chat-messages`; hh-api.md §4.3 `chat_id`, api-changes H1). Shapes follow the spec's schemas
`ChatsCommonMessagesResponse` and `ChatsCommonMessage` (sender_display_info.role: APPLICANT | EMPLOYER | BOT)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .data import Negotiation, chat_head, iso
from .errors import bad_argument, not_found, request_id_of
from .events import CHAT_ID_BASE, chat_id
from .oauth import authenticate, get_state

router = APIRouter()

MAX_LIMIT = 100  # not documented; the emulator refuses a larger `limit` rather than guessing
ORDERS = ("next", "prev")
ROLE_NAMES = {"APPLICANT": "Соискатель", "EMPLOYER": "Менеджер", "BOT": "Бот"}


def _message(neg: Negotiation, index: int, type_: str, role: str, text: str) -> dict[str, Any]:
    created = iso(neg.created_at + index)
    payload: dict[str, Any] = {"text": text} if type_ == "SIMPLE" else {
        "moved_participant": {"role": role, "name": ROLE_NAMES[role]}}
    return {
        "id": str(chat_id(neg) * 10 + index + 1),
        "creation_time": created,
        "last_change_time": None,
        "can_edit": False,
        "sender_participant_id": f"{role.lower()}-{neg.id}",
        "sender_display_info": {"name": ROLE_NAMES[role], "is_current_participant": role == "EMPLOYER",
                                "icon": None, "role": role},
        "type": type_,
        "payload": payload,
        "viewed_by_opponent": True,
    }


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return 20
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise bad_argument("limit", f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


@router.get("/common/chats/{chat}/messages")
async def chat_messages(chat: str, request: Request) -> JSONResponse:
    state = get_state(request)
    _, user = authenticate(request, employer=False)
    order = request.query_params.get("order") or "next"
    if order not in ORDERS:
        raise bad_argument("order", "order must be next or prev")
    limit = _limit(request)
    neg = state.store.negotiations.get(str(int(chat) - CHAT_ID_BASE)) if chat.isdigit() else None
    if neg is None or user is None or not state.store.user_can_see_vacancy(user, state.store.vacancies[neg.vacancy_id]):
        raise not_found()
    messages = [_message(neg, i, *m) for i, m in enumerate(chat_head(neg))]
    start = request.query_params.get("start_message_id")
    ids = [m["id"] for m in messages]
    if start is not None and start not in ids:
        raise bad_argument("start_message_id", "unknown message")
    if order == "next":
        first = ids.index(start) if start is not None else 0
        page = messages[first:first + limit]
        more = first + limit < len(messages)
    else:
        last = ids.index(start) + 1 if start is not None else len(messages)
        page = messages[max(0, last - limit):last]
        more = last - limit > 0
    body = {
        "id": chat,
        "display": {"title": state.store.vacancies[neg.vacancy_id].name, "icon": None},
        "creation_time": iso(neg.created_at),
        "unread_message_count": 0,
        "muted": False,
        "block_reason": None,
        "type": "NEGOTIATION",
        "has_more": more,
        "messages": page,
        "chat_states": {"response_reminder_state": {"allowed": False}},
        "vacancy_id": neg.vacancy_id,
    }
    return JSONResponse(body, headers={"X-Request-Id": request_id_of(request)})
