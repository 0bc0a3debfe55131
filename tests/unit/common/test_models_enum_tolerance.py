"""Issue 16 items 2 and 3: an enum value HeadHunter adds later never fails a response; the negotiation's
`source` travels to the CRM command, bot-made ones are marked; response or invitation is decided from the
evidence in the documented order; the discard sub-states map onto «Отказ»."""

from __future__ import annotations

from typing import Any

import pytest
from rabota_common.app_settings import SyncSettings, status_key
from rabota_common.models import CrmCommand, HhWebhookEvent, NegotiationFound
from rabota_common.negotiation_kind import (
    dig,
)
from rabota_mapper.enrich import build_command, contacts_of, hidden_ids

SIMPLE = SyncSettings(responsible_id=1, entity_type="lead", stage_map={"response": "NEW", "invitation": "IN_PROCESS"})
EXT = SyncSettings(responsible_id=1, entity_type="deal", category_id=0, extended=True, stage_map={
    k: f"S_{k}" for k in ("response", "consider", "phone_interview", "assessment", "interview", "offer", "hired",
                          "discard")})
DISCARD_SUB_STATES = ("discard_by_employer", "discard_by_applicant", "discard_no_interaction",
                      "discard_vacancy_closed", "discard_to_other_vacancy", "discard_after_interview")


def negotiation(**over: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": "501", "created_at": "2026-11-01T10:00:00+0300", "updated_at": "2026-11-02T10:00:00+0300",
        "state": {"id": "invitation", "name": "Приглашение"},
        "employer_state": {"id": "consider", "name": "Подумать"}, "source": "NEGOTIATION", "chat_id": 4000000501,
        "vacancy": {"id": "90000001", "name": "Курьер"},
        "resume": {"id": "a" * 38, "first_name": "Иван", "last_name": "Петров", "url": None,
                   "alternate_url": "https://rabota.by/resume/x", "area": {"id": "1002", "name": "Минск"}},
    }
    item.update(over)
    return item


def found(**over: Any) -> NegotiationFound:
    return NegotiationFound(portal="p1", negotiation_id="501", vacancy_id="90000001", vacancy_name="Курьер", **over)


def command(settings: SyncSettings, item: dict[str, Any], resume: dict[str, Any] | None = None,
            **kw: Any) -> CrmCommand:
    return build_command(found(), settings, item, resume, None, None, **kw)


@pytest.mark.parametrize("settings", [SIMPLE, EXT])
def test_unknown_values_everywhere_never_fail_a_response(settings: SyncSettings) -> None:
    """Unknown state, employer state, source, funnel stage, messaging status, contact and hidden-field types,
    and enum objects where strings were: the command is built, nothing raises."""
    item = negotiation(
        state={"id": "something_new", "name": "?"}, employer_state={"id": "ai_screening", "name": "?"},
        source="AUTO_SOMETHING_2027", messaging_status="brand_new_status",
        funnel_stage={"id": "x", "state": {"id": "new_funnel_state"}, "substate": {"id": "y"}},
        created_at=1234, updated_at=None,
    )
    resume = {"id": "a" * 38, "first_name": "Иван", "last_name": "Петров",
              "hidden_fields": [{"id": "names_and_photo"}, {"id": "future_field"}, 42, None],
              "contact": [{"type": {"id": "telegram"}, "value": {"username": "x"}},
                          {"type": "email", "value": "a@b.by"},
                          {"type": {"id": "cell"}, "value": {"formatted": "+375 (29) 123-45-67"}},
                          "garbage", None]}
    cmd = command(settings, item, resume)
    assert cmd.kind == "response"  # no evidence of an invitation: the default, as before
    assert cmd.hh_status == "response"  # an employer state added later counts as a response
    assert cmd.hh_source == "AUTO_SOMETHING_2027" and cmd.by_hh_bot  # a later AUTO_* bot is still a bot
    assert cmd.created_date == ""
    assert cmd.contact.email == "a@b.by" and cmd.contact.phone == "+375 (29) 123-45-67"
    assert "скрыл ФИО" in cmd.contact.name  # the known hidden field still applies
    assert hidden_ids(resume) == {"names_and_photo", "future_field"}
    assert contacts_of({"contact": "not-a-list"}) == (None, None)


