"""JSON shapes of the real API: vacancies, negotiations (short resume), full resumes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from .config import EMPLOYER_ID
from .data import (
    DEFAULT_MAIL_TEMPLATES,
    EMPLOYER_STATE_IDS,
    EMPLOYER_STATE_NAMES,
    HIDDEN_FIELD_NAMES,
    MINSK_TZ,
    STATE_NAMES,
    VACANCY_CLOSED_STATE,
    Manager,
    Negotiation,
    Resume,
    ResumeDetails,
    Store,
    Vacancy,
    applicant_state,
    iso,
    translit,
)
from .events import chat_id

GENDER_NAMES = {"male": "Мужской", "female": "Женский"}
CONTACT_TYPE_NAMES = {
    "cell": "Мобильный телефон",
    "work": "Рабочий телефон",
    "home": "Домашний телефон",
    "email": "Эл. почта",
}
ORDER_TYPES = [
    ("last_change_time_except_employer_inbox", "по дате последнего изменения"),
    ("relevance", "по соответствию вакансии"),
    ("created_at", "по дате отклика"),
]
DAY = 86_400.0


def area_json(base: str, area_id: str, name: str) -> dict[str, Any]:
    return {"id": area_id, "name": name, "url": f"{base}areas/{area_id}"}


def manager_json(base: str, store: Store, m: Manager, vacancies_count: int | None) -> dict[str, Any]:
    return {
        "id": m.id,
        "email": m.email,
        "first_name": m.first_name,
        "last_name": m.last_name,
        "middle_name": m.middle_name,
        "full_name": f"{m.last_name} {m.first_name} {m.middle_name}",
        "name": f"{m.last_name} {m.first_name}",
        "position": m.position,
        "area": area_json(base, "1002", "Минск"),
        "phone": {"country": "375", "city": "17", "number": m.phone_number, "comment": None},
        "additional_phone": None,
        "is_main_contact_person": m.is_admin,
        "vacancies_count": vacancies_count,
    }


def vacancy_json(base: str, store: Store, v: Vacancy) -> dict[str, Any]:
    m = store.managers[v.manager_id]
    counts = store.stats_vacancy(v.id)
    published = v.created_at + 3600
    return {
        "id": v.id,
        "name": v.name,
        "url": f"{base}vacancies/{v.id}?host=rabota.by",
        "alternate_url": f"https://rabota.by/vacancy/{v.id}",
        "area": area_json(base, v.area_id, v.area_name),
        "created_at": iso(v.created_at),
        "published_at": iso(published),
        "expires_at": iso(published + 30 * DAY),
        "archived": not v.active,
        "type": {"id": "open", "name": "Открытая"},
        "billing_type": {"id": "standard", "name": "Стандарт"},
        "employer": {"id": EMPLOYER_ID, "name": store.employer["name"]},
        "manager": {"id": m.id, "first_name": m.first_name, "last_name": m.last_name},
        "department": None,
        "address": None,
        "counters": {
            "responses": counts["responses"],
            "unread_responses": counts["unread_responses"],
            "invitations": counts["invitations"],
            "invitations_and_responses": counts["responses"] + counts["invitations"],
            "resumes_in_progress": counts["resumes_in_progress"],
            "views": counts["responses"] * 7 + v.index,
            "calls": 0,
            "new_missed_calls": 0,
        },
        "has_updates": counts["unread_responses"] > 0,
    }


def vacancy_short_json(base: str, store: Store, v: Vacancy) -> dict[str, Any]:
    return {
        "id": v.id,
        "name": v.name,
        "url": f"{base}vacancies/{v.id}?host=rabota.by",
        "alternate_url": f"https://rabota.by/vacancy/{v.id}",
        "area": area_json(base, v.area_id, v.area_name),
        "archived": not v.active,
        "employer": {"id": EMPLOYER_ID, "name": store.employer["name"]},
        "address": None,
        "salary": None,
        "published_at": iso(v.created_at + 3600),
    }


def slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "_", translit(text)).strip("_").lower()
    return s or "resume"


def download_urls(base: str, store: Store, res: Resume, d: ResumeDetails, neg: Negotiation | None) -> dict[str, Any]:
    hidden_names = "names_and_photo" in res.hidden_fields
    name = slug(d.title if hidden_names else f"{d.last_name} {d.first_name}")
    q = f"topic_id={neg.id}&vacancy_id={neg.vacancy_id}" if neg else ""
    urls = {}
    for ext in ("pdf", "rtf"):
        tail = f"&{q}" if q else ""
        urls[ext] = {"url": f"{base}resumes/{res.id}/download/{name}.{ext}?type={ext}{tail}"}
    return urls


def _photo(res: Resume) -> dict[str, Any] | None:
    if res.index % 2 or "names_and_photo" in res.hidden_fields:
        return None
    root = f"https://img.rabota.by/photo/{res.id}"
    return {
        "id": res.id[:10],
        "small": f"{root}/small.jpg",
        "medium": f"{root}/medium.jpg",
        "40": f"{root}/40.jpg",
        "100": f"{root}/100.jpg",
        "500": f"{root}/500.jpg",
    }


def _experience(d: ResumeDetails, res: Resume, full: bool, created: float) -> list[dict[str, Any]]:
    out = []
    start = datetime.fromtimestamp(created, MINSK_TZ)
    hide = "experience" in res.hidden_fields
    for i, company in enumerate(d.companies):
        end = start - timedelta(days=400 * i)
        begin = end - timedelta(days=380)
        item: dict[str, Any] = {
            "start": begin.strftime("%Y-%m-01"),
            "end": None if i == 0 else end.strftime("%Y-%m-01"),
            "company": None if hide else company,
            "company_id": None,
            "company_url": None,
            "employer": None,
            "industries": [],
            "area": {"id": d.area_id, "name": d.area_name},
        }
        if full or i == 0:
            item["position"] = d.title
        if full:
            item["description"] = f"Работа в должности «{d.title}»."
        out.append(item)
    return out


def resume_common(base: str, store: Store, res: Resume, neg: Negotiation | None) -> dict[str, Any]:
    d = store.details(res)
    hidden_names = "names_and_photo" in res.hidden_fields
    first_neg = neg or store.negotiations[store.by_resume[res.id][0]]
    created = first_neg.created_at - 30 * DAY
    hist_q = f"?topic_id={neg.id}" if neg else ""
    return {
        "id": res.id,
        "title": d.title,
        "url": f"{base}resumes/{res.id}" + (f"?topic_id={neg.id}" if neg else ""),
        "alternate_url": (
            f"https://rabota.by/resume/{res.id}?t={neg.id}&vacancyId={neg.vacancy_id}"
            if neg
            else f"https://rabota.by/resume/{res.id}"
        ),
        "first_name": None if hidden_names else d.first_name,
        "last_name": None if hidden_names else d.last_name,
        "middle_name": None if hidden_names else d.middle_name,
        "age": d.age,
        "area": area_json(base, d.area_id, d.area_name),
        "gender": {"id": d.gender, "name": GENDER_NAMES[d.gender]},
        "salary": {"amount": d.salary, "currency": "BYR"},
        "total_experience": {"months": d.experience_months},
        "education": {"level": {"id": "higher", "name": "Высшее"}, "primary": []},
        "certificate": [],
        "photo": _photo(res),
        "hidden_fields": [{"id": f, "name": HIDDEN_FIELD_NAMES[f]} for f in res.hidden_fields],
        "can_view_full_info": True,
        "created_at": iso(created),
        "updated_at": iso(created + 10 * DAY),
        "owner": {
            "id": d.owner_id,
            "comments": {"url": f"{base}applicant_comments/{d.owner_id}", "counters": {"total": 0}},
        },
        "negotiations_history": {"url": f"{base}resumes/{res.id}/negotiations_history{hist_q}"},
        "download": download_urls(base, store, res, d, neg),
        "platform": {"id": "headhunter"},
        "favorited": False,
        "tags": [],
        "marked": False,
        "_details": d,
        "_created": created,
    }


def resume_short_json(base: str, store: Store, res: Resume, neg: Negotiation) -> dict[str, Any] | None:
    if res.variant == "deleted":
        return None
    out = resume_common(base, store, res, neg)
    d: ResumeDetails = out.pop("_details")
    created = out.pop("_created")
    out["experience"] = _experience(d, res, False, created)
    out["viewed"] = neg.viewed
    out["actions"] = {"download": out["download"]}
    return out


def resume_full_json(
    base: str, store: Store, res: Resume, neg: Negotiation | None, with_history: bool, with_status: bool
) -> dict[str, Any]:
    out = resume_common(base, store, res, neg)
    d: ResumeDetails = out.pop("_details")
    created = out.pop("_created")
    hidden = set(res.hidden_fields)
    phone_value = (
        None
        if "phones" in hidden
        else {
            "country": "375",
            "city": d.phone_city,
            "number": d.phone_number,
            "formatted": d.phone_formatted,
        }
    )
    contact: list[dict[str, Any]] = [
        {
            "type": {"id": "cell", "name": CONTACT_TYPE_NAMES["cell"]},
            "value": phone_value,
            "preferred": True,
            "comment": None if res.index % 3 else "звонить после 18:00",
            "verified": True,
            "need_verification": False,
        }
    ]
    if d.work_phone:
        contact.append(
            {
                "type": {"id": "work", "name": CONTACT_TYPE_NAMES["work"]},
                "value": None
                if "phones" in hidden
                else {
                    "country": "375",
                    "city": "17",
                    "number": d.phone_number[::-1],
                    "formatted": f"+375 (17) {d.phone_number[::-1][:3]}-{d.phone_number[::-1][3:5]}-"
                    f"{d.phone_number[::-1][5:]}",
                },
                "preferred": False,
                "comment": None,
                "verified": False,
                "need_verification": False,
            }
        )
    contact.append(
        {
            "type": {"id": "email", "name": CONTACT_TYPE_NAMES["email"]},
            "value": None if "email" in hidden else d.email,
            "preferred": False,
            "comment": None,
            "verified": False,
            "need_verification": False,
        }
    )
    out.update(
        {
            "birth_date": d.birth_date,
            "metro": None,
            "relocation": {"type": {"id": "no_relocation", "name": "не могу переехать"}, "area": []},
            "citizenship": [{"id": "16", "name": "Беларусь", "url": f"{base}areas/16"}],
            "work_ticket": [{"id": "16", "name": "Беларусь", "url": f"{base}areas/16"}],
            "experience": _experience(d, res, True, created),
            "language": [{"id": "rus", "name": "Русский", "level": {"id": "l1", "name": "Родной"}}],
            "skill_set": ["Коммуникабельность", "Работа в команде"],
            "skills": "Ответственность, пунктуальность.",
            "professional_roles": [{"id": "40", "name": "Другое"}],
            "employments": [{"id": "full", "name": "Полная занятость"}],
            "schedules": [{"id": "fullDay", "name": "Полный день"}],
            "contact": contact,
            "site": []
            if res.index % 5
            else [
                {
                    "type": {"id": "linkedin", "name": "LinkedIn"},
                    "url": None if "other_contacts" in hidden else f"https://linkedin.example/in/{res.id[:8]}",
                }
            ],
            "actions": {
                "download": out["download"],
                "download_with_contact": out["download"],
                "get_with_contact": {"url": out["url"]},
            },
            "contacts_open_until_date": None,
            "view_without_contacts_reason": None,
            "resume_locale": {"id": "RU", "name": "Русский"},
            "paid_services": [],
        }
    )
    if with_history:
        items = []
        for nid in store.by_resume[res.id][-3:]:
            n = store.negotiations[nid]
            v = store.vacancies[n.vacancy_id]
            items.append(
                {
                    "id": v.id,
                    "name": v.name,
                    "url": f"{base}vacancies/{v.id}",
                    "last_change_time": iso(n.updated_at),
                    "employer_state": {
                        "id": n.employer_state,
                        "name": EMPLOYER_STATE_NAMES[n.employer_state],
                    },
                }
            )
        out["negotiations_history"] = {"vacancies": items}
    if with_status:
        out["job_search_status"] = {"id": "active_search", "name": "Активно ищет работу"}
    return out


INVITE_STATES = ("phone_interview", "assessment", "interview", "offer", "hired")


def _templates(base: str, neg: Negotiation, sid: str) -> list[dict[str, Any]]:
    """The reply templates an action offers (`templates[{id,name,quick,url}]`): an invitation's after a response,
    a rejection's after a response or an interview."""
    if sid.startswith("discard_by_employer") or sid == VACANCY_CLOSED_STATE:
        after_interview = neg.employer_state in ("interview", "offer")
        tid = "discard_after_interview" if after_interview else "discard_after_response"
    elif sid in INVITE_STATES:
        tid = "invite_after_response" if neg.kind == "response" else "invite"
    else:
        return []
    return [{"id": tid, "name": DEFAULT_MAIL_TEMPLATES[tid][0], "quick": False,
             "url": f"{base}message_templates/{tid}?topic_id={neg.id}"}]


