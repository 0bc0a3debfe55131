"""Turning a HeadHunter negotiation and its resume into a self-contained CRM command."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from rabota_common.app_settings import SyncSettings, status_key
from rabota_common.models import (
    STATUS_NAMES_RU,
    ActivityContent,
    CardData,
    ContactData,
    CrmCommand,
    NegotiationFound,
)
from rabota_common.negotiation_kind import Kind, by_hh_bot, dig, enum_id, kind_of

HIDDEN_NAME = "Соискатель {rid} скрыл ФИО"
HIDDEN_PHONE_NOTE = "Соискатель {rid} скрыл телефон"
HIDDEN_EMAIL_NOTE = "Соискатель {rid} скрыл e-mail"
NO_RESUME = "Соискатель удалил резюме или закрыл к нему доступ (отклик {nid})"


def ddmmyyyy(iso: Any) -> str:
    if not iso or not isinstance(iso, str):
        return ""
    try:
        return datetime.strptime(iso[:10], "%Y-%m-%d").strftime("%d-%m-%Y")
    except ValueError:
        return ""


def _phone_text(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    text = value.get("formatted") or "".join(str(value.get(p) or "") for p in ("country", "city", "number"))
    return str(text) if text else None


def all_contacts(resume: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """Every phone and e-mail of the resume, in its order (hidden ones are absent)."""
    phones: list[str] = []
    emails: list[str] = []
    for contact in _dicts((resume or {}).get("contact")):
        kind = enum_id(contact.get("type"))
        value = contact.get("value")
        if kind == "email" and isinstance(value, str) and value and value not in emails:
            emails.append(value)
        elif kind in ("cell", "home", "work") and (phone := _phone_text(value)) and phone not in phones:
            phones.append(phone)
    return phones, emails


def contacts_of(resume: dict[str, Any]) -> tuple[str | None, str | None]:
    phone = email = None
    for contact in _dicts(resume.get("contact")):
        kind = enum_id(contact.get("type"))  # cell, home, work, email; a type added later is skipped
        value = contact.get("value")
        if kind == "email" and isinstance(value, str) and not email:
            email = value
        elif kind == "cell" and isinstance(value, dict) and not phone:
            phone = value.get("formatted") or "".join(
                str(value.get(p) or "") for p in ("country", "city", "number")) or None
    if phone is None:
        for contact in _dicts(resume.get("contact")):
            value = contact.get("value")
            if enum_id(contact.get("type")) in ("home", "work") and isinstance(value, dict):
                phone = value.get("formatted")
                break
    return phone, email


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def hidden_ids(resume: dict[str, Any]) -> set[str]:
    """The ids of `hidden_fields` (resume_hidden_fields: names_and_photo, phones, email, other_contacts,
    experience, or one added later, which then hides nothing we write)."""
    hidden = resume.get("hidden_fields")
    return {i for i in (enum_id(h) for h in hidden) if i} if isinstance(hidden, list) else set()


class _Applicant(NamedTuple):
    first: str | None
    last: str | None
    middle: str | None
    city: str | None
    phone: str | None
    email: str | None
    notes: list[str]


def _hidden_notes(hidden: set[str], rid: str) -> list[str]:
    notes: list[str] = []
    if "phones" in hidden:
        notes.append(HIDDEN_PHONE_NOTE.format(rid=rid))
    if "email" in hidden:
        notes.append(HIDDEN_EMAIL_NOTE.format(rid=rid))
    return notes


def _applicant(nid: str, rid: str, resume: dict[str, Any] | None, short: dict[str, Any]) -> _Applicant:
    """Name, city and contacts of the applicant as the resume shows them, with notes on what is hidden."""
    if resume is None and not short:
        return _Applicant(NO_RESUME.format(nid=nid), None, None, None, None, None, [NO_RESUME.format(nid=nid)])
    source = resume or short
    hidden = hidden_ids(source)
    first, last, middle = source.get("first_name"), source.get("last_name"), source.get("middle_name")
    if "names_and_photo" in hidden or not (first or last):
        first, last, middle = HIDDEN_NAME.format(rid=rid), None, None
    city = dig(source, "area", "name")
    city = city if isinstance(city, str) else None
    phone, email = contacts_of(resume) if resume is not None else (None, None)
    return _Applicant(first, last, middle, city, phone, email, _hidden_notes(hidden, rid))


SOURCE_NAMES = {
    "NEGOTIATION": "Отклик на rabota.by", "PHONE_CALL": "Звонок", "CHAT": "Чат на rabota.by",
    "AUTO_INVITE": "Приглашение бота rabota.by (автоподбор)", "AUTO_RESPONSE": "Автоотклик бота rabota.by",
}
BOT_MARK = "🤖 "


def source_label(source: str | None, kind: Kind) -> str:
    """The response's source as the card shows it; a negotiation made by HeadHunter's bots is marked."""
    base = SOURCE_NAMES.get(source or "") or (
        "Автоотклик бота rabota.by" if (source or "").startswith("AUTO_RESPONSE") else
        ("Приглашение" if kind == "invitation" else "Отклик") + (f" ({source})" if source else ""))
    return (BOT_MARK + base) if by_hh_bot(source) else base


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def card_of(resume: dict[str, Any] | None, short: dict[str, Any], source: str | None, kind: Kind,
            letter: str | None) -> CardData:
    """What recruiters screen by, from the full resume (the listed short one when it is gone)."""
    r = resume or short or {}
    raw_salary = r.get("salary")
    salary: dict[str, Any] = raw_salary if isinstance(raw_salary, dict) else {}
    experience = _dicts(r.get("experience"))
    last = experience[0] if experience else {}
    skills = [s.strip() for s in r.get("skill_set") or [] if isinstance(s, str) and s.strip()]
    city = dig(r, "area", "name")
    return CardData(
        city=_str(city), age=_int(r.get("age")), salary=_int(salary.get("amount")),
        salary_currency=_str(salary.get("currency")), experience_months=_int(dig(r, "total_experience", "months")),
        last_position=_str(last.get("position")), last_company=_str(last.get("company")), skills=skills[:50],
        cover_letter=letter, source=source_label(source, kind), hidden=sorted(hidden_ids(r)))


def _comments(title_word: str, vacancy_name: str, notes: list[str], resume_url: str | None) -> str:
    comments = "\n".join([f"{title_word} на вакансию «{vacancy_name}» на rabota.by", *notes])
    if resume_url:
        comments += f"\nРезюме: {resume_url}"
    return comments


def _vacancy_name(found: NegotiationFound, negotiation: dict[str, Any]) -> str:
    vacancy = negotiation.get("vacancy") or {}
    return str(vacancy.get("name") or found.vacancy_name or "")


def _employer_state(found: NegotiationFound, negotiation: dict[str, Any]) -> str | None:
    return enum_id(negotiation.get("employer_state")) or found.employer_state


def _hh_source(found: NegotiationFound, negotiation: dict[str, Any]) -> str | None:
    return enum_id(negotiation.get("source")) or found.hh_source


def build_command(found: NegotiationFound, settings: SyncSettings, negotiation: dict[str, Any],
                  resume: dict[str, Any] | None, resume_object: str | None,
                  resume_filename: str | None, kind: Kind | None = None, letter: str | None = None) -> CrmCommand:
    """`kind` is the decided one (rabota_mapper.kind); without it, the negotiation's own source and state say."""
    nid = found.negotiation_id
    vacancy_name = _vacancy_name(found, negotiation)
    employer_state = _employer_state(found, negotiation)
    source = _hh_source(found, negotiation)
    kind = kind or kind_of(employer_state, source)
    key = status_key(settings, employer_state, source, kind=kind)
    short = negotiation.get("resume") or {}
    rid = str((resume or short).get("id") or "")
    first, last, middle, city, phone, email, notes = _applicant(nid, rid, resume, short)
    phones, emails = all_contacts(resume)
    full_name = " ".join(p for p in (last, first, middle) if p)
    # Extended mode has no invitation stage: an invitation not moved yet sits on the response stage, but its
    # status field says what it is.
    status_name = STATUS_NAMES_RU[kind] if key == "response" else STATUS_NAMES_RU.get(key, STATUS_NAMES_RU[kind])
    resume_url = short.get("alternate_url") or (resume or {}).get("alternate_url")
    title_word = "Приглашение" if kind == "invitation" else "Отклик"
    applicant_key = rid or f"negotiation-{nid}"
    return CrmCommand(
        portal=found.portal,
        negotiation_id=nid,
        vacancy_id=found.vacancy_id,
        import_id=found.import_id,
        kind=kind,
        hh_status=key,
        hh_source=source,
        by_hh_bot=by_hh_bot(source),
        entity_type=settings.entity_type,
        entity_type_id=settings.entity_type_id,
        category_id=settings.category_id if settings.entity_type != "lead" else None,
        stage_id=settings.stage_map.get(key),
        responsible_id=settings.responsible_id,
        title=f"{title_word}: {full_name} — {vacancy_name}"[:255],
        contact=ContactData(name=str(first), last_name=last, second_name=middle, phone=phone, email=email,
                            city=city, phones=phones, emails=emails),
        comments=_comments(title_word, vacancy_name, notes, resume_url),
        created_date=ddmmyyyy(negotiation.get("created_at")),
        status_name=status_name,
        vacancy_name=vacancy_name,
        applicant_key=applicant_key,
        resume_object=resume_object,
        resume_filename=resume_filename,
        updated_at=negotiation.get("updated_at") or found.updated_at,
        activity=ActivityContent(
            title=title_word, vacancy=vacancy_name, full_name=full_name, city=city, phone=phone, email=email,
            resume_url=resume_url, applicant_key=applicant_key,
        ),
        card=card_of(resume, short, source, kind, letter),
        link_existing=settings.existing_contacts == "link",
    )


def pdf_filename(command_name: str, vacancy: str, created: str) -> str:
    safe = "".join(ch for ch in f"{command_name} _{vacancy} {created}" if ch not in '/\\:*?"<>|')
    return f"{safe.strip()[:120]}.pdf"
