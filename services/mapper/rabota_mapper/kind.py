"""Deciding once whether a negotiation is a response or an invitation (rabota_common.negotiation_kind)."""

from __future__ import annotations

from typing import Any

from rabota_common.entity_ref import LedgerRef
from rabota_common.hh_client import HhError
from rabota_common.hh_ids import is_numeric_id
from rabota_common.hh_session import TokenSource
from rabota_common.negotiation_kind import (
    Kind,
    as_kind,
    enum_id,
    kind_from_chat,
    kind_from_source,
    kind_from_state,
)
from rabota_common.runtime import Runtime

# The first messages of a chat read to find the first one with content (joins and leaves come before it).
CHAT_HEAD = 5


async def chat_head(rt: Runtime, tokens: TokenSource, negotiation: dict[str, Any]) -> list[Any] | None:
    """The first messages of the negotiation's chat (the chats API, api-changes H1), read once per mapping:
    None when there is no chat or this account may not read it (an answer of HeadHunter about this chat alone,
    never a reason to fail)."""
    if "_chat_head" in negotiation:
        cached: list[Any] | None = negotiation["_chat_head"]
        return cached
    chat_id = negotiation.get("chat_id")
    chat = str(chat_id) if isinstance(chat_id, (int, str)) and not isinstance(chat_id, bool) else ""
    messages: list[Any] | None = None
    if is_numeric_id(chat):
        try:
            messages = await tokens.call(rt.hh.chat_first_messages, chat, CHAT_HEAD)
        except HhError as exc:
            if not (exc.status in (400, 403, 404) and not exc.token_expired and not exc.auth_lost):
                raise
            rt.log.info("chat %s of negotiation %s answers %s: its first message not used",
                        chat, negotiation.get("id"), exc.status)
    negotiation["_chat_head"] = messages
    return messages


async def chat_kind(rt: Runtime, tokens: TokenSource, negotiation: dict[str, Any]) -> Kind | None:
    """Who wrote first in the negotiation's chat, or None: no chat, or one this account may not read."""
    messages = await chat_head(rt, tokens, negotiation)
    return kind_from_chat(messages) if messages is not None else None


def letter_of(messages: list[Any] | None) -> str | None:
    """The applicant's cover letter: the text of the chat's first message with content, when the applicant
    wrote it (a response without a letter opens with nothing; an invitation with the employer's message)."""
    for message in messages or []:
        if not isinstance(message, dict) or message.get("type") != "SIMPLE":
            continue
        if enum_id((message.get("sender_display_info") or {}).get("role")) != "APPLICANT":
            return None
        text = (message.get("payload") or {}).get("text")
        return text.strip()[:4000] or None if isinstance(text, str) else None
    return None


async def cover_letter(rt: Runtime, tokens: TokenSource, negotiation: dict[str, Any], kind: Kind) -> str | None:
    """A response's cover letter (one chat request per response, none when the kind decision read the chat
    already); an invitation has none."""
    if kind != "response" or not (negotiation.get("counters") or {}).get("messages", 1):
        return None
    return letter_of(await chat_head(rt, tokens, negotiation))


async def _evidence(rt: Runtime, tokens: TokenSource, negotiation: dict[str, Any]) -> tuple[Kind, str]:
    state = enum_id(negotiation.get("employer_state"))
    if state == "response":
        return "response", "state"  # an invitation is never in the response state: nothing more to ask
    from_chat = await chat_kind(rt, tokens, negotiation)
    if from_chat is not None:
        return from_chat, "chat"
    from_source = kind_from_source(negotiation.get("source"))
    if from_source is not None:
        return from_source, "source"
    return kind_from_state(state, negotiation.get("created_at"), negotiation.get("updated_at")), "state"


def _written_kind(written: LedgerRef | None, simple: bool) -> Kind | None:
    """The kind an entity written before decisions were kept shows: `invitation` in either mode; `response`
    only in simple mode (in extended mode it is the stage family, which an unmoved invitation shares)."""
    state = as_kind(written.state) if written else None
    return state if state == "invitation" or simple else None


async def decide_kind(rt: Runtime, tokens: TokenSource, portal: str, nid: str, negotiation: dict[str, Any],
                      simple: bool) -> Kind:
    """The kept decision (the NEW_NEGOTIATION_VACANCY webhook's, or an earlier command's), else the kind an
    entity written before decisions were kept shows (it never flips), else the evidence now; kept from then on."""
    kept = as_kind(await rt.store.negotiation_kind(portal, negotiation_id=nid))
    if kept is not None:
        return kept
    legacy = _written_kind(await rt.store.ledger_ref(portal=portal, negotiation_id=nid), simple)
    kind, why = (legacy, "ledger") if legacy is not None else await _evidence(rt, tokens, negotiation)
    decided = as_kind(await rt.store.negotiation_kind(portal, negotiation_id=nid, decide=kind)) or kind
    rt.log.debug("negotiation %s of portal %s is a %s (by %s)", nid, portal, decided, why)
    return decided
