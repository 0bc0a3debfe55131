"""The poller's chat rules (F15): a HeadHunter chat message as an Open Line message, replies split for HeadHunter."""

from __future__ import annotations

from typing import Any

from rabota_poller.chats import ATTACHMENT_NOTE, BOT_MARK, chunks, line_message


def _message(role: str | None, text: str | None = "Привет", icon: str | None = None) -> dict[str, Any]:
    return {"id": "7000000001", "creation_time": "2026-12-03T10:00:00+0300", "type": "SIMPLE",
            "sender_display_info": {"name": "Иван Петров", "role": role, "icon": icon,
                                    "is_current_participant": role == "EMPLOYER"},
            "payload": {"text": text, "attachments": None if text else [{"id": "1"}]}}


def test_line_message_shows_who_wrote() -> None:
    chat = {"display": {"title": "Python-разработчик"}}
    applicant = line_message("5000000001", chat, _message("APPLICANT", icon="https://img/x.png"), 3)
    assert applicant["user"] == {"id": "hh-chat-5000000001", "name": "Иван", "last_name": "Петров",
                                 "picture": {"url": "https://img/x.png"}}
    assert applicant["message"]["text"] == "Привет" and "user_id" not in applicant["message"]
    assert applicant["message"]["date"] == 1796281200  # 07:00 UTC
    assert applicant["chat"] == {"id": "5000000001", "name": "rabota.by: Python-разработчик"}
    employer = line_message("5000000001", chat, _message("EMPLOYER"), 3)
    assert employer["message"]["user_id"] == 3 and "(на rabota.by)" in employer["message"]["text"]
    assert employer["user"] == {"id": "hh-chat-5000000001"}
    bot = line_message("5000000001", chat, _message("BOT"), 3)
    assert BOT_MARK in bot["message"]["text"]
    files = line_message("5000000001", chat, _message("APPLICANT", text=None), 3)
    assert files["message"]["text"] == ATTACHMENT_NOTE


def test_long_replies_are_split_for_headhunter() -> None:
    assert [len(c) for c in chunks("x" * 9000)] == [4096, 4096, 808]
    assert chunks("short") == ["short"]
