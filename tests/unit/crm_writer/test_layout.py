"""The timeline activity layout: the documented limits (≤ 20 blocks, ≤ 2 buttons), placeholders for what the
applicant did not give, and the Other responses button scoped by the card, never by an applicant key."""

from __future__ import annotations

import json

from rabota_common.models import ActivityContent
from rabota_crm_writer.layout import activity_layout


def test_a_full_activity() -> None:
    layout = activity_layout(ActivityContent(
        title="Отклик", vacancy="Повар", full_name="Иван Петров", city="Минск", phone="+375291234567",
        email="ivan@example.by", resume_url="https://rabota.by/resume/abc", applicant_key="r1"))
    blocks, buttons = layout["body"]["blocks"], layout["footer"]["buttons"]
    assert layout["header"] == {"title": "Отклик"} and len(blocks) <= 20 and len(buttons) == 2
    values = {b["properties"]["title"]: b["properties"]["block"]["properties"]["value"] for b in blocks.values()}
    assert values == {"Вакансия": "Повар", "ФИО": "Иван Петров", "Город": "Минск", "Телефон": "+375291234567",
                      "E-mail": "ivan@example.by"}
    assert buttons["resume"]["action"] == {"type": "redirect", "uri": "https://rabota.by/resume/abc"}
    assert buttons["other"]["action"]["actionParams"] == {"view": "other_responses"}
    assert "r1" not in json.dumps(layout)  # the applicant key never reaches the card


def test_missing_values_read_as_placeholders_and_no_resume_button() -> None:
    layout = activity_layout(ActivityContent(title="Приглашение", vacancy="", full_name="", applicant_key="r2"))
    values = [b["properties"]["block"]["properties"]["value"] for b in layout["body"]["blocks"].values()]
    assert values == ["—", "—", "не указан", "не указан", "не указан"]
    assert list(layout["footer"]["buttons"]) == ["other"]


def test_the_menu_opens_the_action_dialog() -> None:
    """F16: invite, reject or move from the timeline, in the app's slider (the footer's 2 buttons are taken)."""
    layout = activity_layout(ActivityContent(title="Отклик", vacancy="Повар", full_name="", applicant_key="r3"))
    item = layout["footer"]["menu"]["items"]["actions"]
    assert item["title"] == "Пригласить или отказать"
    assert item["action"]["type"] == "openRestApp" and item["action"]["actionParams"] == {"view": "actions"}
