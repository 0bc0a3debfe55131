"""Bitrix24-facing endpoints (DESIGN §7): installer, main page, events."""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from rabota_common import subjects
from rabota_common.b24_client import B24Error
from rabota_common.bus import publish
from rabota_common.models import AppEvent
from rabota_common.runtime import Runtime
from rabota_common.store import UNINSTALLED_REASON, PortalRecord

from rabota_ui.deps import RuntimeDep, new_session
from rabota_ui.errors import ApiError
from rabota_ui.frame import current_user, read_frame
from rabota_ui.pages import render
from rabota_ui.ratelimit import rate_limited

router = APIRouter()

USER_FIELDS = (
    ("RABOTABY_CREATED_AT", "string", "Дата создания rabota.by"),
    ("RABOTABY_STATUS", "string", "Статус rabota.by"),
    ("RABOTABY_VACANCIES", "string", "Вакансия rabota.by"),
    ("RABOTABY_RESUME", "file", "Резюме rabota.by"),
)


# Bitrix24 entity update events → entityTypeId (a smart process item carries its own ENTITY_TYPE_ID).
ENTITY_UPDATE_EVENTS = {"ONCRMLEADUPDATE": 1, "ONCRMDEALUPDATE": 2, "ONCRMDYNAMICITEMUPDATE": 0}


def userfield_commands() -> dict[str, tuple[str, dict[str, Any]]]:
    cmds: dict[str, tuple[str, dict[str, Any]]] = {}
    for entity in ("lead", "deal"):
        for name, type_id, label in USER_FIELDS:
            cmds[f"{entity}_{name}"] = (f"crm.{entity}.userfield.add", {"fields": {
                "FIELD_NAME": name, "USER_TYPE_ID": type_id, "LABEL": label,
                "EDIT_FORM_LABEL": label, "LIST_COLUMN_LABEL": label, "MANDATORY": "N", "MULTIPLE": "N"}})
    return cmds


async def setup_portal(rt: Runtime, endpoint: str, token: str) -> list[str]:
    """Create the app's user fields and bind its events; repeated installs change nothing."""
    existing: set[str] = set()
    for entity in ("lead", "deal"):
        try:
            fields = await rt.b24.call(endpoint, token, f"crm.{entity}.userfield.list", {"filter": {}})
            existing |= {f"{entity}_{f.get('FIELD_NAME', '').removeprefix('UF_CRM_')}" for f in fields or []}
        except B24Error as exc:
            rt.log.info("userfield list failed: %s", exc)
    cmds = {k: v for k, v in userfield_commands().items() if k not in existing}
    handler = f"{rt.settings.PUBLIC_URL.rstrip('/')}/b24/events"
    cmds["bind_uninstall"] = ("event.bind", {"event": "ONAPPUNINSTALL", "handler": handler})
    # Back-sync (F10): a stage moved in Bitrix24 moves the negotiation on HeadHunter when the setting is on.
    for event in ENTITY_UPDATE_EVENTS:
        cmds[f"bind_{event.lower()}"] = ("event.bind", {"event": event, "handler": handler})
    result = await rt.b24.batch(endpoint, token, cmds)
    problems = [f"{k}: {v.get('error_description') or v.get('error')}" for k, v in result.errors.items()
                if "already" not in str(v.get("error_description", "")).lower()
                and "уже" not in str(v.get("error_description", "")).lower()
                and not (k.startswith("bind_") and v.get("error") == "ERROR_CORE")]
    return problems


@router.post("/b24/install", response_class=HTMLResponse, dependencies=[Depends(rate_limited("b24_install"))])
async def install(request: Request, rt: RuntimeDep) -> Response:
    frame = await read_frame(request)
    user = await current_user(rt, frame)
    existing = await rt.store.get_portal(frame.member_id)
    if existing and existing.status_reason == UNINSTALLED_REASON:
        # Reinstalled after a removal that kept the data: the portal issues a new application_token, which the
        # coming ONAPPINSTALL brings and proves; the old one must not be kept.
        existing = existing.model_copy(update={"application_token": ""})
    record = PortalRecord(
        member_id=frame.member_id,
        domain=frame.domain,
        client_endpoint=frame.client_endpoint,
        access_token=frame.auth_id,
        refresh_token=frame.refresh_id,
        expires_at=time.time() + frame.auth_expires - 30,
        application_token=existing.application_token if existing else "",
        installed_by=int(user["ID"]),
        webhook_secret=existing.webhook_secret if existing else secrets.token_urlsafe(24),
    )
    await rt.store.save_portal(record)
    problems = await setup_portal(rt, record.client_endpoint, frame.auth_id)
    await publish(rt.broker, subjects.subject(subjects.APP_EVENT, event="installed", portal=frame.member_id),
                  AppEvent(portal=frame.member_id, event="installed", data={"user_id": int(user["ID"])}))
    return render(rt, "install.html", problems=problems)


