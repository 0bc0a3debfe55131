"""The embedded app's JSON API (DESIGN §7). Every call is scoped to the session's portal."""

from __future__ import annotations

import math
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rabota_common import subjects
from rabota_common.app_settings import SyncSettings
from rabota_common.b24_client import B24Error
from rabota_common.b24_session import PAYMENT_REQUIRED, SUBSCRIPTION_ENDED, B24PortalClosed, open_session
from rabota_common.bus import publish
from rabota_common.crypto import OAUTH_STATE, TokenError
from rabota_common.entity_ref import DEAL, LEAD, MAX_ID, EntityRef, is_smart_process
from rabota_common.errors import TransientError
from rabota_common.models import AppEvent, CrmCommand, HhConnectReply, HhConnectRequest, NewResponsesReply, TokenRequest
from rabota_common.runtime import Runtime

from rabota_ui.b24_routes import placement_command
from rabota_ui.deps import AdminSessionDep, RuntimeDep, Session, SessionDep
from rabota_ui.errors import ApiError, describe, portal_batch
from rabota_ui.open_lines import LINES_COMMAND, activate_line, open_lines
from rabota_ui.ratelimit import feedback_limited, session_limited
from rabota_ui.visibility import readable

# Every /api call counts against its portal user's bucket (API_RATE_PER_SESSION, API_BURST_PER_SESSION).
router = APIRouter(prefix="/api", dependencies=[Depends(session_limited)])
# A failure's retry in flight: further retries of it answer the same 202 and publish nothing (single flight);
# at least JetStream's dedupe window, so the Nats-Msg-Id drops any duplicate that slips through.
RETRY_IN_FLIGHT_S = 120
STATE_TTL_S = 600
NEW_RESPONSES_TIMEOUT_S = 120.0


async def portal_call(rt: Runtime, portal: str, cmds: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return (await portal_batch(rt, portal, cmds)).result


@router.get("/status")
async def status(rt: RuntimeDep, session: SessionDep) -> dict[str, Any]:
    portal = await rt.store.get_portal(session.portal)
    assert portal is not None
    hh = await rt.store.get_hh(session.portal)
    settings = await rt.store.get_settings(session.portal)
    progress = await rt.store.get_import(session.portal)
    crm_mode = await rt.store.crm_mode(portal=session.portal)
    return {
        "portal": {"member_id": portal.member_id, "domain": portal.domain,
                   "crm_mode": "simple" if crm_mode == 2 else "classic",
                   "active": portal.status == "active",
                   # Bitrix24 refuses the app for now (PAYMENT_REQUIRED): work waits, the page shows a banner.
                   "paused": bool(portal.paused),
                   "notice": SUBSCRIPTION_ENDED if portal.paused == PAYMENT_REQUIRED else None},
        "hh": {
            "connected": bool(hh and hh.access_token),
            "employer_name": hh.employer_name if hh else None,
            "manager_name": hh.manager_name if hh else None,
            "is_admin": bool(hh and hh.is_admin),
            "relogin_required": bool(hh and hh.relogin_required),
        },
        "sync_active": bool(hh and hh.access_token and not hh.relogin_required and settings
                            and progress.state in ("running", "done")),
        # Who the session belongs to: only a portal administrator may change anything (403 forbidden).
        "user": {"id": session.user_id, "is_admin": session.is_admin},
    }


@router.get("/options")
async def options(rt: RuntimeDep, session: SessionDep) -> dict[str, Any]:
    return await portal_options(rt, session.portal)


_Cmds = dict[str, tuple[str, dict[str, Any]]]


def _stage_list(entity_id: str) -> tuple[str, dict[str, Any]]:
    return "crm.status.list", {"order": {"SORT": "ASC"}, "filter": {"ENTITY_ID": entity_id}}


def _stage_cmds(categories: list[dict[str, Any]], types: list[dict[str, Any]]) -> _Cmds:
    """The deal pipelines' stages and the smart processes' pipelines."""
    cmds: _Cmds = {}
    for cat in categories:
        entity_id = "DEAL_STAGE" if int(cat["id"]) == 0 else f"DEAL_STAGE_{cat['id']}"
        cmds[f"deal_{cat['id']}"] = _stage_list(entity_id)
    for t in types:
        cmds[f"cat_{t['entityTypeId']}"] = ("crm.category.list", {"entityTypeId": t["entityTypeId"]})
    return cmds


def _smart_processes(types: list[dict[str, Any]], extra: dict[str, Any]) -> tuple[list[dict[str, Any]], _Cmds]:
    """The smart processes with their pipelines, and the commands listing those pipelines' stages."""
    spa: list[dict[str, Any]] = []
    spa_stage_cmds: _Cmds = {}
    for t in types:
        cats = (extra.get(f"cat_{t['entityTypeId']}") or {}).get("categories", [])
        spa.append({"id": t["entityTypeId"], "title": t.get("title"),
                    "categories": [{"id": c["id"], "name": c.get("name")} for c in cats]})
        for cat in cats:
            spa_stage_cmds[f"s_{t['entityTypeId']}_{cat['id']}"] = _stage_list(
                f"DYNAMIC_{t['entityTypeId']}_STAGE_{cat['id']}")
    return spa, spa_stage_cmds


def _stages(rows: Any) -> list[dict[str, Any]]:
    # semantics: "S" success, "F" failure, "P" in progress (Bitrix24 leaves it empty for those).
    return [{"id": r["STATUS_ID"], "name": r.get("NAME"), "semantics": r.get("SEMANTICS") or "P"}
            for r in rows or []]


def _user_name(u: dict[str, Any]) -> str:
    return " ".join(p for p in (u.get("NAME"), u.get("LAST_NAME")) if p) or u.get("EMAIL") or str(u["ID"])


def _entity_types(mode: int, spa: list[dict[str, Any]]) -> list[str]:
    return (["lead"] if mode == 1 else []) + ["deal"] + (["smart_process"] if spa else [])


def _deal_categories(categories: list[dict[str, Any]], extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": int(c["id"]), "name": c.get("name"), "is_default": c.get("isDefault") == "Y",
             "stages": _stages(extra.get(f"deal_{c['id']}"))} for c in categories]


