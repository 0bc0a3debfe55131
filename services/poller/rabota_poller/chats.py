"""Chats with applicants in the portal's Open Line (DESIGN F15), both ways, each message once.

Applicant → recruiter: a CHAT_MESSAGE_CREATED webhook names a chat and a message (ids only); the message is read
from HeadHunter and posted into the line through the «rabota.by» connector (`imconnector.send.messages`), as the
applicant; what the employer side wrote on rabota.by itself shows as the responsible operator's, HeadHunter's
bot's messages are marked. A message reaches the line once: its id is remembered after the post (a crash between
the post and the record can repeat it once; see docs/operations.md).

Recruiter → applicant: an operator's reply (ONIMCONNECTORMESSAGEADD, forwarded by the ui on chat.reply) goes to the
HeadHunter chat with an idempotency key derived from the Bitrix24 message id, so a redelivery never makes a second
message; then `imconnector.send.status.delivery`. Our own message coming back as a webhook is recognised by the
ledger (recorded under the chat's lock before the webhook is looked at). When HeadHunter refuses writing, the
operator gets a system message in the line, and nothing is retried."""

from __future__ import annotations

from typing import Any

from rabota_common import budget
from rabota_common.b24_client import B24Error
from rabota_common.b24_session import B24PortalClosed, open_session
from rabota_common.chats import (
    CHATS_OFF,
    CONNECTOR_ID,
    HH_TEXT_MAX,
    WRITE_DISABLED_NOTE,
    ChatOpenError,
    ChatOpenReply,
    ChatOpenRequest,
    ChatReply,
    dialog_id,
    idempotency_key,
    person_name,
    plain_text,
)
from rabota_common.errors import HhAuthLost, TransientError
from rabota_common.hh_client import HhError
from rabota_common.hh_session import TokenSource
from rabota_common.hh_time import hh_epoch
from rabota_common.models import HhWebhookEvent
from rabota_common.runtime import Runtime
from rabota_common.store import chat_lock_name

from rabota_poller.relogin import responsible_of

BOT_MARK = "Бот rabota.by"
# The chat's lock is renewed while held; a killed holder frees it within this.
LOCK_TTL_S = 10.0
# A reply a killed poller had taken comes back this soon (its work takes a second or two).
REPLY_ACK_WAIT_S = 20.0
ATTACHMENT_NOTE = "[вложение: откройте чат на rabota.by]"


async def b24_call(rt: Runtime, portal: str, method: str, params: dict[str, Any]) -> Any:
    """One Bitrix24 call through the gate (the portal's token, one refresh, its error policy)."""
    session = await open_session(rt, portal)
    return await session.call(method, params)


async def open_line(rt: Runtime, portal: str) -> int | None:
    settings = await rt.store.sync_settings(portal=portal)
    return settings.open_line_id if settings is not None and settings.open_line_id else None


