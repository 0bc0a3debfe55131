"""Chats with applicants (F15): the pure rules between a HeadHunter chat and an Open Line."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError
from rabota_common.chats import ChatReply, idempotency_key, person_name, plain_text
from rabota_common.hh_client import HhClient
from rabota_common.models import HhWebhookEvent

PORTAL = "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4"


def test_the_applicant_reads_plain_text_without_the_operators_signature() -> None:
    assert plain_text("[b]Анна Ковалёва:[/b] [br]Добрый день!") == "Добрый день!"
    assert plain_text("[B]Anna:[/B][BR]Line one[br]Line [i]two[/i]") == "Line one\nLine two"
    # Only the leading signature goes: brackets the operator typed later stay as text.
    assert plain_text("[b]A:[/b] [br]see [b]A:[/b] [br] and [1]") == "see A: \n and [1]"
    assert plain_text("[b]A:[/b] [br]   ") == ""


def test_idempotency_key_is_a_stable_uuid_per_portal_and_message() -> None:
    key = idempotency_key(PORTAL, 86497)
    assert uuid.UUID(key).version == 5
    assert key == idempotency_key(PORTAL, 86497)
    assert key != idempotency_key(PORTAL, 86498)
    assert key != idempotency_key("e" * 32, 86497)


@pytest.mark.parametrize(("full", "expected"), [
    ("Иван Петров", ("Иван", "Петров")),
    ("Анна-Мария О'Нил Смит", ("Анна-Мария", "О'Нил Смит")),
    ("R2-D2 <script>", ("R", "D script")),
    ("", ("Соискатель", "")),
    ("12345", ("Соискатель", "")),
    ("Ааааааааааааааааааааааааааааааа Б", ("Ааааааааааааааааааааааааа", "Б")),
])
def test_person_names_fit_the_connector_rules(full: str, expected: tuple[str, str]) -> None:
    name, last = person_name(full)
    assert (name, last) == expected
    assert len(name) <= 25 and len(last) <= 25


def test_chat_webhooks_need_numeric_ids() -> None:
    body = {"id": "1", "subscription_id": "700001", "action_type": "CHAT_MESSAGE_CREATED", "user_id": "3001",
            "payload": {"chat_id": "5000000001", "message_id": "7000000001", "message_type": "SIMPLE",
                        "role": "APPLICANT"}}
    assert HhWebhookEvent.model_validate(body).payload["chat_id"] == "5000000001"
    with pytest.raises(ValidationError):
        HhWebhookEvent.model_validate({**body, "payload": {**body["payload"], "chat_id": "../me"}})
    with pytest.raises(ValidationError):
        HhWebhookEvent.model_validate({**body, "payload": {"chat_id": "1"}})


def test_chat_actions_subscribe_without_settings() -> None:
    actions = HhClient._actions(["NEW_RESPONSE_OR_INVITATION_VACANCY", "CHAT_MESSAGE_CREATED"])
    assert actions == [{"type": "NEW_RESPONSE_OR_INVITATION_VACANCY", "settings": {"vacancies_only_mine": False}},
                       {"type": "CHAT_MESSAGE_CREATED"}]


def test_a_reply_names_a_real_portal_and_chat() -> None:
    ok = ChatReply(portal=PORTAL, line=1, chat_id="5000000001", im_chat_id=17, im_message_id=42, user_id=1, text="x")
    assert ok.chat_id == "5000000001"
    for bad in ({"portal": "not-a-member-id"}, {"chat_id": "5*"}, {"im_message_id": 0}, {"line": 0}):
        with pytest.raises(ValidationError):
            ChatReply.model_validate({**ok.model_dump(), **bad})
