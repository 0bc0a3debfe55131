"""Acting from the card (F16), the poller's pure parts: how a HeadHunter action is offered (kind, message, its
template's text) and the timeline line it leaves."""

from __future__ import annotations

from typing import Any

from rabota_poller.actions import action_kind, comment_text, describe_action, usable


def _action(aid: str, **extra: Any) -> dict[str, Any]:
    return {"id": aid, "name": aid.title(), "enabled": True, "hidden": False, "url": f"https://api.hh.ru/negotiations/{aid}/1",
            "resulting_employer_state": {"id": aid, "name": aid}, "arguments": [{"id": "message", "required": False}],
            "templates": [{"id": "t", "name": "Шаблон", "url": f"https://api.hh.ru/message_templates/t?topic_id=1&a={aid}"}],
            **extra}


def test_kinds_follow_the_resulting_state() -> None:
    assert action_kind("interview") == action_kind("phone_interview") == action_kind("offer") == "invite"
    assert action_kind("discard_by_employer") == action_kind("discard_vacancy_closed") == "discard"
    assert action_kind("consider") == action_kind("some_new_state") == "move"


def test_only_usable_actions_are_offered() -> None:
    actions = [_action("interview"), _action("consider", enabled=False), _action("offer", hidden=True),
               {**_action("hired"), "url": None}, "garbage", _action("discard_by_employer")]
    assert [a["id"] for a in usable(actions)] == ["interview", "discard_by_employer"]
    assert usable(None) == []


def test_an_action_is_described_with_its_filled_template() -> None:
    action = _action("interview")
    url = action["templates"][0]["url"]
    described = describe_action(action, {url: "Иван, приглашаем вас."})
    assert described.kind == "invite" and described.message and not described.message_required
    assert described.text == "Иван, приглашаем вас."
    assert described.templates[0].text == "Иван, приглашаем вас." and described.templates[0].name == "Шаблон"
    silent = describe_action({**action, "arguments": []}, {url: "x"})
    assert silent.message is False and silent.text == ""
    required = describe_action({**action, "arguments": [{"id": "message", "required": True}]}, {})
    assert required.message_required and required.text == ""


def test_timeline_lines() -> None:
    assert comment_text("invite", "Собеседование", "Ждём вас.").startswith("Приглашение отправлено на rabota.by")
    assert "Ждём вас." in comment_text("invite", "Собеседование", "Ждём вас.")
    assert comment_text("discard", "Отказ", None) == "Отказ отправлен на rabota.by: «Отказ»."
    assert comment_text("move", "Подумать", "").startswith("Отклик перемещён")
