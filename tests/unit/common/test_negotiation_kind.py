"""Response or invitation, decided from the evidence in the documented order (issue 16 item 3)."""

from __future__ import annotations

from typing import Any

from rabota_common.negotiation_kind import (
    by_hh_bot,
    enum_id,
    kind_from_chat,
    kind_from_source,
    kind_from_state,
    kind_of,
)


def msg(type_: Any, role: Any) -> dict[str, Any]:
    return {"id": "1", "type": type_, "sender_display_info": {"name": "x", "role": role}, "payload": {"text": "t"}}


def test_kind_from_the_chat_first_message() -> None:
    assert kind_from_chat([msg("SIMPLE", "EMPLOYER")]) == "invitation"
    assert kind_from_chat([msg("SIMPLE", "APPLICANT")]) == "response"
    # Joins and leaves (and message types added later) are skipped; the first message with content decides.
    assert kind_from_chat([msg("PARTICIPANT_JOINED", "EMPLOYER"), msg("VOICE_2027", "EMPLOYER"),
                           msg("SIMPLE", "APPLICANT")]) == "response"
    # A bot, no role, a role added later, an empty chat, garbage: no evidence.
    for messages in ([msg("SIMPLE", "BOT")], [msg("SIMPLE", None)], [msg("SIMPLE", "RECRUITER_AI")], [],
                     [None, "x", 3], [{"type": "SIMPLE"}]):
        assert kind_from_chat(messages) is None, messages


def test_kind_from_source_and_state() -> None:
    assert kind_from_source("AUTO_INVITE") == "invitation"
    assert kind_from_source("AUTO_RESPONSE") == kind_from_source("AUTO_RESPONSE_HH_PRO") == "response"
    for source in ("NEGOTIATION", "PHONE_CALL", "CHAT", "VR", "APPLICANT_QUESTIONS", "CLICKME_CPA", "REGISTRATION",
                   "SOMETHING_NEW", None, 5, {"id": None}):
        assert kind_from_source(source) is None, source
    assert kind_from_state("response") == "response"
    assert kind_from_state({"id": "invitation"}) == "invitation"
    # Created in a later stage and never moved since: the employer made it.
    assert kind_from_state("consider", "2026-11-01T10:00:00+0300", "2026-11-01T10:00:00+0300") == "invitation"
    assert kind_from_state("consider", "2026-11-01T10:00:00+0300", "2026-11-05T10:00:00+0300") == "response"
    assert kind_from_state("discard_by_applicant", "t", "t") == "response"
    assert kind_from_state("brand_new_state") == kind_from_state(None) == kind_from_state(42) == "response"
    assert kind_of("consider", "AUTO_INVITE") == "invitation"
    assert kind_of("response", "AUTO_INVITE") == "response"  # an invitation is never in the response state
    assert enum_id({"id": ""}) is None and enum_id("x") == "x"
    assert not by_hh_bot(None) and not by_hh_bot("NEGOTIATION") and by_hh_bot({"id": "AUTO_RESPONSE"})
