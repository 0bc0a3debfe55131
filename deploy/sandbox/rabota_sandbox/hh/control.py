"""`/_sandbox/*`: seeding, knobs and inspection for tests, benchmarks and the portal page.
Not part of the real API; exempt from rate limits and not counted in statistics."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .config import validate_knobs
from .data import (
    EMPLOYER_STATE_IDS,
    HIDDEN_FIELD_NAMES,
    INVITATION_SOURCES,
    RESPONSE_SOURCES,
    RESUME_VARIANTS,
    Manager,
    Negotiation,
    Store,
    User,
    Vacancy,
    applicant_state,
    chat_head,
    iso,
)
from .events import archive, change_state, chat_id, create_negotiation, ensure_live, live_tick
from .oauth import get_state

router = APIRouter(prefix="/_sandbox")


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


async def _body(request: Request) -> dict[str, Any] | JSONResponse:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        return _problem(400, "body must be JSON")
    if not isinstance(body, dict):
        return _problem(400, "body must be a JSON object")
    return body


def sandbox_negotiation(store: Store, neg: Negotiation) -> dict[str, Any]:
    return {
        "id": neg.id,
        "chat_id": str(chat_id(neg)),
        "vacancy_id": neg.vacancy_id,
        "resume_id": neg.resume_id,
        "employer_state": neg.employer_state,
        "state": applicant_state(neg.employer_state),
        "kind": neg.kind,
        "resume": store.resumes[neg.resume_id].variant,
        "hidden_fields": list(store.resumes[neg.resume_id].hidden_fields),
        "created_at": iso(neg.created_at),
        "updated_at": iso(neg.updated_at),
        "source": neg.source,
        "chat_first_role": next((role for type_, role, _ in chat_head(neg) if type_ == "SIMPLE"), None),
        # The messages the employer's actions carried (change-negotiation-action `message`), oldest first.
        "action_messages": list(store.action_messages.get(neg.id, [])),
    }


@router.get("/health")
async def health() -> dict[str, bool]:
    return {"ok": True}


@router.post("/reset", response_model=None)
async def reset(request: Request) -> dict[str, Any] | JSONResponse:
    body = await _body(request)
    if isinstance(body, JSONResponse):
        return body
    n, seed = body.get("negotiations"), body.get("seed")
    for key, value in (("negotiations", n), ("seed", seed)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            return _problem(400, f"{key} must be a non-negative integer")
    if n is not None and n > 1_000_000:
        return _problem(400, "negotiations must be at most 1000000")
    state = get_state(request)
    started = time.perf_counter()
    state.reset(n, seed)
    return {
        "ok": True,
        "negotiations": len(state.store.negotiations),
        "seed": state.config.seed,
        "seconds": round(time.perf_counter() - started, 3),
    }


@router.get("/state")
async def sandbox_state(request: Request) -> dict[str, Any]:
    state = get_state(request)
    store = state.store
    return {
        "employer": {
            **store.employer,
            "managers": [
                {
                    "id": m.id,
                    "name": f"{m.last_name} {m.first_name}",
                    "email": m.email,
                    "is_admin": m.is_admin,
                    "login": m.login,
                }
                for m in store.managers.values()
            ],
        },
        "users": [
            {"login": u.login, "user_id": u.user_id, "manager_id": u.manager_id, "is_admin": u.is_admin}
            for u in store.users.values()
        ],
        "vacancies": [
            {"id": v.id, "name": v.name, "manager_id": v.manager_id, "active": v.active}
            for v in store.vacancies.values()
        ],
        "negotiations": len(store.negotiations),
        "repeat_resume_id": store.repeat_resume_id,
    }


@router.get("/negotiations")
async def list_negotiations(request: Request) -> Any:
    store = get_state(request).store
    vid = request.query_params.get("vacancy_id")
    if vid is not None:
        if vid not in store.by_vacancy:
            return _problem(404, "unknown vacancy")
        ids = [nid for col in store.by_vacancy[vid].values() for nid in col]
        ids.sort(key=int)
    else:
        ids = store.nid_list
    return [sandbox_negotiation(store, store.negotiations[i]) for i in ids]


@router.post("/negotiations", status_code=201, response_model=None)
async def create(request: Request) -> Any:
    body = await _body(request)
    if isinstance(body, JSONResponse):
        return body
    state = get_state(request)
    store = state.store
    vid = body.get("vacancy_id")
    if vid is None:
        vid = next(v.id for v in store.vacancies.values() if v.active)
    vacancy = store.vacancies.get(str(vid))
    if vacancy is None:
        return _problem(404, "unknown vacancy")
    if not vacancy.active:
        return _problem(400, "the vacancy is archived")
    kind = body.get("kind", "response")
    if kind not in ("response", "invitation"):
        return _problem(400, "kind must be response or invitation")
    variant = body.get("resume", "normal")
    if variant not in RESUME_VARIANTS:
        return _problem(400, "resume must be normal, hidden or deleted")
    hidden = body.get("hidden_fields") or []
    if not isinstance(hidden, list) or any(h not in HIDDEN_FIELD_NAMES for h in hidden):
        return _problem(400, f"hidden_fields must be a list of {sorted(HIDDEN_FIELD_NAMES)}")
    employer_state = body.get("employer_state")
    if employer_state is not None and employer_state not in EMPLOYER_STATE_IDS:
        return _problem(400, "unknown employer_state")
    if kind == "invitation" and employer_state == "response":
        return _problem(400, "an invitation cannot be in the response state")
    source = body.get("source")
    if source is not None and source not in (INVITATION_SOURCES if kind == "invitation" else RESPONSE_SOURCES):
        return _problem(400, f"source of a {kind} must be one of "
                             f"{INVITATION_SOURCES if kind == 'invitation' else RESPONSE_SOURCES}")
    rid = body.get("resume_id")
    if rid is not None:
        if rid not in store.resumes:
            return _problem(404, "unknown resume_id")
        if (vacancy.id, rid) in store.pairs:
            return _problem(409, "this resume already has a negotiation on this vacancy")
    raw_names = body.get("names")
    names: tuple[str, str, str] | None = None
    if raw_names is not None:
        parts = [raw_names.get(k, "") if isinstance(raw_names, dict) else None
                 for k in ("first_name", "last_name", "middle_name")]
        if not all(isinstance(p, str) for p in parts) or rid is not None:
            return _problem(400, "names must be {first_name, last_name, middle_name} strings for a new resume")
        names = (str(parts[0]), str(parts[1]), str(parts[2]))
    neg = create_negotiation(state, vacancy.id, kind, variant, rid, tuple(hidden), employer_state, names, source)
    return JSONResponse(sandbox_negotiation(store, neg), status_code=201)


@router.get("/resumes/{rid}", response_model=None)
async def resume_details(rid: str, request: Request) -> Any:
    """What a resume holds behind the API (tests compare the CRM card with it): contacts, age, salary,
    experience, companies (newest first), whatever the resume hides."""
    store = get_state(request).store
    res = store.resumes.get(rid)
    if res is None:
        return _problem(404, "unknown resume")
    d = store.details(res)
    return {"id": rid, "variant": res.variant, "hidden_fields": list(res.hidden_fields),
            "first_name": d.first_name, "last_name": d.last_name, "phone_formatted": d.phone_formatted,
            "phone_city": d.phone_city, "phone_number": d.phone_number, "email": d.email, "age": d.age,
            "area_name": d.area_name, "salary": d.salary, "experience_months": d.experience_months,
            "title": d.title, "companies": list(d.companies)}


@router.post("/negotiations/{nid}/state", response_model=None)
async def move(nid: str, request: Request) -> Any:
    body = await _body(request)
    if isinstance(body, JSONResponse):
        return body
    state = get_state(request)
    neg = state.store.negotiations.get(nid)
    if neg is None:
        return _problem(404, "unknown negotiation")
    to = body.get("employer_state")
    if to not in EMPLOYER_STATE_IDS:
        return _problem(400, f"employer_state must be one of {EMPLOYER_STATE_IDS}")
    if neg.kind == "invitation" and to == "response":
        return _problem(400, "an invitation cannot be moved to response")
    change_state(state, neg, to, None)
    return sandbox_negotiation(state.store, neg)


@router.post("/vacancies/{vid}/archive", response_model=None)
async def archive_now(vid: str, request: Request) -> Any:
    """Archive a vacancy as its manager would on the site: `VACANCY_ARCHIVATION` goes to the subscribers."""
    state = get_state(request)
    vacancy = state.store.vacancies.get(vid)
    if vacancy is None:
        return _problem(404, "unknown vacancy")
    if not vacancy.active:
        return _problem(409, "the vacancy is archived already")
    archive(state, vacancy)
    return {"id": vacancy.id, "active": vacancy.active}


@router.post("/users/{login}/password-change", response_model=None)
async def password_change(login: str, request: Request) -> Any:
    state = get_state(request)
    user = state.store.users.get(login)
    if user is None:
        return _problem(404, "unknown login")
    n = 0
    for tok in state.user_tokens(login):
        if tok.revoked is None:
            tok.revoked = "deactivated"
            n += 1
    for code in state.codes.values():
        if code.login == login:
            code.revoked = True
    state.drop_subscriptions(user.user_id)
    return {"ok": True, "deactivated_tokens": n}


@router.post("/tokens/expire", response_model=None)
async def expire_tokens(request: Request) -> Any:
    body = await _body(request)
    if isinstance(body, JSONResponse):
        return body
    state = get_state(request)
    login = body.get("login")
    if login is not None and login not in state.store.users:
        return _problem(404, "unknown login")
    now = time.time()
    n = 0
    for tok in state.user_tokens(login):
        if tok.expires_at is not None and tok.expires_at > now:
            tok.expires_at = now - 1
            n += 1
    return {"ok": True, "expired_tokens": n}


@router.get("/knobs")
async def get_knobs(request: Request) -> dict[str, Any]:
    return get_state(request).knobs


@router.put("/knobs", response_model=None)
async def put_knobs(request: Request) -> Any:
    body = await _body(request)
    if isinstance(body, JSONResponse):
        return body
    problems = validate_knobs(body)
    if problems:
        return _problem(400, "; ".join(problems))
    state = get_state(request)
    state.knobs.update(body)
    ensure_live(state)
    return state.knobs


@router.get("/stats")
async def stats(request: Request) -> dict[str, Any]:
    state = get_state(request)
    return {
        "requests_total": sum(state.stats_routes.values()),
        "by_route": dict(state.stats_routes),
        "status": dict(state.stats_status),
    }


@router.post("/stats/reset")
async def stats_reset(request: Request) -> dict[str, bool]:
    state = get_state(request)
    state.stats_routes.clear()
    state.stats_status.clear()
    return {"ok": True}


@router.get("/webhooks")
async def webhooks(request: Request) -> dict[str, Any]:
    state = get_state(request)
    users = state.store.users_by_id
    return {
        "subscriptions": [
            {
                "id": s.id,
                "user_id": s.user_id,
                "login": users[s.user_id].login if s.user_id in users else None,
                "client_id": s.client_id,
                "url": s.url,
                "actions": s.actions,
            }
            for s in state.subscriptions.values()
        ],
        "deliveries": state.deliveries,
        "pending": len(state.tasks),
    }


@router.post("/live/tick")
async def tick(request: Request) -> dict[str, Any]:
    return live_tick(get_state(request))


@router.post("/recruiters", response_model=None)
async def add_recruiters(request: Request) -> Any:
    """Seed `count` more recruiters of the employer (non-admin managers with their own logins, password-less
    like the seeded ones), each with `vacancies` active vacancies holding `negotiations` negotiations apiece
    (responses and invitations in several states). Many portals can then each connect their own account."""
    body = await _body(request)
    if isinstance(body, JSONResponse):
        return body
    sizes = {k: body.get(k, d) for k, d in (("count", 1), ("vacancies", 2), ("negotiations", 3))}
    for key, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000:
            return _problem(400, f"{key} must be an integer in [0, 10000]")
    state = get_state(request)
    store = state.store
    states = ["response", "response", "consider", "interview", "discard_by_employer"]
    out = []
    for _ in range(sizes["count"]):
        n = len(store.managers) + 1
        mid, uid, login = str(20_000 + n), str(4_000_000 + n), f"recruiter{n}@sandbox.by"
        store.managers[mid] = Manager(mid, "Рекрутер", f"Номер{n}", "Тестовый", login, "Рекрутер",
                                      f"{1_000_000 + n}", False, login, uid)
        user = User(login, uid, "Рекрутер", f"Номер{n}", "Тестовый", mid, False)
        store.users[login] = store.users_by_id[uid] = user
        vids = []
        for _ in range(sizes["vacancies"]):
            vid = str(90_000_001 + len(store.vacancies))
            index = len(store.vacancies)
            store.vacancies[vid] = Vacancy(vid, index, f"Вакансия {vid}", mid, True, store.now - 86_400 * 30,
                                           "1002", "Минск")
            store.by_vacancy[vid] = {s: {} for s in EMPLOYER_STATE_IDS}
            for i in range(sizes["negotiations"]):
                employer_state = states[i % len(states)]
                kind = "response" if employer_state == "response" or i % 2 else "invitation"
                created = store.now - 3600 * (i + 1)
                store.add_negotiation(vid, store.new_resume().id, kind, employer_state, created)
            vids.append(vid)
        out.append({"login": login, "manager_id": mid, "user_id": uid, "vacancies": vids})
    return {"ok": True, "recruiters": out}
