"""Response or invitation, from what HeadHunter does say (reference hh-api.md §4.4; issue 16 item 3).

HeadHunter has no initiator field. The evidence, strongest first:

1. the webhook type: `NEW_NEGOTIATION_VACANCY` fires only for an applicant's response (the poller records
   that in the ledger as soon as it arrives);
2. an employer state of `response`: an invitation is never in it (an invitation starts in `invitation` or a
   later stage), so nothing more is asked;
3. the role of the first message of the negotiation's chat (`GET /common/chats/{chat_id}/messages`,
   `sender_display_info.role`): `EMPLOYER` wrote first for an invitation, `APPLICANT` for a response;
4. the negotiation's `source`: `AUTO_INVITE` is an invitation by HeadHunter's bot, `AUTO_RESPONSE*` a
   response made for the applicant;
5. the state right after creation: `invitation`, or a later stage the negotiation has not left since it was
   created (`updated_at == created_at`), is an invitation; anything else counts as a response.

The first decision is kept in the ledger (`Store.negotiation_kind`) and never flips later. Every value is
read tolerantly: an enum value HeadHunter adds later is "no evidence", never an error.
"""

from __future__ import annotations

from typing import Any, Literal

Kind = Literal["response", "invitation"]
KINDS: tuple[Kind, ...] = ("response", "invitation")

# Sources whose negotiations HeadHunter's own bots made (api-changes H8): the card can say so.
BOT_SOURCE_PREFIX = "AUTO_"
KNOWN_SOURCES = frozenset({
    "NEGOTIATION", "PHONE_CALL", "CHAT", "VR", "AUTO_INVITE", "APPLICANT_QUESTIONS", "AUTO_RESPONSE",
    "AUTO_RESPONSE_HH_PRO", "CLICKME_CPA", "REGISTRATION",
})


def enum_id(value: Any) -> str | None:
    """The id of an enum-like value as HeadHunter sends it (`"X"` or `{"id": "X", ...}`); None otherwise."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def dig(value: Any, *keys: str) -> Any:
    """`value[k1][k2]…` through objects only: None where a level is missing, null or not an object."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def as_kind(value: Any) -> Kind | None:
    if value == "response":
        return "response"
    if value == "invitation":
        return "invitation"
    return None


def by_hh_bot(source: Any) -> bool:
    """Made by one of HeadHunter's bots (`AUTO_INVITE`, `AUTO_RESPONSE`, `AUTO_RESPONSE_HH_PRO`, a later `AUTO_*`)."""
    value = enum_id(source)
    return value is not None and value.startswith(BOT_SOURCE_PREFIX)


def kind_from_source(source: Any) -> Kind | None:
    value = enum_id(source)
    if value is None:
        return None
    if value.startswith("AUTO_INVITE"):
        return "invitation"
    if value.startswith("AUTO_RESPONSE"):
        return "response"
    return None


def kind_from_chat(messages: list[Any]) -> Kind | None:
    """Who wrote the chat's first message with content (type `SIMPLE`; joins and leaves are skipped): the
    employer for an invitation, the applicant for a response; a bot or a role added later says nothing."""
    for message in messages:
        if not isinstance(message, dict) or message.get("type") != "SIMPLE":
            continue
        role = enum_id((message.get("sender_display_info") or {}).get("role"))
        if role == "EMPLOYER":
            return "invitation"
        if role == "APPLICANT":
            return "response"
        return None
    return None


def kind_from_state(employer_state: Any, created_at: Any = None, updated_at: Any = None) -> Kind:
    """The last resort: the state right after creation."""
    state = enum_id(employer_state)
    if state in (None, "response"):
        return "response"
    if state == "invitation":
        return "invitation"
    if isinstance(created_at, str) and created_at and created_at == updated_at and not state.startswith("discard"):
        return "invitation"  # created in a later stage and not moved since: the employer made it
    return "response"


def kind_of(employer_state: Any, source: Any = None) -> Kind:
    """Response or invitation from the negotiation alone (no chat, no ledger): its source, else its state."""
    if enum_id(employer_state) == "response":
        return "response"
    return kind_from_source(source) or kind_from_state(employer_state)
