"""The timeline activity layout: the documented limits (≤ 20 blocks, ≤ 2 buttons, ≤ 10 menu items), placeholders
for what the applicant did not give, the Other responses button and the «Написать» link scoped by the card, never by
an applicant key; and the layout passes the Bitrix24 sandbox's strict LayoutDto validation."""

from __future__ import annotations

import json

import pytest
from rabota_common.card_fields import card_lines
from rabota_common.models import ActivityContent, CardData
from rabota_crm_writer.layout import BLOCK_TEXT_MAX, activity_layout
from rabota_sandbox.b24.layout import validate_layout
from rabota_sandbox.b24.portal import RestError


def _texts(layout: dict[str, object]) -> dict[str, str]:
    """Title → shown value of each `withTitle` line whose inner block is text."""
    blocks = layout["body"]["blocks"]  # type: ignore[index]
    return {b["properties"]["title"]: b["properties"]["block"]["properties"]["value"] for b in blocks.values()
            if b["properties"]["block"]["type"] == "text"}


def test_a_full_activity() -> None:
    layout = activity_layout(ActivityContent(
        title="Отклик", vacancy="Повар", full_name="Иван Петров", city="Минск", phone="+375291234567",
        email="ivan@example.by", resume_url="https://rabota.by/resume/abc", applicant_key="r1"))
    blocks, buttons = layout["body"]["blocks"], layout["footer"]["buttons"]
    assert layout["header"] == {"title": "Отклик"} and len(blocks) <= 20 and len(buttons) == 2
    assert _texts(layout) == {"Вакансия": "Повар", "ФИО": "Иван Петров", "Город": "Минск", "Телефон": "+375291234567",
                      "E-mail": "ivan@example.by"}
    assert buttons["resume"]["action"] == {"type": "redirect", "uri": "https://rabota.by/resume/abc"}
    assert buttons["other"]["action"]["actionParams"] == {"view": "other_responses"}
    assert "r1" not in json.dumps(layout)  # the applicant key never reaches the card


def test_missing_values_read_as_placeholders_and_no_resume_button() -> None:
    layout = activity_layout(ActivityContent(title="Приглашение", vacancy="", full_name="", applicant_key="r2"))
    assert list(_texts(layout).values()) == ["—", "—", "не указан", "не указан", "не указан"]
    assert list(layout["footer"]["buttons"]) == ["other"]


def test_the_menu_opens_the_action_dialog() -> None:
    """F16: invite, reject or move from the timeline, in the app's slider (the footer's 2 buttons are taken)."""
    layout = activity_layout(ActivityContent(title="Отклик", vacancy="Повар", full_name="", applicant_key="r3"))
    item = layout["footer"]["menu"]["items"]["actions"]
    assert item["title"] == "Пригласить или отказать"
    assert item["action"]["type"] == "openRestApp" and item["action"]["actionParams"] == {"view": "actions"}


def test_the_write_link_and_menu_item_open_the_chat_view() -> None:
    """Issue 18 item 6: «Написать» opens the app's slider in view "chat"; the footer's two buttons stay the manual's
    «Другие отклики» and «Резюме», so it is a body link (a `withTitle` «Чат») and a menu item."""
    layout = activity_layout(ActivityContent(title="Отклик", vacancy="Повар", full_name="Анна", applicant_key="r4",
                                             resume_url="https://rabota.by/resume/abc"))
    chat = layout["body"]["blocks"]["chat"]
    assert chat["type"] == "withTitle" and chat["properties"]["title"] == "Чат"
    link = chat["properties"]["block"]
    assert link["type"] == "link" and link["properties"]["text"] == "Написать"
    action = link["properties"]["action"]
    assert action["type"] == "openRestApp" and action["actionParams"] == {"view": "chat"}
    assert action["sliderParams"]["title"] == "Чат с соискателем"
    item = layout["footer"]["menu"]["items"]["chat"]
    assert item["title"] == "Написать соискателю" and item["action"] == action
    assert item["action"] is not action  # each place its own dict
    assert list(layout["footer"]["buttons"]) == ["other", "resume"]
    assert "r4" not in json.dumps(layout)


def _card() -> CardData:
    return CardData(city="Минск", age=30, salary=2000, salary_currency="BYR", experience_months=60,
                    last_position="Повар", last_company="Кафе", skills=["Гриль"],
                    cover_letter="Здравствуйте! " * 100, source="Отклик")


def test_the_fullest_layout_keeps_the_limits_and_passes_the_strict_validation() -> None:
    card = _card()
    assert len(card_lines(card)) == 7
    layout = activity_layout(ActivityContent(title="Отклик", vacancy="Повар", full_name="Анна", applicant_key="r5",
                                             resume_url="https://rabota.by/resume/abc"), card)
    assert len(layout["body"]["blocks"]) == 13 <= 20
    assert len(layout["footer"]["buttons"]) <= 2 and len(layout["footer"]["menu"]["items"]) <= 10
    assert all(len(v) <= BLOCK_TEXT_MAX for v in _texts(layout).values())
    validate_layout(json.loads(json.dumps(layout)))  # as the writer sends it: JSON


@pytest.mark.parametrize("text, code", [
    ("<b>Написать</b>", "WRONG_FIELD_VALUE"), ("Напи&nbsp;сать", "WRONG_FIELD_VALUE"),
    ({"ru": "<i>x</i>", "en": "Write"}, "WRONG_FIELD_VALUE"), ("", "FIELD_IS_REQUIRED"), ("  ", "FIELD_IS_REQUIRED"),
])
def test_the_sandbox_refuses_a_link_with_html_or_without_text(text: object, code: str) -> None:
    """Reference §5.2: a link's `text*` is plain text (no HTML) and `action*` is required."""
    layout = activity_layout(ActivityContent(title="Отклик", vacancy="", full_name="", applicant_key="r6"))
    layout["body"]["blocks"]["chat"]["properties"]["block"]["properties"]["text"] = text
    with pytest.raises(RestError) as caught:
        validate_layout(layout)
    assert caught.value.error == code


def test_the_sandbox_requires_a_links_action() -> None:
    layout = activity_layout(ActivityContent(title="Отклик", vacancy="", full_name="", applicant_key="r7"))
    del layout["body"]["blocks"]["chat"]["properties"]["block"]["properties"]["action"]
    with pytest.raises(RestError) as caught:
        validate_layout(layout)
    assert caught.value.error == "FIELD_IS_REQUIRED" and "action" in str(caught.value)