def actions_json(base: str, neg: Negotiation, vacancy_active: bool = True) -> list[dict[str, Any]]:
    """The employer's actions on the negotiation: every other state while the vacancy is open; only «Вакансия
    закрыта» once it is archived."""
    out = []
    states = EMPLOYER_STATE_IDS if vacancy_active else [VACANCY_CLOSED_STATE]
    for sid in states:
        if sid == neg.employer_state or sid == "response":
            continue
        out.append(
            {
                "id": sid,
                "name": EMPLOYER_STATE_NAMES[sid],
                "enabled": True,
                "hidden": False,
                "method": "PUT",
                "url": f"{base}negotiations/{sid}/{neg.id}",
                "resulting_employer_state": {"id": sid, "name": EMPLOYER_STATE_NAMES[sid]},
                "arguments": [
                    {"id": "message", "required": False, "required_arguments": []},
                    {"id": "send_sms", "required": False, "required_arguments": []},
                ],
                "templates": _templates(base, neg, sid),
                "sub_actions": [],
            }
        )
    return out


def negotiation_json(base: str, store: Store, neg: Negotiation, with_vacancy: bool) -> dict[str, Any]:
    res = store.resumes[neg.resume_id]
    st = applicant_state(neg.employer_state)
    deleted = res.variant == "deleted"
    item: dict[str, Any] = {
        "id": neg.id,
        "created_at": iso(neg.created_at),
        "updated_at": iso(neg.updated_at),
        "state": {"id": st, "name": STATE_NAMES[st]},
        "employer_state": {"id": neg.employer_state, "name": EMPLOYER_STATE_NAMES[neg.employer_state]},
        "funnel_stage": None,
        "source": neg.source,
        "has_updates": neg.has_updates,
        "viewed_by_opponent": neg.kind == "invitation" and int(neg.id) % 2 == 0,
        "counters": {"messages": 1, "unread_messages": 1 if neg.has_updates else 0},
        "messaging_status": "resume_deleted" if deleted else "ok",
        "messages_url": f"{base}negotiations/{neg.id}/messages",
        "chat_id": chat_id(neg),
        "chat_states": {"response_reminder_state": {"allowed": False}},
        "applicant_question_state": False,
        "professional_roles": [{"id": "40", "name": "Другое"}],
        "actions": actions_json(base, neg, store.vacancies[neg.vacancy_id].active),
        "templates": [],
        "test_result": None,
        "url": f"{base}negotiations/{neg.id}",
        "resume": resume_short_json(base, store, res, neg),
    }
    if with_vacancy:
        item["vacancy"] = vacancy_short_json(base, store, store.vacancies[neg.vacancy_id])
    return item