def _smart_process_options(spa: list[dict[str, Any]], spa_stages: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(s, categories=[dict(c, stages=_stages(spa_stages.get(f"s_{s['id']}_{c['id']}")))
                                for c in s["categories"]]) for s in spa]


async def portal_options(rt: Runtime, portal: str) -> dict[str, Any]:
    """Users, entity types, pipelines and stages of the portal, as the settings form shows them."""
    result = await portal_call(rt, portal, {
        "mode": ("crm.settings.mode.get", {}),
        "users": ("user.get", {"FILTER": {"ACTIVE": True, "USER_TYPE": "employee"}}),
        "lead_stages": ("crm.status.list", {"order": {"SORT": "ASC"}, "filter": {"ENTITY_ID": "STATUS"}}),
        "deal_categories": ("crm.category.list", {"entityTypeId": 2}),
        "types": ("crm.type.list", {}),
        "open_lines": LINES_COMMAND,
    })
    mode = int(result.get("mode") or 1)
    await rt.store.put_crm_mode(portal=portal, mode=mode)
    categories = (result.get("deal_categories") or {}).get("categories", [])
    types = (result.get("types") or {}).get("types", [])
    stage_cmds = _stage_cmds(categories, types)
    extra = await portal_call(rt, portal, stage_cmds) if stage_cmds else {}
    spa, spa_stage_cmds = _smart_processes(types, extra)
    spa_stages = await portal_call(rt, portal, spa_stage_cmds) if spa_stage_cmds else {}
    return {
        "crm_mode": "simple" if mode == 2 else "classic",
        "users": [{"id": int(u["ID"]), "name": _user_name(u)} for u in result.get("users") or []],
        "entity_types": _entity_types(mode, spa),
        "lead_stages": _stages(result.get("lead_stages")),
        "deal_categories": _deal_categories(categories, extra),
        "smart_processes": _smart_process_options(spa, spa_stages),
        "open_lines": open_lines(result.get("open_lines")),
    }


@router.get("/settings")
async def get_settings(rt: RuntimeDep, session: SessionDep) -> dict[str, Any]:
    stored = await rt.store.get_settings(session.portal) or {}
    # Settings saved before F17 link applicants already in the CRM (the default), as they are written now.
    return {**stored, "existing_contacts": stored.get("existing_contacts", "link")} if stored else {}


