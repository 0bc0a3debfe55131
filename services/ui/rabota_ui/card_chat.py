"""The CRM card's «Написать» (issue 18 item 6): the applicant's dialogue in the portal's Open Line, for
`BX24.im.openMessenger`. The card's entity leads to its negotiation (the ledger), the negotiation to its HeadHunter
chat and the chat to its Open Line dialogue (`rabota_common.store.chats`). A dialogue the store does not know yet is
asked of the poller (the HeadHunter-facing service) on `poller.chats`: it forwards the chat's messages into the line,
which opens the dialogue. Who may do it is decided as for the card's actions: whoever may read the entity, and then
a portal administrator or the entity's responsible user."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rabota_common import subjects
from rabota_common.chats import CHATS_OFF, ChatOpenReply, ChatOpenRequest, dialog_id
from rabota_common.entity_ref import MAX_ID
from rabota_common.runtime import Runtime

from rabota_ui.card_actions import card_negotiation, hh_ready, may_act, validated
from rabota_ui.deps import RuntimeDep, SessionDep
from rabota_ui.errors import ApiError
from rabota_ui.ratelimit import session_limited

router = APIRouter(prefix="/api", dependencies=[Depends(session_limited)])

# The poller may forward a long history through the HeadHunter and Bitrix24 budgets first.
CHAT_TIMEOUT_S = 60.0
NOT_ALLOWED = ("Написать соискателю из карточки может только администратор портала или ответственный за эту "
               "карточку сотрудник.")
# The HTTP status of each refusal the poller answers (its Russian message goes with it).
REPLY_STATUS = {"chats_off": 409, "no_chat": 404, "not_found": 404, "chat_empty": 409, "dialog_unknown": 409,
                "relogin_required": 409, "hh_unavailable": 503, "portal_unavailable": 503, "portal_error": 502,
                "unavailable": 503}


class CardChatBody(BaseModel):
    """The card as Bitrix24 named it to the slider (PLACEMENT_OPTIONS entityTypeId and entityId)."""

    model_config = ConfigDict(extra="forbid")
    entity_type: str = Field(default="", max_length=20)
    entity_type_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    entity_id: int = Field(ge=1, le=MAX_ID)


async def ask_poller(rt: Runtime, req: ChatOpenRequest) -> ChatOpenReply:
    try:
        response = await rt.broker.request(req, subjects.POLLER_CHATS, timeout=CHAT_TIMEOUT_S)
    except TimeoutError as exc:
        raise ApiError(504, "hh_timeout", "rabota.by отвечает слишком долго. Попробуйте позже.") from exc
    reply = ChatOpenReply.model_validate_json(response.body)
    if not reply.ok or not reply.dialog_id:
        raise ApiError(REPLY_STATUS.get(reply.error or "", 503), reply.error or "unavailable",
                       reply.message or "Диалог не открыт: сервис временно недоступен. Попробуйте позже.")
    return reply


async def _line(rt: Runtime, portal: str) -> int:
    try:
        settings = await rt.store.sync_settings(portal=portal)
    except ValidationError:
        settings = None  # stored by an older version: saved again on «Настройки»
    if settings is None or not settings.open_line_id:
        raise ApiError(409, "chats_off", CHATS_OFF)
    return settings.open_line_id


@router.post("/card-chat")
async def card_chat(body: dict[str, Any], rt: RuntimeDep, session: SessionDep) -> dict[str, Any]:
    """`{"entity_type_id", "entity_id"}` (or `entity_type` as for the card's actions) → `{"dialog_id": "chat<ID>",
    "forwarded": n}`: the dialogue to open with BX24.im.openMessenger; `forwarded` messages of the chat went into
    the line just now to open it (0: it was there)."""
    data: CardChatBody = validated(CardChatBody, body, "Диалог не открыт")
    line = await _line(rt, session.portal)
    ref, nid = await card_negotiation(rt, session, data.entity_type, data.entity_type_id, data.entity_id)
    if not await may_act(rt, session, [ref]):
        raise ApiError(403, "forbidden", NOT_ALLOWED)
    chat_id = await rt.store.negotiation_chat(session.portal, nid)
    known = await rt.store.chat_dialogue(session.portal, chat_id, line) if chat_id else None
    if known:
        return {"dialog_id": dialog_id(known), "forwarded": 0}
    await hh_ready(rt, session.portal)
    reply = await ask_poller(rt, ChatOpenRequest(portal=session.portal, negotiation_id=nid, user_id=session.user_id))
    return {"dialog_id": reply.dialog_id, "forwarded": reply.forwarded}