@router.post("/b24/app", response_class=HTMLResponse, dependencies=[Depends(rate_limited("b24_app"))])
async def main_page(request: Request, rt: RuntimeDep) -> Response:
    try:
        frame = await read_frame(request)
        portal = await rt.store.get_portal(frame.member_id)
        if portal is None:
            raise ApiError(403, "not_installed", "Приложение не установлено на этом портале. Установите его заново.")
        if portal.application_token and not hmac.compare_digest(portal.application_token, frame.application_token):
            raise ApiError(403, "frame_not_verified", "Запрос не от вашего портала Битрикс24.")
        user = await current_user(rt, frame, portal.client_endpoint)
    except ApiError as exc:
        return render(rt, "error.html", status_code=exc.status, message=exc.message)
    session = new_session(rt, frame.member_id, int(user["ID"]))
    view = "other_responses" if frame.placement_options.get("view") == "other_responses" else "main"
    return render(rt, "app.html", session=session, view=view, options=frame.placement_options)


def _nested(form: dict[str, str], prefix: str) -> dict[str, str]:
    return {k[len(prefix) + 1:-1]: v for k, v in form.items() if k.startswith(prefix + "[") and k.endswith("]")}


@router.post("/b24/events", dependencies=[Depends(rate_limited("b24_events"))])
async def events(request: Request, rt: RuntimeDep) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    event = form.get("event", "").upper()
    auth = _nested(form, "auth")
    data = _nested(form, "data")
    member_id = auth.get("member_id", "")
    portal = await rt.store.get_portal(member_id) if member_id else None
    if portal is None:
        raise ApiError(403, "unknown_portal", "Неизвестный портал.")
    app_token = auth.get("application_token", "")
    if event == "ONAPPINSTALL" and not portal.application_token:
        # First event after the installer: prove the tokens with the portal we stored from the frame.
        try:
            await rt.b24.call(portal.client_endpoint, auth.get("access_token", ""), "app.info")
        except B24Error as exc:
            raise ApiError(403, "not_verified", "Событие не подтверждено порталом.") from exc
        updates: dict[str, Any] = {"application_token": app_token}
        if auth.get("refresh_token"):
            updates.update(access_token=auth.get("access_token", ""), refresh_token=auth["refresh_token"],
                           expires_at=time.time() + float(auth.get("expires_in") or 3600) - 30)
        await rt.store.update_portal(member_id, **updates)
        return JSONResponse({"ok": True})
    if not app_token or not hmac.compare_digest(portal.application_token, app_token):
        raise ApiError(403, "bad_application_token", "Событие не от этого приложения.")
    if event == "ONAPPUNINSTALL":
        if str(data.get("CLEAN", "0")) == "1":
            await rt.store.wipe_portal(member_id)
        else:
            await rt.store.update_portal(member_id, status="inactive", status_reason=UNINSTALLED_REASON)
        return JSONResponse({"ok": True})
    if event == "ONAPPINSTALL":
        return JSONResponse({"ok": True})
    if event in ENTITY_UPDATE_EVENTS:
        return JSONResponse({"ok": True, "forwarded": await forward_entity_update(rt, member_id, event, form)})
    return JSONResponse({"ok": True, "ignored": event})


async def forward_entity_update(rt: Runtime, member_id: str, event: str, form: dict[str, str]) -> bool:
    """An entity of ours changed in Bitrix24: hand it to the poller (the HeadHunter-facing service) when
    back-sync is on. The app's own updates come here too; the poller tells them apart by the ledger."""
    settings = await rt.store.get_settings(member_id)
    if not settings or not settings.get("back_sync") or not settings.get("extended"):
        return False
    entity_id = int(form.get("data[FIELDS][ID]") or 0)
    entity_type_id = ENTITY_UPDATE_EVENTS[event] or int(form.get("data[FIELDS][ENTITY_TYPE_ID]") or 0)
    if entity_id <= 0 or entity_type_id <= 0:
        return False
    await publish(rt.broker, subjects.subject(subjects.APP_EVENT, event="crm_entity_updated", portal=member_id),
                  AppEvent(portal=member_id, event="crm_entity_updated",
                           data={"entity_type_id": entity_type_id, "entity_id": entity_id}))
    return True