def test_source_is_kept_and_bots_marked() -> None:
    for source, bot in (("NEGOTIATION", False), ("PHONE_CALL", False), ("CHAT", False), ("AUTO_INVITE", True),
                        ("AUTO_RESPONSE", True), ("AUTO_RESPONSE_HH_PRO", True), ("CLICKME_CPA", False)):
        cmd = command(SIMPLE, negotiation(source=source))
        assert (cmd.hh_source, cmd.by_hh_bot) == (source, bot)
    # An object where a string was, or nothing at all.
    assert command(SIMPLE, negotiation(source={"id": "AUTO_INVITE", "name": "Автоприглашение"})).by_hh_bot
    cmd = command(SIMPLE, negotiation(source=None))
    assert (cmd.hh_source, cmd.by_hh_bot) == (None, False)
    # The listed source travels in the hh.negotiation message when the item does not.
    cmd = build_command(found(hh_source="CHAT"), SIMPLE, {"id": "501"}, None, None, None)
    assert cmd.hh_source == "CHAT"
    # The command model carries it through JSON.
    again = CrmCommand.model_validate_json(command(SIMPLE, negotiation(source="AUTO_INVITE")).model_dump_json())
    assert again.hh_source == "AUTO_INVITE" and again.by_hh_bot


@pytest.mark.parametrize("sub_state", DISCARD_SUB_STATES)
def test_discard_sub_states_map_onto_the_refusal_stage(sub_state: str) -> None:
    cmd = command(EXT, negotiation(employer_state={"id": sub_state, "name": "Отказ"}))
    assert (cmd.hh_status, cmd.stage_id, cmd.status_name) == ("discard", "S_discard", "Отказ")
    simple = command(SIMPLE, negotiation(employer_state={"id": sub_state, "name": "Отказ"}))
    assert simple.hh_status in ("response", "invitation") and simple.stage_id in ("NEW", "IN_PROCESS")


def test_the_decided_kind_wins_over_the_state() -> None:
    moved_on = negotiation(employer_state={"id": "consider", "name": "Подумать"})
    assert command(SIMPLE, moved_on).kind == "response"  # the state alone cannot tell
    cmd = command(SIMPLE, moved_on, kind="invitation")
    assert (cmd.kind, cmd.hh_status, cmd.stage_id, cmd.status_name) == (
        "invitation", "invitation", "IN_PROCESS", "Приглашение")
    assert cmd.title.startswith("Приглашение: ") and cmd.activity.title == "Приглашение"
    ext = command(EXT, moved_on, kind="invitation")  # extended: the stage follows the state, the title the kind
    assert (ext.hh_status, ext.stage_id) == ("consider", "S_consider") and ext.title.startswith("Приглашение: ")
    unmoved = command(EXT, negotiation(employer_state={"id": "invitation", "name": "Приглашение"}), kind="invitation")
    assert (unmoved.hh_status, unmoved.stage_id, unmoved.status_name) == ("response", "S_response", "Приглашение")
    assert command(EXT, negotiation(employer_state={"id": "response"})).status_name == "Отклик"
    assert status_key(SIMPLE, "interview", kind="invitation") == "invitation"
    assert status_key(EXT, "interview", kind="invitation") == "interview"


def test_webhook_actions_added_later_are_accepted() -> None:
    """A callback of an action HeadHunter adds later (CHAT_CREATED, …) validates with any payload; a chat message
    (CHAT_MESSAGE_CREATED, handled since the Open Line chats) needs numeric chat and message ids, and values added
    later in its payload are tolerated."""
    payload = {"chat_id": "1", "role": "RECRUITER_AI", "message_type": "VOICE"}
    for action, extra in (("CHAT_MESSAGE_CREATED", {"message_id": "2"}), ("CHAT_CREATED", {}),
                          ("SOMETHING_IN_2027", {})):
        event = HhWebhookEvent.model_validate({
            "id": "77", "subscription_id": "5", "action_type": action, "user_id": "0",
            "payload": {**payload, **extra}, "new_top_level": True})
        assert event.action_type == action


def test_back_sync_reads_action_states_tolerantly() -> None:
    from rabota_poller.backsync import pick_action

    actions = [{"id": "brand_new_action", "url": "https://api.hh.ru/negotiations/brand_new_action/1",
                "resulting_employer_state": {"id": "brand_new_state"}},
               {"id": "interview", "url": "https://api.hh.ru/negotiations/interview/1",
                "resulting_employer_state": "interview", "arguments": []},
               {"id": "discard_vacancy_closed", "url": "https://api.hh.ru/negotiations/discard_vacancy_closed/1",
                "resulting_employer_state": None}]
    assert (pick_action(EXT, actions, "interview") or {}).get("id") == "interview"
    assert (pick_action(EXT, actions, "discard") or {}).get("id") == "discard_vacancy_closed"


def test_nulls_where_objects_were_never_fail() -> None:
    assert dig({"download": {"pdf": None}}, "download", "pdf", "url") is None
    assert dig({"download": None}, "download", "pdf", "url") is None
    assert dig(None, "download") is None
    assert dig({"download": {"pdf": {"url": "u"}}}, "download", "pdf", "url") == "u"
    resume = {"id": "a" * 38, "first_name": "Иван", "last_name": "Петров", "area": "Минск", "download": None}
    cmd = command(SIMPLE, negotiation(resume=dict(resume, area=None)), resume)
    assert cmd.contact.city is None and cmd.contact.name == "Иван"
