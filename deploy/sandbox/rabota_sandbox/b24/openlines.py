"""State of a portal's Open Lines: the lines, the connectors an app registered, where they are active, and the
dialogues (an external chat on a line) with their messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class OlMessage:
    id: int  # the message id in Bitrix24 (im.message_id)
    author: str  # "client" (from the external channel) | "operator" | "system"
    user_id: int  # the portal user (operator) or the connector's technical user of the client
    text: str
    external_id: str | None  # message.id in the external system (incoming) or after send.status.delivery
    date: float
    files: list[dict[str, Any]] = field(default_factory=list)
    delivered: bool = False
    read: bool = False


@dataclass
class OlChat:
    chat_id: int  # the Open Line chat in Bitrix24 (im.chat_id)
    session_id: int
    line: int
    connector: str
    external_id: str  # chat.id in the external system
    name: str
    url: str
    client: dict[str, Any]  # the last `user` object sent for it
    client_user_id: int
    messages: list[OlMessage] = field(default_factory=list)


@dataclass
class OpenLines:
    lines: dict[int, dict[str, Any]] = field(default_factory=dict)
    connectors: dict[str, dict[str, Any]] = field(default_factory=dict)  # registered by the app, by ID
    active: dict[tuple[str, int], bool] = field(default_factory=dict)  # (connector, line) -> active
    data: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)  # connector.data.set
    chats: dict[int, OlChat] = field(default_factory=dict)
    by_external: dict[tuple[str, int, str], int] = field(default_factory=dict)  # (connector, line, ext id) -> chat
    client_users: dict[tuple[str, str], int] = field(default_factory=dict)  # (connector, ext user id) -> user
    next_id: int = 0

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    @classmethod
    def seeded(cls, with_lines: bool) -> OpenLines:
        state = cls()
        if with_lines:
            state.lines[1] = {"ID": "1", "LINE_NAME": "Подбор персонала", "ACTIVE": "Y"}
            state.lines[2] = {"ID": "2", "LINE_NAME": "Сайт компании", "ACTIVE": "Y"}
        return state
