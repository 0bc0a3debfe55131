"""Chats with applicants in a Bitrix24 Open Line (DESIGN F15): the connector, the message shapes both ways and
the pure rules between them (who wrote, what the applicant reads, idempotency keys)."""

from __future__ import annotations

import re
import uuid
from typing import Literal

from pydantic import Field, field_validator

from rabota_common.hh_ids import is_numeric_id
from rabota_common.ids import member_id
from rabota_common.models import CHAT_ACTIONS, Message

__all__ = ["CHAT_ACTIONS", "ChatOpenReply", "ChatOpenRequest", "ChatReply", "dialog_id", "idempotency_key",
           "person_name", "plain_text"]

# The Open Lines connector the app registers at install (imconnector.register ID: lowercase letters, digits, _).
CONNECTOR_ID = "rabotaby"
CONNECTOR_NAME = "rabota.by"
# The connector's icon: a data URI of an SVG (imconnector.register ICON.DATA_IMAGE).
CONNECTOR_ICON = (
    "data:image/svg+xml;charset=US-ASCII,%3Csvg%20xmlns%3D%22http%3A//www.w3.org/2000/svg%22%20viewBox%3D%220%200"
    "%2070%2071%22%3E%3Crect%20width%3D%2270%22%20height%3D%2271%22%20rx%3D%2214%22%20fill%3D%22%23d6001c%22/%3E"
    "%3Ctext%20x%3D%2235%22%20y%3D%2246%22%20font-size%3D%2230%22%20text-anchor%3D%22middle%22%20fill%3D%22white"
    "%22%20font-family%3D%22Arial%22%3Erb%3C/text%3E%3C/svg%3E")
HH_TEXT_MAX = 4096
# An operator's reply on the bus (a NATS message stays well under its 1 MiB); longer text is cut, never refused,
# and split into HeadHunter messages of HH_TEXT_MAX.
REPLY_TEXT_MAX = 200_000
NAME_MAX = 25  # imconnector.send.messages: name and last_name, letters, spaces, hyphens, apostrophes

Role = Literal["APPLICANT", "EMPLOYER", "BOT"]

# The card's «Написать» while no Open Line is chosen (issue 18 item 6).
CHATS_OFF = "Переписка с соискателями выключена: выберите открытую линию на вкладке «Настройки» приложения."
WRITE_DISABLED_NOTE = (
    "rabota.by не принял ответ: работодатель сейчас не может писать в этот чат (например, отклик в архиве или "
    "чат закрыт). Сообщение соискателю не доставлено. Ответьте ему на rabota.by, когда переписка снова "
    "станет возможной.")


class ChatReply(Message):
    """chat.reply.{portal}: an operator's message in the Open Line, for the HeadHunter chat (ui → poller)."""

    portal: str
    line: int = Field(gt=0)
    chat_id: str  # HeadHunter's chat id (the connector's external chat id)
    im_chat_id: int = Field(gt=0)
    im_message_id: int = Field(gt=0)
    user_id: int = Field(ge=0)
    text: str = Field(max_length=REPLY_TEXT_MAX)

    @field_validator("portal")
    @classmethod
    def _portal(cls, value: str) -> str:
        return member_id(value)

    @field_validator("chat_id")
    @classmethod
    def _chat(cls, value: str) -> str:
        if not is_numeric_id(value):
            raise ValueError("chat_id: нужен числовой идентификатор чата")
        return value


class ChatOpenRequest(Message):
    """poller.chats: the negotiation's dialogue in the portal's Open Line, for the card's «Написать»
    (issue 18 item 6); when the line has no dialogue of its chat yet, the poller forwards the chat's messages into
    it first."""

    portal: str
    negotiation_id: str = Field(pattern=r"^\d{1,20}$")
    user_id: int = Field(default=0, ge=0)

    @field_validator("portal")
    @classmethod
    def _portal(cls, value: str) -> str:
        return member_id(value)


ChatOpenError = Literal["chats_off", "no_chat", "chat_empty", "dialog_unknown", "not_found", "relogin_required",
                        "hh_unavailable", "portal_unavailable", "portal_error", "unavailable"]


class ChatOpenReply(Message):
    """The answer of poller.chats: the dialogue (`dialog_id` `chat{id}`, as BX24.im.openMessenger takes it) and how
    many messages were forwarded to open it, or an error with its Russian message."""

    ok: bool
    dialog_id: str | None = Field(default=None, pattern=r"^chat\d{1,20}$")
    chat_id: str | None = Field(default=None, description="the HeadHunter chat")
    forwarded: int = 0
    error: ChatOpenError | None = None
    message: str | None = None


def dialog_id(im_chat_id: int) -> str:
    """The dialogue id of an Open Line chat as the messenger names it (`chat{id}`; a bare number is a user)."""
    return f"chat{int(im_chat_id)}"


def idempotency_key(portal: str, im_message_id: int) -> str:
    """The HeadHunter idempotency key (a UUID) of a Bitrix24 message: a name-based UUID of portal and message, so
    that every retry, on any replica, posts the same key."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"rabota-sync:b24:{portal}:{im_message_id}"))


_SIGNATURE = re.compile(r"^\s*\[b\][^\[\]]{0,200}:\[/b\]\s*\[br\]\s*", re.IGNORECASE)
_BR = re.compile(r"\[br\]", re.IGNORECASE)
_BBCODE = re.compile(r"\[/?(?:b|i|u|s|url|color|size|font|code|quote|user|chat|icon|send|put)(?:=[^\]]*)?\]",
                     re.IGNORECASE)


def plain_text(bb_text: str) -> str:
    """What the applicant reads: the operator's signature (`[b]Name:[/b] [br]`) dropped, `[br]` as new lines, other
    BB-codes removed."""
    text = _SIGNATURE.sub("", bb_text, count=1)
    text = _BR.sub("\n", text)
    return _BBCODE.sub("", text).strip()


_NOT_NAME = re.compile(r"[^\w '\-]|[\d_]")


def person_name(full: str) -> tuple[str, str]:
    """(name, last_name) for imconnector.send.messages: letters, spaces, hyphens and apostrophes, ≤ 25 each."""
    words = [w for w in _NOT_NAME.sub(" ", full).split() if w.strip("'-")]
    if not words:
        return "Соискатель", ""
    first = words[0][:NAME_MAX].strip("'-")
    last = " ".join(words[1:])[:NAME_MAX].strip(" '-")
    return first or "Соискатель", last