@router.put("/settings")
async def put_settings(body: dict[str, Any], rt: RuntimeDep, session: AdminSessionDep) -> dict[str, Any]:
    try:
        settings = SyncSettings.model_validate(body)
    except ValidationError as exc:
        details = describe(exc.errors())
        raise ApiError(422, "validation_error", f"Настройки не сохранены: {details}") from exc
    hh = await rt.store.get_hh(session.portal)
    if not hh or not hh.access_token:
        raise ApiError(409, "hh_not_connected", "Сначала войдите в аккаунт работодателя rabota.by.")
    problem = settings_problem(settings, await portal_options(rt, session.portal))
    if problem:
        raise ApiError(422, "validation_error", f"Настройки не сохранены: {problem}")
    previous = await rt.store.get_settings(session.portal) or {}
    await activate_line(rt, session.portal, settings.open_line_id, previous.get("open_line_id"))
    # No app.settings_saved event: nothing consumes it (the services read the settings from Redis).
    await rt.store.put_settings(session.portal, settings)
    if settings.entity_type == "smart_process" and settings.smart_process_type_id:
        await bind_card_placement(rt, session.portal, f"CRM_DYNAMIC_{settings.smart_process_type_id}_DETAIL_ACTIVITY")
    return settings.model_dump(mode="json")


async def bind_card_placement(rt: Runtime, portal: str, placement: str) -> None:
    """The action dialog (F16) on the smart process's cards; leads and deals have it from the install. Best effort:
    the timeline activity's menu opens the same dialog."""
    try:
        await (await open_session(rt, portal)).call(*placement_command(rt, placement))
    except (B24Error, B24PortalClosed, TransientError) as exc:
        if not (isinstance(exc, B24Error) and exc.code == "ERROR_CORE"):  # bound already
            rt.log.info("portal %s: %s not bound: %s", portal, placement, exc)


_Stages = list[dict[str, Any]]


def _deal_stages(settings: SyncSettings, options: dict[str, Any]) -> tuple[_Stages, str | None]:
    categories = options["deal_categories"]
    wanted = settings.category_id if settings.category_id is not None else 0
    category = next((c for c in categories if c["id"] == wanted), None)
    if category is None:
        return [], "воронка сделок не найдена."
    return category["stages"], None


def _smart_process_stages(settings: SyncSettings, options: dict[str, Any]) -> tuple[_Stages, str | None]:
    spa = next((s for s in options["smart_processes"] if s["id"] == settings.smart_process_type_id), None)
    if spa is None:
        return [], "смарт-процесс не найден."
    cats = spa["categories"]
    category = next((c for c in cats if int(c["id"]) == settings.category_id), None) \
        if settings.category_id is not None else (cats[0] if cats else None)
    if category is None:
        return [], "воронка смарт-процесса не найдена."
    return category["stages"], None


def _target_stages(settings: SyncSettings, options: dict[str, Any]) -> tuple[_Stages, str | None]:
    """The stages of the pipeline the settings write to; or what of it does not exist, in Russian."""
    if settings.entity_type == "lead":
        return options["lead_stages"], None
    if settings.entity_type == "deal":
        return _deal_stages(settings, options)
    return _smart_process_stages(settings, options)


def settings_problem(settings: SyncSettings, options: dict[str, Any]) -> str | None:
    """What in the settings does not exist on this portal (user, entity type, pipeline, stage), in Russian."""
    if settings.responsible_id not in {u["id"] for u in options["users"]}:
        return "ответственный не найден среди активных сотрудников портала."
    if settings.entity_type not in options["entity_types"]:
        return "этот тип сущности недоступен на портале."
    if settings.open_line_id is not None and settings.open_line_id not in {x["id"] for x in options["open_lines"]}:
        return "открытая линия не найдена на портале."
    stages, problem = _target_stages(settings, options)
    if problem:
        return problem
    known = {s["id"] for s in stages}
    missing = [key for key, stage in settings.stage_map.items() if stage not in known]
    if missing:
        return "нет такой стадии для статусов: " + ", ".join(sorted(missing)) + "."
    return None


def _state_owner(session: Session) -> str:
    return f"{session.portal}:{session.user_id}"


@router.get("/hh/authorize-url")
async def authorize_url(rt: RuntimeDep, session: AdminSessionDep) -> dict[str, str]:
    # The state names this session's portal and user and is remembered for them: only the app window that
    # asked for it can complete the login (POST /hh/connect), once, within STATE_TTL_S.
    nonce = secrets.token_urlsafe(16)
    await rt.store.remember_state(nonce, STATE_TTL_S, owner=_state_owner(session))
    state = rt.crypto.sign({"kind": "hh_state", "p": session.portal, "u": session.user_id, "n": nonce}, STATE_TTL_S,
                           purpose=OAUTH_STATE)
    query = urlencode({"response_type": "code", "client_id": rt.settings.HH_CLIENT_ID, "state": state,
                       "redirect_uri": rt.settings.hh_redirect_uri})
    return {"url": f"{rt.settings.HH_AUTHORIZE_URL}?{query}"}


class HhConnectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=512)
    state: str = Field(min_length=1, max_length=2048)


BAD_STATE = "Ссылка входа недействительна, устарела или открыта не из этого окна приложения. Нажмите «Войти» ещё раз."


@router.post("/hh/connect")
async def connect(body: HhConnectBody, rt: RuntimeDep, session: AdminSessionDep) -> dict[str, Any]:
    """Completes the rabota.by login the callback page handed over: the state must be this session's."""
    try:
        claims = rt.crypto.verify(body.state, purpose=OAUTH_STATE)
    except TokenError as exc:
        raise ApiError(400, "bad_state", BAD_STATE) from exc
    if (claims.get("kind") != "hh_state" or claims.get("p") != session.portal
            or claims.get("u") != session.user_id):
        raise ApiError(403, "foreign_state", "Этот вход начат в другом портале или другим пользователем. "
                                             "Нажмите «Войти» в своём приложении.")
    if not await rt.store.consume_state(str(claims.get("n", "")), owner=_state_owner(session)):
        raise ApiError(400, "bad_state", BAD_STATE)
    try:
        response = await rt.broker.request(HhConnectRequest(portal=session.portal, code=body.code),
                                           subjects.AUTH_HH_CONNECT, timeout=30.0)
    except TimeoutError as exc:
        raise ApiError(504, "hh_timeout", "rabota.by отвечает слишком долго. Нажмите «Войти» ещё раз.") from exc
    reply = HhConnectReply.model_validate_json(response.body)
    if not reply.ok:
        status = 409 if reply.error == "account_taken" else 400
        raise ApiError(status, reply.error or "hh_connect_failed", reply.message or "Вход в rabota.by не выполнен.")
    return {"ok": True, "employer_name": reply.employer_name, "manager_name": reply.manager_name}


@router.post("/hh/logout")
async def logout(rt: RuntimeDep, session: AdminSessionDep) -> dict[str, bool]:
    response = await rt.broker.request(TokenRequest(portal=session.portal), subjects.AUTH_HH_LOGOUT, timeout=30.0)
    return {"ok": HhConnectReply.model_validate_json(response.body).ok}


async def _import_answer(rt: Runtime, session: Session) -> dict[str, Any]:
    progress = await rt.store.get_import(session.portal)
    failures = await rt.store.failures(session.portal)
    eta: float | None = None
    if progress.state == "running" and progress.processed and progress.found > progress.processed:
        rate = progress.processed / max(1e-3, time.time() - progress.started_at)
        eta = round((progress.found - progress.processed) / rate, 1) if rate > 0 else None
    return {
        "state": progress.state, "found": progress.found, "imported": progress.imported,
        "failed": progress.failed, "processed": progress.processed, "listing_done": progress.listing_done,
        "eta_s": eta,
        # The daily resume view limit of rabota.by is reached: the rest waits for tomorrow (mapper).
        "view_limit_reached": await rt.store.view_limit_reached(portal=session.portal),
        "failures": [{"id": f.id, "negotiation_id": f.negotiation_id, "reason": f.reason} for f in failures],
        # Transient causes responses wait on (never failures): the outage of a party, named in Russian.
        "waiting": [f"ожидание: {reason}" for reason in await rt.store.waiting(session.portal)],
    }


@router.post("/import", status_code=202)
async def start_import(rt: RuntimeDep, session: AdminSessionDep) -> dict[str, Any]:
    hh = await rt.store.get_hh(session.portal)
    if not hh or not hh.access_token:
        raise ApiError(409, "hh_not_connected", "Сначала войдите в аккаунт работодателя rabota.by.")
    if hh.relogin_required:
        raise ApiError(409, "relogin_required", "Нужен повторный вход в rabota.by.")
    if await rt.store.get_settings(session.portal) is None:
        raise ApiError(409, "no_settings", "Сначала сохраните настройки синхронизации.")
    current = await rt.store.get_import(session.portal)
    if current.state == "running" and time.time() - current.started_at < 6 * 3600:
        return await _import_answer(rt, session)
    import_id = await rt.store.start_import(session.portal)
    await publish(rt.broker, subjects.subject(subjects.APP_EVENT, event="import_requested", portal=session.portal),
                  AppEvent(portal=session.portal, event="import_requested", data={"import_id": import_id}),
                  msg_id=f"import:{session.portal}:{import_id}")
    return await _import_answer(rt, session)


