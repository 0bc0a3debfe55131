import json

import pytest
from pydantic import ValidationError
from rabota_common.app_settings import SyncSettings, kind_of, status_key
from rabota_common.models import NegotiationFound
from rabota_mapper.enrich import build_command, contacts_of, ddmmyyyy

SIMPLE = SyncSettings(responsible_id=1, entity_type="lead", stage_map={"response": "NEW", "invitation": "IN_PROCESS"})
EXT = SyncSettings(responsible_id=1, entity_type="deal", category_id=0, extended=True, stage_map={
    k: f"S_{k}" for k in ("response", "consider", "phone_interview", "assessment", "interview", "offer", "hired",
                          "discard")})


def test_settings_validation():
    with pytest.raises(ValidationError):
        SyncSettings(responsible_id=1, entity_type="lead", stage_map={"response": "NEW"})
    with pytest.raises(ValidationError):
        SyncSettings(responsible_id=1, entity_type="smart_process", stage_map={"response": "a", "invitation": "b"})
    with pytest.raises(ValidationError):
        SyncSettings(responsible_id=0, entity_type="lead", stage_map={"response": "a", "invitation": "b"})


def test_status_families():
    assert kind_of("invitation") == "invitation"
    assert kind_of("response") == "response"
    assert status_key(SIMPLE, "invitation") == "invitation"
    assert status_key(EXT, "discard_by_applicant") == "discard"
    assert status_key(EXT, "interview") == "interview"
    assert status_key(EXT, "something_new") == "response"


def test_contacts_real_shapes():
    resume = {"contact": [
        {"type": {"id": "email"}, "value": "a@b.by"},
        {"type": {"id": "cell"}, "value": {"country": "375", "city": "29", "number": "1234567",
                                           "formatted": "+375 (29) 123-45-67"}},
    ]}
    assert contacts_of(resume) == ("+375 (29) 123-45-67", "a@b.by")
    assert ddmmyyyy("2024-01-25T10:00:00+0300") == "25-01-2024"


def _found():
    return NegotiationFound(portal="p", negotiation_id="55", vacancy_id="7", vacancy_name="Программист")


def test_hidden_names_get_placeholder():
    neg = {"id": "55", "created_at": "2024-01-25T10:00:00+0300", "employer_state": {"id": "response"},
           "vacancy": {"id": "7", "name": "Программист"},
           "resume": {"id": "r1", "url": "u", "alternate_url": "https://rabota.by/resume/r1"}}
    resume = {"id": "r1", "first_name": None, "last_name": None, "hidden_fields": [{"id": "names_and_photo"}],
              "area": {"name": "Минск"}, "contact": []}
    cmd = build_command(_found(), SIMPLE, neg, resume, None, None)
    assert cmd.contact.name == "Соискатель r1 скрыл ФИО"
    assert cmd.stage_id == "NEW" and cmd.status_name == "Отклик" and cmd.created_date == "25-01-2024"
    assert cmd.contact.city == "Минск"


def test_deleted_resume_still_builds():
    neg = {"id": "55", "employer_state": {"id": "invitation"}, "vacancy": {"name": "X"}, "resume": None}
    cmd = build_command(_found(), SIMPLE, neg, None, None, None)
    assert cmd.kind == "invitation" and cmd.stage_id == "IN_PROCESS"
    assert "удалил резюме" in cmd.comments
    assert cmd.applicant_key == "negotiation-55"


def test_inline_pdf_travels_as_one_line_of_base64():
    neg = {"id": "55", "employer_state": {"id": "response"}, "vacancy": {"name": "X"}, "resume": None}
    pdf = bytes(range(256)) * 300  # 76+ bytes of base64 would wrap with pydantic's Base64Bytes
    cmd = build_command(_found(), SIMPLE, neg, None, None, None).model_copy(update={"resume_pdf": pdf})
    raw = cmd.model_dump_json()
    assert "\\n" not in json.loads(raw)["resume_pdf"]
    assert type(cmd).model_validate_json(raw).resume_pdf == pdf
    assert type(cmd).model_validate(json.loads(raw)).resume_pdf == pdf  # a failure record's retry, a replay
    assert cmd.model_dump()["resume_pdf"] == pdf
    with pytest.raises(ValidationError):
        type(cmd).model_validate({**json.loads(raw), "resume_pdf": "not base64!"})
