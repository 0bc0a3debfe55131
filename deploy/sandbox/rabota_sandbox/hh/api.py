"""Employer API routes: /me, managers, active vacancies, negotiations, resumes and their PDF."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .config import EMPLOYER_ID
from .data import (
    DEFAULT_MAIL_TEMPLATES,
    EMPLOYER_STATE_IDS,
    EMPLOYER_STATE_NAMES,
    MINSK_TZ,
    TEMPLATE_VARIABLES,
    VACANCY_CLOSED_STATE,
    Negotiation,
    Resume,
    User,
)
from .errors import HHError, bad_argument, forbidden, not_found, request_id_of
from .events import archive, change_state
from .oauth import authenticate, get_state
from .pdf import build_pdf
from .serialize import (
    ORDER_TYPES,
    manager_json,
    negotiation_json,
    resume_full_json,
    vacancy_json,
)
from .state import SandboxState

router = APIRouter()

MAX_DEPTH = 2000
GENERATED_COLLECTIONS = {"relevant_responses": "Подходящие отклики"}
VACANCY_ORDERS = {
    "name_asc",
    "name_desc",
    "expiration_date_asc",
    "expiration_date_desc",
    "unseen_responses_asc",
    "unseen_responses_desc",
}


def _ok(request: Request, body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"X-Request-Id": request_id_of(request)})


def _base(request: Request) -> str:
    return str(request.base_url)


def _int_arg(request: Request, name: str, default: int) -> int:
    values = request.query_params.getlist(name)
    if not values:
        return default
    try:
        return int(values[-1])
    except ValueError as exc:
        raise bad_argument(name, f"{name} must be an integer") from exc


def _paging(request: Request, max_per_page: int, default: int = 20, depth: int | None = MAX_DEPTH) -> tuple[int, int]:
    page = _int_arg(request, "page", 0)
    per_page = _int_arg(request, "per_page", default)
    if per_page < 1 or per_page > max_per_page:
        raise bad_argument("per_page", f"per_page must be between 1 and {max_per_page}")
    if page < 0:
        raise bad_argument("page", "page must not be negative")
    if depth is not None and (page + 1) * per_page > depth:
        raise bad_argument("page", f"you can't look up more than {depth} items in the list")
    return page, per_page


def _paged(items: list[Any], page: int, per_page: int) -> dict[str, Any]:
    found = len(items)
    return {
        "found": found,
        "pages": math.ceil(found / per_page),
        "page": page,
        "per_page": per_page,
        "items": items[page * per_page : (page + 1) * per_page],
    }


def _employer(request: Request, employer_id: str, user: User) -> None:
    if employer_id != EMPLOYER_ID:
        raise forbidden()


# -- me, managers -----------------------------------------------------------------------------------


@router.get("/me")
async def me(request: Request) -> JSONResponse:
    state = get_state(request)
    _tok, user = authenticate(request, employer=False, user=False)
    if user is None:
        return _ok(
            request,
            {
                "auth_type": "application",
                "is_applicant": False,
                "is_employer": False,
                "is_admin": False,
                "is_application": True,
                "is_employer_integration": False,
            },
        )
    body: dict[str, Any] = {
        "auth_type": "employer" if user.is_employer else "applicant",
        "is_applicant": not user.is_employer,
        "is_employer": user.is_employer,
        "is_admin": False,
        "is_application": False,
        "is_employer_integration": False,
        "is_in_search": not user.is_employer,
        "id": user.user_id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "middle_name": user.middle_name,
        "email": user.login,
        "phone": None,
    }
    if user.is_employer:
        assert user.manager_id is not None
        body["employer"] = {
            "id": EMPLOYER_ID,
            "name": state.store.employer["name"],
            "manager_id": user.manager_id,
        }
        body["manager"] = {
            "id": user.manager_id,
            "has_admin_rights": user.is_admin,
            "is_main_contact_person": user.is_admin,
            "has_multiple_manager_accounts": False,
            "manager_settings_url": (f"{_base(request)}employers/{EMPLOYER_ID}/managers/{user.manager_id}/settings"),
        }
        body["personal_manager"] = {
            "id": "1",
            "first_name": "Служба",
            "last_name": "поддержки",
            "email": "support@rabota.test",
            "phone": None,
        }
        body["counters"] = {"unread_negotiations": 0, "new_resume_views": 0, "resumes_count": 0}
    else:
        body["counters"] = {"unread_negotiations": 0, "new_resume_views": 0, "resumes_count": 1}
    return _ok(request, body)


def _manager_vacancy_count(state: SandboxState, user: User, manager_id: str) -> int | None:
    if not user.is_admin and manager_id != user.manager_id:
        return None
    return sum(1 for v in state.store.vacancies.values() if v.active and v.manager_id == manager_id)


@router.get("/employers/{employer_id}/managers")
async def managers(employer_id: str, request: Request) -> JSONResponse:
    state = get_state(request)
    _, user = authenticate(request)
    assert user is not None
    _employer(request, employer_id, user)
    page, per_page = _paging(request, 200, default=200, depth=None)
    text = (request.query_params.get("search_text") or "").lower()
    base = _base(request)
    items = [
        manager_json(base, state.store, m, _manager_vacancy_count(state, user, m.id))
        for m in state.store.managers.values()
        if not text or text in f"{m.last_name} {m.first_name} {m.middle_name} {m.email}".lower()
    ]
    return _ok(request, _paged(items, page, per_page))


@router.get("/employers/{employer_id}/managers/{manager_id}")
async def manager(employer_id: str, manager_id: str, request: Request) -> JSONResponse:
    state = get_state(request)
    _, user = authenticate(request)
    assert user is not None
    _employer(request, employer_id, user)
    m = state.store.managers.get(manager_id)
    if m is None:
        raise not_found()
    return _ok(request, manager_json(_base(request), state.store, m, _manager_vacancy_count(state, user, m.id)))


@router.get("/employers/{employer_id}/managers/{manager_id}/limits/resume")
async def resume_limits(employer_id: str, manager_id: str, request: Request) -> JSONResponse:
    state = get_state(request)
    _, user = authenticate(request)
    assert user is not None
    _employer(request, employer_id, user)
    if manager_id not in state.store.managers:
        raise not_found()
    if manager_id != user.manager_id:
        raise forbidden()
    limit = state.knobs.get("resume_view_limit")
    total = 100_000 if limit is None else int(limit)
    spent = len(state.views.get((manager_id, _today()), ()))
    left = max(0, total - spent)
    return _ok(
        request,
        {
            "limits": {"resume_view": total, "resume_view_from_api": total},
            "spend": {"resume_view": spent, "resume_view_from_api": spent},
            "left": {"resume_view": left, "resume_view_from_api": left},
        },
    )


# -- vacancies --------------------------------------------------------------------------------------


@router.get("/employers/{employer_id}/vacancies/active")
async def active_vacancies(employer_id: str, request: Request) -> JSONResponse:
    state = get_state(request)
    store = state.store
    _, user = authenticate(request)
    assert user is not None
    _employer(request, employer_id, user)
    page, per_page = _paging(request, 50)
    ids = request.query_params.getlist("manager_id")
    manager_id = ids[-1] if ids else user.manager_id
    if manager_id not in store.managers or (not user.is_admin and manager_id != user.manager_id):
        raise not_found()
    text = (request.query_params.get("text") or "").lower()
    vacancies = [
        v
        for v in store.vacancies.values()
        if v.active and v.manager_id == manager_id and (not text or text in v.name.lower())
    ]
    order = request.query_params.get("order_by")
    if order is not None and order not in VACANCY_ORDERS:
        raise bad_argument("order_by", "unknown order_by")
    if order in ("name_asc", "name_desc"):
        vacancies.sort(key=lambda v: (v.name, v.id), reverse=order == "name_desc")
    elif order in ("expiration_date_asc", "expiration_date_desc"):
        vacancies.sort(key=lambda v: (v.created_at, v.id), reverse=order == "expiration_date_desc")
    elif order in ("unseen_responses_asc", "unseen_responses_desc"):
        vacancies.sort(
            key=lambda v: (store.stats_vacancy(v.id)["unread_responses"], v.id),
            reverse=order == "unseen_responses_desc",
        )
    else:
        vacancies.sort(key=lambda v: (v.created_at, v.id), reverse=True)
    body = _paged(vacancies, page, per_page)
    base = _base(request)
    body["items"] = [vacancy_json(base, store, v) for v in body["items"]]
    return _ok(request, body)


@router.get("/vacancies/{vacancy_id}")
async def vacancy(vacancy_id: str, request: Request) -> JSONResponse:
    state = get_state(request)
    v = state.store.vacancies.get(vacancy_id)
    if v is None:
        raise not_found()
    return _ok(request, vacancy_json(_base(request), state.store, v))


# -- negotiations -----------------------------------------------------------------------------------


def _visible_vacancy(state: SandboxState, user: User, vacancy_id: str | None) -> str:
    if not vacancy_id:
        raise bad_argument("vacancy_id", "vacancy_id is required")
    v = state.store.vacancies.get(vacancy_id)
    if v is None or not state.store.user_can_see_vacancy(user, v):
        raise not_found()
    return v.id


def _order_types(base: str, collection: str, vid: str) -> list[dict[str, str]]:
    return [
        {"id": oid, "name": name, "url": f"{base}negotiations/{collection}?vacancy_id={vid}&order_by={oid}"}
        for oid, name in ORDER_TYPES
    ]


def _relevant(state: SandboxState, vid: str) -> list[str]:
    """The generated collection: responses of resumes the emulator deems relevant. They overlap with
    the stage collections, as on the real server (dedupe by id)."""
    store = state.store
    cols = store.by_vacancy[vid]
    ids = [
        nid
        for s in ("response", "consider")
        for nid in cols[s]
        if store.resumes[store.negotiations[nid].resume_id].index % 3 == 0
    ]
    negs = store.negotiations
    return sorted(ids, key=lambda i: (negs[i].updated_at, i), reverse=True)


@router.get("/negotiations")
async def negotiations_index(request: Request) -> JSONResponse:
    state = get_state(request)
    store = state.store
    _, user = authenticate(request)
    assert user is not None
    vid = _visible_vacancy(state, user, request.query_params.get("vacancy_id"))
    base = _base(request)
    collections = []
    # The collections "may change with the vacancy" (employer_negotiations.md): «Вакансия закрыта» once it holds
    # someone.
    extra = [VACANCY_CLOSED_STATE] if store.by_vacancy[vid].get(VACANCY_CLOSED_STATE) else []
    for sid in [*EMPLOYER_STATE_IDS, *extra]:
        ids = store.by_vacancy[vid].get(sid, {})
        with_updates = sum(1 for nid in ids if store.negotiations[nid].has_updates)
        collections.append(
            {
                "id": sid,
                "name": EMPLOYER_STATE_NAMES[sid],
                "description": "",
                "hidden": False,
                "url": f"{base}negotiations/{sid}?vacancy_id={vid}",
                "counters": {"total": len(ids), "with_updates": with_updates},
                "order_types": _order_types(base, sid, vid),
                "sub_collections": [],
            }
        )
    body: dict[str, Any] = {
        "collections": collections,
        "employer_states": [{"id": sid, "name": EMPLOYER_STATE_NAMES[sid]} for sid in EMPLOYER_STATE_IDS],
    }
    if request.query_params.get("with_generated_collections") == "true":
        rel = _relevant(state, vid)
        body["generated_collections"] = [
            {
                "id": "relevant_responses",
                "name": GENERATED_COLLECTIONS["relevant_responses"],
                "description": "",
                "hidden": False,
                "url": f"{base}negotiations/relevant_responses?vacancy_id={vid}",
                "counters": {
                    "total": len(rel),
                    "with_updates": sum(1 for i in rel if store.negotiations[i].has_updates),
                },
                "order_types": _order_types(base, "relevant_responses", vid),
                "sub_collections": [],
            }
        ]
    return _ok(request, body)


def _visible_negotiation(state: SandboxState, user: User, nid: str) -> Negotiation:
    neg = state.store.negotiations.get(nid)
    if neg is None or not state.store.user_can_see_vacancy(user, state.store.vacancies[neg.vacancy_id]):
        raise HHError(404, [{"type": "negotiations", "value": "topic_not_found"}], "Not Found")
    return neg


@router.get("/negotiations/{name}")
async def negotiation_or_collection(name: str, request: Request) -> JSONResponse:
    state = get_state(request)
    store = state.store
    base = _base(request)
    if name.isdigit():
        request.state.route_label = "GET /negotiations/{id}"
        _, user = authenticate(request)
        assert user is not None
        neg = _visible_negotiation(state, user, name)
        return _ok(request, negotiation_json(base, store, neg, with_vacancy=True))
    request.state.route_label = "GET /negotiations/{collection}"
    _, user = authenticate(request)
    assert user is not None
    if name not in EMPLOYER_STATE_NAMES and name not in GENERATED_COLLECTIONS:
        raise not_found()
    vid = _visible_vacancy(state, user, request.query_params.get("vacancy_id"))
    page, per_page = _paging(request, 50)
    order = request.query_params.get("order_by") or "last_change_time_except_employer_inbox"
    order_names = dict(ORDER_TYPES)
    if order not in order_names:
        raise bad_argument("order_by", "unknown order_by")
    if name in GENERATED_COLLECTIONS:
        ids = _relevant(state, vid)
    else:
        ids = store.collection_ids(vid, name)
    if order == "created_at":
        ids.sort(key=lambda i: (store.negotiations[i].created_at, i), reverse=True)
    if name == "response" and request.query_params.get("show_only_new_responses") == "true":
        ids = [i for i in ids if not store.negotiations[i].viewed]
    body = _paged(ids, page, per_page)
    body["items"] = [negotiation_json(base, store, store.negotiations[i], with_vacancy=False) for i in body["items"]]
    body = {"ordered_by": {"id": order, "name": order_names[order]}, **body}
    return _ok(request, body)


ACTION_ARGUMENTS = {"message", "send_sms", "address_id"}


@router.put("/negotiations/{collection}/{nid}", status_code=204, response_model=None)
async def negotiation_action(collection: str, nid: str, request: Request) -> Response:
    state = get_state(request)
    _, user = authenticate(request)
    assert user is not None
    neg = _visible_negotiation(state, user, nid)
    if collection not in EMPLOYER_STATE_NAMES or collection == "response":
        raise not_found()
    # An archived vacancy's negotiations take only «Вакансия закрыта»; an open vacancy's never take it.
    if state.store.vacancies[neg.vacancy_id].active == (collection == VACANCY_CLOSED_STATE):
        raise HHError(403, [{"type": "negotiations", "value": "invalid_vacancy"}], "Forbidden")
    if neg.employer_state == collection:
        raise HHError(403, [{"type": "negotiations", "value": "wrong_state"}], "Forbidden")
    # change-negotiation-action takes the action's `arguments` as application/x-www-form-urlencoded
    # (or multipart) only; a JSON body or an argument the action does not have is a bad argument.
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise bad_argument("body", "the body must be application/x-www-form-urlencoded")
    if not content_type and await request.body():
        raise bad_argument("body", "the body must be application/x-www-form-urlencoded")
    form = await request.form()
    unknown = sorted(set(form.keys()) - ACTION_ARGUMENTS)
    if unknown:
        raise bad_argument(unknown[0], "the action has no such argument")
    message = form.get("message")
    if message is not None and len(str(message)) > 10_000:
        raise HHError(403, [{"type": "negotiations", "value": "too_long_message"}], "Forbidden")
    send_sms = form.get("send_sms")
    if send_sms is not None and send_sms not in ("true", "false"):
        raise bad_argument("send_sms")
    change_state(state, neg, collection, user.manager_id)
    state.store.action_messages.setdefault(neg.id, []).append(
        {"employer_state": collection, "message": None if message is None else str(message)})
    return Response(status_code=204, headers={"X-Request-Id": request_id_of(request)})


# -- reply templates (get-mail-templates, put-mail-templates-item, get-negotiation-message-templates) ----------

TEMPLATE_TYPES = ("invite", "invite_after_response", "discard_after_response", "discard_after_interview")


def _mail_template_json(store: Any, tid: str) -> dict[str, Any]:
    name, employer_state, default = DEFAULT_MAIL_TEMPLATES[tid]
    text = store.mail_templates[tid]
    item: dict[str, Any] = {"id": tid, "name": name, "text": text, "type": "EMAIL", "variables": TEMPLATE_VARIABLES,
                            "template_modified": text != default, "editable": True}
    if employer_state:
        item["employer_state"] = employer_state
    return item


@router.get("/employers/{employer_id}/mail_templates")
async def mail_templates(employer_id: str, request: Request) -> JSONResponse:
    state = get_state(request)
    _, user = authenticate(request)
    assert user is not None
    _employer(request, employer_id, user)
    return _ok(request, {"items": [_mail_template_json(state.store, tid) for tid in DEFAULT_MAIL_TEMPLATES]})


@router.put("/employers/{employer_id}/mail_templates/{template_id}", status_code=204, response_model=None)
async def put_mail_template(employer_id: str, template_id: str, request: Request) -> Response:
    state = get_state(request)
    _, user = authenticate(request)
    assert user is not None
    _employer(request, employer_id, user)
    if template_id not in DEFAULT_MAIL_TEMPLATES:
        raise not_found()
    try:
        body = await request.json()
    except ValueError:
        raise bad_argument("body", "the body must be JSON") from None
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise bad_argument("text")
    state.store.mail_templates[template_id] = text
    return Response(status_code=204, headers={"X-Request-Id": request_id_of(request)})


def resume_first_name(store: Any, resume: Resume) -> str:
    """The applicant's first name as the template's variable takes it («соискатель» when names are hidden)."""
    if "names_and_photo" in resume.hidden_fields:
        return "Уважаемый соискатель"
    return str(store.details(resume).first_name)


def fill_template(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


@router.get("/message_templates/{template}")
async def message_template(template: str, request: Request) -> JSONResponse:
    """The text of a template for one negotiation (`topic_id`) or one resume and vacancy, variables filled;
    conflicting or missing parameters are an error (the spec's rules)."""
    state = get_state(request)
    _, user = authenticate(request)
    assert user is not None
    if template not in TEMPLATE_TYPES:
        raise not_found()
    q = request.query_params
    topic_id, vacancy_id, resume_id = q.get("topic_id"), q.get("vacancy_id"), q.get("resume_id")
    if topic_id and (vacancy_id or resume_id):
        raise bad_argument("topic_id", "topic_id cannot be combined with vacancy_id or resume_id")
    if topic_id:
        neg = _visible_negotiation(state, user, topic_id)
        vacancy, resume = state.store.vacancies[neg.vacancy_id], state.store.resumes[neg.resume_id]
    elif vacancy_id and resume_id:
        vacancy = state.store.vacancies[_visible_vacancy(state, user, vacancy_id)]
        if resume_id not in state.store.resumes:
            raise not_found()
        resume = state.store.resumes[resume_id]
    else:
        raise bad_argument("topic_id", "topic_id, or vacancy_id with resume_id, is required")
    first = resume_first_name(state.store, resume)
    text = fill_template(state.store.mail_templates[template], {
        "applicant_first_name": first, "vacancy_name": vacancy.name,
        "company_name": state.store.employer.get("name", "")})
    return _ok(request, {"mail": {"text": text}, "sms": None})


# -- vacancy archivation (PUT /employers/{employer_id}/vacancies/archived/{vacancy_id}) ------------------------


@router.put("/employers/{employer_id}/vacancies/archived/{vacancy_id}", status_code=204, response_model=None)
async def archive_vacancy(employer_id: str, vacancy_id: str, request: Request) -> Response:
    state = get_state(request)
    _, user = authenticate(request)
    assert user is not None
    _employer(request, employer_id, user)
    vacancy = state.store.vacancies.get(vacancy_id)
    if vacancy is None or not state.store.user_can_see_vacancy(user, vacancy):
        raise not_found()
    if not vacancy.active:
        raise HHError(403, [{"type": "vacancies", "value": "not_published"}], "Forbidden")
    archive(state, vacancy)
    return Response(status_code=204, headers={"X-Request-Id": request_id_of(request)})


# -- resumes ----------------------------------------------------------------------------------------


def _today() -> str:
    return datetime.now(MINSK_TZ).strftime("%Y-%m-%d")


def _resume_access(
    state: SandboxState, user: User, rid: str, topic_id: str | None
) -> tuple[Resume, Negotiation | None]:
    store = state.store
    res = store.resumes.get(rid)
    if res is None or res.variant == "deleted":
        raise not_found()
    neg: Negotiation | None = None
    if topic_id is not None:
        neg = store.negotiations.get(topic_id)
        if neg is None or neg.resume_id != rid:
            raise bad_argument("topic_id", "topic_id does not match the resume")
        if not store.user_can_see_vacancy(user, store.vacancies[neg.vacancy_id]):
            raise not_found()
    elif not any(
        store.user_can_see_vacancy(user, store.vacancies[store.negotiations[n].vacancy_id])
        for n in store.by_resume[rid]
    ):
        raise not_found()
    return res, neg


def _count_view(state: SandboxState, user: User, rid: str) -> None:
    assert user.manager_id is not None
    seen = state.views.setdefault((user.manager_id, _today()), set())
    if rid in seen:
        return
    limit = state.knobs.get("resume_view_limit")
    if limit is not None and len(seen) >= limit:
        raise HHError(429, [{"type": "resumes", "value": "view_limit_exceeded"}], "Too Many Requests")
    seen.add(rid)


@router.get("/resumes/{resume_id}")
async def resume(resume_id: str, request: Request) -> JSONResponse:
    state = get_state(request)
    _, user = authenticate(request)
    assert user is not None
    res, neg = _resume_access(state, user, resume_id, request.query_params.get("topic_id"))
    _count_view(state, user, resume_id)
    if neg is not None:
        neg.viewed = True
        neg.has_updates = False
    q = request.query_params
    body = resume_full_json(
        _base(request),
        state.store,
        res,
        neg,
        q.get("with_negotiations_history") == "true",
        q.get("with_job_search_status") == "true",
    )
    return _ok(request, body)


@router.get("/resumes/{resume_id}/download/{filename}", response_model=None)
async def resume_download(resume_id: str, filename: str, request: Request) -> Response:
    state = get_state(request)
    _, user = authenticate(request)
    assert user is not None
    stem, _, ext = filename.rpartition(".")
    if ext not in ("pdf", "rtf") or not stem:
        raise not_found()
    if request.query_params.get("type") != ext:
        raise bad_argument("type", "type must match the file extension")
    res, neg = _resume_access(state, user, resume_id, request.query_params.get("topic_id"))
    vac = request.query_params.get("vacancy_id")
    if vac is not None and neg is not None and vac != neg.vacancy_id:
        raise bad_argument("vacancy_id", "vacancy_id does not match the topic")
    _count_view(state, user, resume_id)
    d = state.store.details(res)
    hidden = set(res.hidden_fields)
    name = "Имя скрыто" if "names_and_photo" in hidden else f"{d.last_name} {d.first_name} {d.middle_name}"
    headers = {
        "X-Request-Id": request_id_of(request),
        "Content-Disposition": f'attachment; filename="{filename}"',
    }
    if ext == "rtf":
        rtf = "{\\rtf1\\ansi " + d.title + "\\par " + res.id + "}"
        return Response(rtf.encode("ascii", "replace"), media_type="application/rtf", headers=headers)
    lines = [
        name,
        d.title,
        f"Vozrast: {d.age}",
        f"Resume: {res.id}",
        f"Telefon: {'skryt' if 'phones' in hidden else d.phone_formatted}",
        f"E-mail: {'skryt' if 'email' in hidden else d.email}",
    ]
    pdf = build_pdf(f"{name} — {d.title}", lines)
    return Response(pdf, media_type="application/pdf", headers=headers)