@router.get("/import")
async def get_import(rt: RuntimeDep, session: SessionDep) -> dict[str, Any]:
    return await _import_answer(rt, session)


@router.post("/failures/{failure_id}/retry", status_code=202)
async def retry_failure(failure_id: str, rt: RuntimeDep, session: AdminSessionDep) -> dict[str, Any]:
    for failure in await rt.store.failures(session.portal):
        if failure.id == failure_id:
            command = CrmCommand.model_validate(failure.data)
            if command.portal != session.portal:
                break
            # The record stays until the writer has written it (the writer clears it then): a retry that
            # fails again, or a message lost on the way, never makes a failure disappear unwritten.
            # Single flight: while this failure's retry is in flight, another click gets the same 202 and
            # publishes nothing; the message id makes JetStream drop a duplicate all the same.
            if not await rt.store.claim_retry(session.portal, failure_id, RETRY_IN_FLIGHT_S):
                return {"ok": True}
            try:
                await publish(rt.broker, subjects.subject(subjects.CRM_COMMAND, portal=session.portal), command,
                              msg_id=f"retry:{session.portal}:{failure_id}")
            except Exception:
                await rt.store.release_retry(session.portal, failure_id)
                raise
            return {"ok": True}
    raise ApiError(404, "not_found", "Ошибка с таким номером не найдена.")


@router.get("/new-responses")
async def new_responses(rt: RuntimeDep, session: SessionDep) -> dict[str, int]:
    hh = await rt.store.get_hh(session.portal)
    if not hh or not hh.access_token:
        raise ApiError(409, "hh_not_connected", "Сначала войдите в аккаунт работодателя rabota.by.")
    if hh.relogin_required:
        raise ApiError(409, "relogin_required", "Нужен повторный вход в rabota.by.")
    # The poller asks HeadHunter (lists only: nothing is marked viewed) and compares with the ledger.
    try:
        response = await rt.broker.request(TokenRequest(portal=session.portal), subjects.POLLER_NEW_RESPONSES,
                                            timeout=NEW_RESPONSES_TIMEOUT_S)
    except TimeoutError as exc:
        raise ApiError(504, "hh_timeout", "rabota.by отвечает слишком долго. Попробуйте позже.") from exc
    reply = NewResponsesReply.model_validate_json(response.body)
    if reply.error == "relogin_required":
        raise ApiError(409, "relogin_required", "Нужен повторный вход в rabota.by.")
    if not reply.ok:
        raise ApiError(503, "hh_unavailable", "rabota.by сейчас недоступен. Попробуйте позже.")
    return {"count": reply.count}


OTHER_PER_PAGE = 20
OTHER_MAX_PAGE = 10_000
OTHER_TYPES = {"lead": LEAD, "deal": DEAL, "smart_process": 0}


def _settings_smart_process(settings: SyncSettings | dict[str, Any] | None) -> int:
    """The smart process the settings write to (0: they write leads or deals, or there are none)."""
    if settings is None:
        return 0
    if isinstance(settings, dict):  # a settings body as it is stored
        kind, spa = settings.get("entity_type"), settings.get("smart_process_type_id")
    else:
        kind, spa = settings.entity_type, settings.smart_process_type_id
    return int(spa or 0) if kind == "smart_process" else 0


def requested_entity(entity_type: str, entity_type_id: int | None, entity_id: int,
                     settings: SyncSettings | dict[str, Any] | None) -> EntityRef:
    """The entity the Other responses view is opened for, with its type: `entity_type` (lead, deal or
    smart_process) and, for a smart process, `entity_type_id` (the card's entityTypeId; without it the
    smart process of the current settings, as `?entity_type=&entity_id=` always meant)."""
    if entity_type not in OTHER_TYPES and (entity_type or entity_type_id is None):
        raise ApiError(422, "validation_error", "Укажите entity_type (lead, deal или smart_process) и entity_id.")
    if entity_id <= 0:
        raise ApiError(422, "validation_error", "Укажите entity_id — номер сущности CRM.")
    etid = OTHER_TYPES.get(entity_type, 0) or entity_type_id or 0
    if not etid:
        etid = _settings_smart_process(settings)
    if not etid:  # no type named and none in the settings: no smart-process item of ours can be meant
        raise ApiError(404, "not_found", "Смарт-процесс не указан (entity_type_id): сущность не найдена.")
    smart = entity_type == "smart_process" or (not entity_type and etid not in (LEAD, DEAL))
    if (entity_type_id is not None and entity_type_id != etid) or smart != is_smart_process(etid):
        raise ApiError(422, "validation_error", "entity_type_id не соответствует типу сущности.")
    return EntityRef(etid, entity_id)


