"""HeadHunter webhook models check the ids of negotiation actions (ids are data, never paths)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from rabota_common.models import HhWebhookEvent

RESUME = "0123456789abcdef0123456789abcdef012345"


GOOD = {"id": "1", "subscription_id": "2", "user_id": "3", "action_type": "NEW_RESPONSE_OR_INVITATION_VACANCY",
        "payload": {"topic_id": "4", "resume_id": RESUME, "vacancy_id": "5", "employer_id": "6"}}


def test_webhook_model_checks_ids_of_negotiation_actions() -> None:
    assert HhWebhookEvent.model_validate(GOOD).payload["topic_id"] == "4"
    assert HhWebhookEvent.model_validate({**GOOD, "payload": {"topic_id": "4", "resume_id": None,
                                                              "vacancy_id": None}})
    bad_payloads = [{}, {"topic_id": None}, {"topic_id": 4}, {"topic_id": "../resumes/" + RESUME},
                    {"topic_id": "4", "vacancy_id": "../5"}, {"topic_id": "4", "resume_id": "../x"},
                    {"topic_id": "4", "resume_id": "zz"}]
    for payload in bad_payloads:
        with pytest.raises(ValidationError):
            HhWebhookEvent.model_validate({**GOOD, "payload": payload})
    for over in ({"id": "a b"}, {"id": ""}, {"id": "x" * 200}, {"subscription_id": None}, {"user_id": None},
                 {"user_id": "abc"}, {"subscription_id": "a\r\nb"}):
        with pytest.raises(ValidationError):
            HhWebhookEvent.model_validate({**GOOD, **over})
    # Actions without a negotiation are not checked here (the receiver acknowledges and drops them).
    assert HhWebhookEvent.model_validate({"id": "1", "action_type": "VACANCY_CHANGE", "payload": {}})
