"""The timeline activity layout (reference §5.2): always ≤ 20 blocks, ≤ 2 buttons and ≤ 10 menu items."""

from __future__ import annotations

from typing import Any

from rabota_common.card_fields import card_lines
from rabota_common.models import ActivityContent, CardData


def _line(title: str, value: str) -> dict[str, Any]:
    return {"type": "withTitle", "properties": {
        "title": title, "inline": True, "block": {"type": "text", "properties": {"value": value}}}}


# A text block's value is cut here: the cover letter can be long, the card field keeps it whole.
BLOCK_TEXT_MAX = 600

def chat_action() -> dict[str, Any]:
    """Issue 18 item 6: the applicant's dialogue in the Open Line, opened from the app's slider (view "chat", which
    asks the ui for the dialogue and opens it in the messenger). Bitrix24 adds the card's entityTypeId and entityId
    to PLACEMENT_OPTIONS: the view is scoped by that entity, never by anything a frame could name."""
    return {"type": "openRestApp", "actionParams": {"view": "chat"},
            "sliderParams": {"title": "Чат с соискателем", "width": 560}}


def _chat_link() -> dict[str, Any]:
    """A body block (the footer's 2 buttons are «Другие отклики» and «Резюме»): «Чат: Написать»."""
    return {"type": "withTitle", "properties": {"title": "Чат", "inline": True, "block": {
        "type": "link", "properties": {"text": "Написать", "bold": True, "action": chat_action()}}}}


def activity_layout(content: ActivityContent, card: CardData | None = None) -> dict[str, Any]:
    """Five lines of the applicant, the link to their dialogue, and (F18) the seven screening ones: 13 blocks."""
    blocks = {
        "vacancy": _line("Вакансия", content.vacancy or "—"),
        "name": _line("ФИО", content.full_name or "—"),
        "city": _line("Город", content.city or "не указан"),
        "phone": _line("Телефон", content.phone or "не указан"),
        "email": _line("E-mail", content.email or "не указан"),
        "chat": _chat_link(),
    }
    for n, (title, value) in enumerate(card_lines(card) if card is not None else []):
        text = value if len(value) <= BLOCK_TEXT_MAX else value[:BLOCK_TEXT_MAX - 1] + "…"
        blocks[f"card{n}"] = _line(title, text)
    buttons: dict[str, Any] = {
        "other": {
            "title": "Другие отклики",
            "type": "primary",
            "action": {
                "type": "openRestApp",
                # Bitrix24 adds the card's entityTypeId and entityId to PLACEMENT_OPTIONS: the view is scoped
                # by that entity, never by an applicant key a frame could name.
                "actionParams": {"view": "other_responses"},
                "sliderParams": {"title": "Другие отклики", "width": 900},
            },
        },
    }
    if content.resume_url:
        buttons["resume"] = {"title": "Резюме", "type": "secondary",
                             "action": {"type": "redirect", "uri": content.resume_url}}
    # F16: the negotiation's own actions (invite, reject, move) open in the app's slider from the menu (the footer
    # holds at most 2 buttons).
    menu = {"items": {
        "actions": {"title": "Пригласить или отказать", "action": {
            "type": "openRestApp", "actionParams": {"view": "actions"},
            "sliderParams": {"title": "Действия с откликом", "width": 760}}},
        "chat": {"title": "Написать соискателю", "action": chat_action()},
    }}
    return {
        "icon": {"code": "comment"},
        "header": {"title": content.title},
        "body": {"logo": {"code": "comment"}, "blocks": blocks},
        "footer": {"buttons": buttons, "menu": menu},
    }