async def mark_seen(rt: Runtime, portal: str, ref: EntityRef, entities: list[tuple[EntityRef, str]]) -> None:
    """A recruiter opened the response from its card (the activity's button opens this view): its activity is
    completed, and the «Новый отклик» badge leaves the kanban card (F18). Never fails the view."""
    info_key = next((key for entity, key in entities if entity == ref), None)
    infos = await rt.store.entity_infos(portal, [info_key]) if info_key else []
    nid = infos[0].get("negotiation_id") if infos else None
    known = await rt.store.ledger_ref(portal=portal, negotiation_id=nid) if nid else None
    if known is None or not known.activity_id or known.entity != ref:
        return
    try:
        await portal_call(rt, portal, {"seen": ("crm.activity.configurable.update", {
            "id": known.activity_id, "fields": {"completed": "Y"}})})
    except ApiError as exc:
        rt.log.info("portal %s: activity %s not marked seen: %s", portal, known.activity_id, exc.message)


@router.get("/other-responses")
async def other_responses(rt: RuntimeDep, session: SessionDep, entity_type: str = "",
                          entity_id: int = Query(0, le=MAX_ID), entity_type_id: int | None = Query(None, le=MAX_ID),
                          applicant: str | None = None, page: int = Query(1, le=OTHER_MAX_PAGE)) -> dict[str, Any]:
    """Every entity written for the applicant of one entity (this type and id only) that the user may read in
    the CRM, 20 a page."""
    if applicant is not None:
        raise ApiError(422, "validation_error",
                       "Параметр applicant не поддерживается: укажите сущность CRM (entity_type и entity_id).")
    if page < 1:
        raise ApiError(422, "validation_error", "Номер страницы начинается с 1.")
    ref = requested_entity(entity_type, entity_type_id, entity_id, await rt.store.sync_settings(portal=session.portal))
    key = await rt.store.entity_applicant(session.portal, ref)
    if not key:
        raise ApiError(404, "not_found", "Эта сущность создана не приложением rabota.by.")
    entities = await rt.store.applicant_entities(session.portal, key)
    visible = await readable(rt, session, [ref, *(entity for entity, _ in entities)])
    if ref not in visible:  # as if it were not ours: a user who may not read it learns nothing of it
        raise ApiError(404, "not_found", "Эта сущность создана не приложением rabota.by.")
    entities = [(entity, info_key) for entity, info_key in entities if entity in visible]
    if page == 1:
        await mark_seen(rt, session.portal, ref, entities)
    total = len(entities)
    pages = max(1, math.ceil(total / OTHER_PER_PAGE))
    if page > pages:
        raise ApiError(422, "validation_error", f"Нет страницы {page}: всего страниц {pages}.")
    infos = await rt.store.entity_infos(session.portal, [info_key for _, info_key in entities])
    # Newest first (an applicant has a handful of responses: all are read, then one page is cut).
    rows = sorted(zip(entities, infos, strict=True), key=lambda row: row[1].get("created_at", ""), reverse=True)
    items = [{"entity_type": ref.entity_type, "entity_id": ref.entity_id, "entity_type_id": ref.entity_type_id,
              "url": data.get("url", ""), "vacancy": data.get("vacancy", ""), "status": data.get("status", ""),
              "created_at": data.get("created_at", "")}
             for (ref, _), data in rows[(page - 1) * OTHER_PER_PAGE: page * OTHER_PER_PAGE]]
    return {"items": items, "page": page, "pages": pages, "total": total}


class FeedbackBody(BaseModel):
    message: str = Field(min_length=1, max_length=5000)
    contact: str | None = Field(default=None, max_length=200)


@router.post("/feedback", status_code=201)
async def feedback(body: FeedbackBody, request: Request, rt: RuntimeDep, session: SessionDep) -> dict[str, bool]:
    await feedback_limited(request, session)  # after validation: only feedback that would be stored counts
    # Rate-limited per portal user (FEEDBACK_PER_HOUR, FEEDBACK_BURST) and capped per portal
    # (FEEDBACK_MAX_PER_PORTAL). No app.feedback event: nothing consumes it; operators read the list.
    await rt.store.add_feedback(session.portal, {"user_id": session.user_id, "message": body.message,
                                                "contact": body.contact, "at": time.time()},
                                keep=rt.settings.FEEDBACK_MAX_PER_PORTAL)
    return {"ok": True}