async def _fetch(rt: Runtime, portal: str, chat_id: str, message_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The chat and the one message (empty when HeadHunter no longer has it)."""
    tokens = TokenSource(rt, portal)
    chat = await tokens.call(rt.hh.chat_messages, chat_id, message_id, 1, "next")
    found: dict[str, Any] = next((m for m in chat.get("messages") or [] if str(m.get("id")) == message_id), {})
    return chat, found


def line_message(chat_id: str, chat: dict[str, Any], message: dict[str, Any], operator_id: int) -> dict[str, Any]:
    """The `MESSAGES[]` element for imconnector.send.messages: the applicant's message as theirs; the employer
    side's (written on rabota.by) as the responsible operator's, marked; HeadHunter's bot marked."""
    sender = message.get("sender_display_info") or {}
    role = str(sender.get("role") or "")
    payload = message.get("payload") or {}
    text = str(payload.get("text") or "").strip() or ATTACHMENT_NOTE
    sent_at = int(hh_epoch(message.get("creation_time")) or 0)
    out: dict[str, Any] = {"id": str(message["id"]), "date": sent_at, "text": text}
    user: dict[str, Any] = {"id": f"hh-chat-{chat_id}"}
    if role == "APPLICANT":
        user["name"], last = person_name(str(sender.get("name") or ""))
        if last:
            user["last_name"] = last
        if sender.get("icon"):
            user["picture"] = {"url": str(sender["icon"])}
    elif role == "BOT":
        out.update(user_id=operator_id, text=f"[b]{BOT_MARK}:[/b] [br]{text}")
    else:
        who = str(sender.get("name") or "работодатель")
        out.update(user_id=operator_id, text=f"[b]{who} (на rabota.by):[/b] [br]{text}")
    title = str((chat.get("display") or {}).get("title") or "")
    return {"user": user, "message": out, "chat": {"id": chat_id, "name": f"rabota.by: {title}"[:255]}}


async def inbound(rt: Runtime, portal: str, event: HhWebhookEvent) -> None:
    """CHAT_MESSAGE_CREATED: the message into the Open Line, once."""
    chat_id, message_id = str(event.payload["chat_id"]), str(event.payload["message_id"])
    line = await open_line(rt, portal)
    if line is None:
        rt.log.info("chat message %s of portal %s: no Open Line chosen, not forwarded", message_id, portal)
        return
    if event.payload.get("message_type", "SIMPLE") != "SIMPLE":
        return
    await forward(rt, portal, line, chat_id, message_id)


async def forward(rt: Runtime, portal: str, line: int, chat_id: str, message_id: str) -> bool:
    """One HeadHunter message into the line unless it is there already (or our own reply); True when posted."""
    if await rt.store.chat_message_delivered(portal, chat_id, message_id):
        return False
    # An operator's reply being posted right now is recorded before its own webhook is looked at.
    async with rt.store.lock(chat_lock_name(portal, chat_id), ttl_s=LOCK_TTL_S):
        if await rt.store.chat_message_delivered(portal, chat_id, message_id):
            return False
        try:
            chat, message = await _fetch(rt, portal, chat_id, message_id)
        except HhError as exc:
            if exc.status in (403, 404) and not exc.token_expired and not exc.auth_lost:
                rt.log.warning("chat %s of portal %s answers %s: message %s not forwarded",
                               chat_id, portal, exc.status, message_id)
                return False
            raise
        posted, im_chat_id = await _into_line(rt, portal, line, chat_id, chat, [message])
    if not posted:
        return False
    rt.log.info("chat message %s of portal %s is in Open Line %s", message_id, portal, line)
    await tie_to_entity(rt, portal, chat_id, im_chat_id)
    return True


# The most messages one imconnector.send.messages carries when a dialogue is opened with the chat's history.
LINE_BATCH = 20


async def _into_line(rt: Runtime, portal: str, line: int, chat_id: str, chat: dict[str, Any],
                     messages: list[dict[str, Any]]) -> tuple[int, int]:
    """Under the chat's lock: those of `messages` (oldest first) the line lacks, posted (LINE_BATCH a request) and
    recorded; our own replies coming back and messages of another type are left out. Returns how many were posted
    and the Open Line chat they went to (0: none, or the answer did not say), which is remembered for the chat."""
    fresh = [m for m in messages if m and m.get("type", "SIMPLE") == "SIMPLE"
             and not await rt.store.chat_message_delivered(portal, chat_id, str(m["id"]))
             and not await _own_reply(rt, portal, chat_id, m)]
    if not fresh:
        return 0, 0
    operator = await responsible_of(rt, portal)
    im_chat_id = 0
    for start in range(0, len(fresh), LINE_BATCH):
        part = fresh[start:start + LINE_BATCH]
        elements = [line_message(chat_id, chat, m, operator) for m in part]
        sent = await b24_call(rt, portal, "imconnector.send.messages",
                              {"CONNECTOR": CONNECTOR_ID, "LINE": line, "MESSAGES": elements})
        for message in part:
            await rt.store.mark_chat_message_delivered(portal, chat_id, str(message["id"]))
            if (message.get("sender_display_info") or {}).get("role") == "APPLICANT":
                await rt.store.note_chat_last_in(portal, chat_id, str(message["id"]))
        im_chat_id = _session_chat(sent) or im_chat_id
    await rt.store.remember_chat_dialogue(portal, chat_id, line, im_chat_id)
    return len(fresh), im_chat_id


# Opening a dialogue from the card (issue 18 item 6): the chat's latest messages the line gets as its history.
OPEN_MESSAGES = 50
NO_CHAT = "У этого отклика нет чата на rabota.by."
CHAT_EMPTY = "В чате этого отклика на rabota.by ещё нет сообщений: диалог появится с первым сообщением."
DIALOG_UNKNOWN = ("Сообщения этого чата уже переданы в открытую линию раньше, но приложение не знает номер диалога: "
                  "откройте его по ссылке «открыть диалог» в таймлайне карточки или в открытой линии.")
HH_NOT_FOUND = "rabota.by не показывает этот отклик или его чат (возможно, он у другого менеджера)."
HH_DOWN = "rabota.by сейчас недоступен. Попробуйте через минуту."
B24_DOWN = "Битрикс24 сейчас не принимает сообщения в открытую линию. Попробуйте через минуту."


def _refused(error: ChatOpenError, message: str, chat_id: str | None = None) -> ChatOpenReply:
    return ChatOpenReply(ok=False, error=error, message=message, chat_id=chat_id)


async def chat_of(rt: Runtime, portal: str, negotiation_id: str) -> str | None:
    """The negotiation's HeadHunter chat: as the poller recorded it, else as HeadHunter names it now (recorded)."""
    known = await rt.store.negotiation_chat(portal, negotiation_id)
    if known:
        return known
    negotiation = await TokenSource(rt, portal).call(rt.hh.negotiation, negotiation_id)
    chat_id = negotiation.get("chat_id")
    if chat_id is None or isinstance(chat_id, bool) or not str(chat_id).isdigit():
        return None
    await rt.store.link_chats(portal, {str(chat_id): negotiation_id})
    return str(chat_id)


def _history(chat: dict[str, Any]) -> list[dict[str, Any]]:
    """The chat's messages oldest first (SIMPLE ones: joins and leaves are not shown in the line)."""
    simple = [m for m in chat.get("messages") or [] if isinstance(m, dict) and str(m.get("id") or "").isdigit()
              and m.get("type", "SIMPLE") == "SIMPLE"]
    return sorted(simple, key=lambda m: (hh_epoch(m.get("creation_time")) or 0, int(m["id"])))


async def _hh_side(rt: Runtime, req: ChatOpenRequest, line: int) -> ChatOpenReply | tuple[str, dict[str, Any]]:
    """The chat, and its dialogue when the line has one; or what stops it (HeadHunter's trouble in Russian)."""
    try:
        chat_id = await chat_of(rt, req.portal, req.negotiation_id)
        if chat_id is None:
            return _refused("no_chat", NO_CHAT)
        known = await rt.store.chat_dialogue(req.portal, chat_id, line)
        if known:
            return ChatOpenReply(ok=True, dialog_id=dialog_id(known), chat_id=chat_id)
        return chat_id, await TokenSource(rt, req.portal).call(rt.hh.chat_messages, chat_id, None, OPEN_MESSAGES,
                                                               "prev")
    except HhAuthLost:
        return _refused("relogin_required", "Нужен повторный вход в rabota.by.")
    except HhError as exc:
        if exc.status in (403, 404) and not exc.token_expired:
            return _refused("not_found", HH_NOT_FOUND)
        rt.log.warning("portal %s: negotiation %s's chat not read: %s", req.portal, req.negotiation_id, exc)
        return _refused("hh_unavailable", HH_DOWN)
    except TransientError as exc:  # no token now, the budget, the network
        rt.log.warning("portal %s: negotiation %s's chat not read: %s", req.portal, req.negotiation_id, exc)
        return _refused("hh_unavailable", HH_DOWN)


def _b24_refusal(exc: Exception) -> ChatOpenReply | None:
    if isinstance(exc, B24PortalClosed | TransientError):  # uninstalled or paused, throttled, a method blocked
        return _refused("portal_unavailable", B24_DOWN)
    if isinstance(exc, B24Error):
        if exc.transient or exc.throttled or exc.expired_token:
            return _refused("portal_unavailable", B24_DOWN)
        return _refused("portal_error", f"Битрикс24 не принял сообщения в открытую линию: {exc.code}.")
    return None


async def open_dialogue(rt: Runtime, req: ChatOpenRequest) -> ChatOpenReply:
    """poller.chats (the card's «Написать», issue 18 item 6): the negotiation's dialogue in the Open Line; when the
    line has none yet, the chat's latest messages are forwarded into it now (each once, as webhooks bring them),
    which opens it. Answers its `chat{id}`, or why not in Russian."""
    line = await open_line(rt, req.portal)
    if line is None:
        return _refused("chats_off", CHATS_OFF)
    found = await _hh_side(rt, req, line)
    if isinstance(found, ChatOpenReply):
        return found
    chat_id, chat = found
    history = _history(chat)
    if not history:
        return _refused("chat_empty", CHAT_EMPTY, chat_id)
    try:
        async with rt.store.lock(chat_lock_name(req.portal, chat_id), ttl_s=LOCK_TTL_S):
            posted, im_chat_id = await _into_line(rt, req.portal, line, chat_id, chat, history)
    except Exception as exc:
        refusal = _b24_refusal(exc)
        if refusal is None:
            raise
        rt.log.warning("portal %s: chat %s not opened in Open Line %s: %s", req.portal, chat_id, line, exc)
        return refusal.model_copy(update={"chat_id": chat_id})
    im_chat_id = im_chat_id or await rt.store.chat_dialogue(req.portal, chat_id, line) or 0
    if not im_chat_id:
        return _refused("dialog_unknown", DIALOG_UNKNOWN, chat_id)
    if posted:
        rt.log.info("portal %s: chat %s opened in Open Line %s with %d messages (user %s)", req.portal, chat_id,
                    line, posted, req.user_id)
        await tie_to_entity(rt, req.portal, chat_id, im_chat_id)
    return ChatOpenReply(ok=True, dialog_id=dialog_id(im_chat_id), chat_id=chat_id, forwarded=posted)


async def answer_open(rt: Runtime, req: ChatOpenRequest) -> ChatOpenReply:
    """The reply of poller.chats: never an exception (the ui waits for it)."""
    try:
        return await open_dialogue(rt, req)
    except Exception as exc:
        rt.log.warning("portal %s: negotiation %s's dialogue not opened: %s", req.portal, req.negotiation_id,
                       type(exc).__name__)
        return _refused("unavailable", "Диалог не открыт: сервис временно недоступен. Попробуйте через минуту.")


RECONCILE_PAGES = 5
RECONCILE_MESSAGES = 20


async def reconcile_chats(rt: Runtime, portal: str) -> int:
    """The safety net for chat webhooks that never came (webhooks are not guaranteed): the manager's unread chats
    and their latest messages, each forwarded unless the line has it. Run with the poller's full walk (hourly by
    default); returns how many messages were posted."""
    line = await open_line(rt, portal)
    if line is None:
        return 0
    with budget.bulk():  # a safety net: every portal's live requests go first
        posted = await _reconcile_pages(rt, portal, line)
    if posted:
        rt.log.info("chat reconciliation of portal %s: %d missed messages posted", portal, posted)
    return posted


async def _reconcile_pages(rt: Runtime, portal: str, line: int) -> int:
    tokens = TokenSource(rt, portal)
    posted = 0
    for page in range(RECONCILE_PAGES):
        listing = await tokens.call(rt.hh.chats, True, page, 20)
        for item in listing.get("items") or []:
            chat_id = str(item.get("id") or "")
            unread = int(item.get("unread_message_count") or 0)
            if not chat_id.isdigit() or unread <= 0:
                continue
            recent = await tokens.call(rt.hh.chat_messages, chat_id, None, min(unread, RECONCILE_MESSAGES), "prev")
            for message in recent.get("messages") or []:
                role = (message.get("sender_display_info") or {}).get("role")
                if role != "EMPLOYER" and await forward(rt, portal, line, chat_id, str(message.get("id"))):
                    posted += 1
        if page + 1 >= int(listing.get("pages") or 1):
            break
    return posted


def _session_chat(sent: Any) -> int:
    """The Open Line chat id imconnector.send.messages answers (`DATA.RESULT[0].session.CHAT_ID`)."""
    try:
        return int(sent["DATA"]["RESULT"][0]["session"]["CHAT_ID"])
    except (KeyError, IndexError, TypeError, ValueError):
        return 0


ENTITY_TYPES = {1: "lead", 2: "deal", 3: "contact", 4: "company"}


async def tie_to_entity(rt: Runtime, portal: str, chat_id: str, im_chat_id: int) -> None:
    """Once per chat: a timeline comment on the applicant's CRM entity (the ledger's negotiation → entity, the
    chat ↔ negotiation link) with a link that opens the dialogue, so the conversation is found from the card.
    The connector's CRM tracker is not used for it: it would match by phone or e-mail, which the line never gets.
    Best effort: a chat whose negotiation is not (yet) in the CRM is tried again with its next message."""
    nid = await rt.store.chat_negotiation(portal, chat_id)
    ref = await rt.store.ledger_ref(portal=portal, negotiation_id=nid) if nid else None
    entity = ref.entity if ref is not None else None
    if entity is None or not entity.known or im_chat_id <= 0 or not await rt.store.claim_chat_tie(portal, chat_id):
        return
    kind = ENTITY_TYPES.get(entity.entity_type_id, f"dynamic_{entity.entity_type_id}")
    comment = (f"Соискатель пишет в открытую линию (rabota.by, чат {chat_id}): "
               f"[url=/online/?IM_DIALOG=chat{im_chat_id}]открыть диалог[/url]")
    try:
        await b24_call(rt, portal, "crm.timeline.comment.add", {"fields": {
            "ENTITY_TYPE": kind, "ENTITY_ID": entity.entity_id, "COMMENT": comment}})
    except Exception as exc:  # the message is in the line already: the next one tries again
        await rt.store.release_chat_tie(portal, chat_id)
        rt.log.warning("portal %s: chat %s not tied to its CRM entity yet: %s", portal, chat_id, type(exc).__name__)


async def _own_reply(rt: Runtime, portal: str, chat_id: str, message: dict[str, Any]) -> bool:
    """Our own reply coming back before it was recorded (its poller was killed between the post and the record):
    recognised by its text's digest, recorded now, never shown twice."""
    if (message.get("sender_display_info") or {}).get("role") != "EMPLOYER":
        return False
    pending = await rt.store.pending_chat_reply(portal, chat_id, str((message.get("payload") or {}).get("text") or ""))
    if pending is None:
        return False
    # Only this copy counts as delivered: the reply's redelivery posts (idempotently) and records all its parts.
    await rt.store.mark_chat_message_delivered(portal, chat_id, str(message["id"]))
    return True


def chunks(text: str, size: int = HH_TEXT_MAX) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


async def _post(rt: Runtime, reply: ChatReply, text: str) -> str | None:
    """The reply in the HeadHunter chat (several messages when longer than HeadHunter takes); the last message's
    id, or None when HeadHunter does not let the employer write there."""
    tokens = TokenSource(rt, reply.portal)
    last = ""
    for index, part in enumerate(chunks(text)):
        key = idempotency_key(reply.portal, reply.im_message_id) if index == 0 else \
            idempotency_key(reply.portal, reply.im_message_id * 1000 + index)
        try:
            posted = await tokens.call(rt.hh.post_chat_message, reply.chat_id, part, key)
        except HhError as exc:
            if exc.status == 403 and not exc.token_expired and not exc.auth_lost:
                return None
            raise
        last = str(posted.get("id") or "")
    return last


async def _tell_operator(rt: Runtime, reply: ChatReply) -> None:
    await b24_call(rt, reply.portal, "im.message.add",
                   {"DIALOG_ID": f"chat{reply.im_chat_id}", "MESSAGE": WRITE_DISABLED_NOTE, "SYSTEM": "Y"})


async def _delivered(rt: Runtime, reply: ChatReply, hh_message_id: str) -> None:
    await b24_call(rt, reply.portal, "imconnector.send.status.delivery", {
        "CONNECTOR": CONNECTOR_ID, "LINE": reply.line,
        "MESSAGES": [{"im": {"chat_id": reply.im_chat_id, "message_id": reply.im_message_id},
                      "message": {"id": [hh_message_id]}, "chat": {"id": reply.chat_id}}]})


async def _read_on_hh(rt: Runtime, reply: ChatReply) -> None:
    """An operator who answers has read the applicant's messages before: marked read on HeadHunter (best effort)."""
    last = await rt.store.chat_last_in(reply.portal, reply.chat_id)
    if last is None:
        return
    try:
        await TokenSource(rt, reply.portal).call(rt.hh.mark_chat_read, reply.chat_id, last)
    except HhError as exc:
        rt.log.info("portal %s: chat %s not marked read: %s", reply.portal, reply.chat_id, exc.status)


async def outbound(rt: Runtime, reply: ChatReply) -> None:
    """An operator's reply: posted to HeadHunter once, then marked delivered in the line."""
    text = plain_text(reply.text)
    if not text:
        return
    async with rt.store.lock(chat_lock_name(reply.portal, reply.chat_id), ttl_s=LOCK_TTL_S):
        posted = await rt.store.chat_reply_posted(reply.portal, reply.im_message_id)
        if posted is None:
            await rt.store.mark_chat_reply_pending(reply.portal, reply.chat_id, chunks(text), reply.im_message_id)
            result = await _post(rt, reply, text)
            if result is None:
                await _tell_operator(rt, reply)
                await rt.store.record_chat_reply(reply.portal, reply.chat_id, reply.im_message_id, "refused")
                rt.log.warning("portal %s: HeadHunter refuses writing to chat %s; the operator was told",
                               reply.portal, reply.chat_id)
                return
            posted = result
            await rt.store.record_chat_reply(reply.portal, reply.chat_id, reply.im_message_id, posted)
    if posted != "refused":
        await _delivered(rt, reply, posted)
        await _read_on_hh(rt, reply)
    rt.log.info("portal %s: reply %s is in HeadHunter chat %s", reply.portal, reply.im_message_id, reply.chat_id)
