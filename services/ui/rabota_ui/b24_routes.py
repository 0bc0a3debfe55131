"""Bitrix24-facing endpoints (DESIGN §7): installer, main page, events."""

from __future__ import annotations

import hmac
import re
import secrets
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from rabota_common import subjects
from rabota_common.b24_client import B24Error
from rabota_common.b24_session import B24Session
from rabota_common.bus import publish
from rabota_common.card_fields import APP_FIELDS, BADGE, SOURCE_NAME, SOURCE_STATUS_ID
from rabota_common.chats import CONNECTOR_ID, REPLY_TEXT_MAX, ChatReply
from rabota_common.errors import TransientError
from rabota_common.ids import is_member_id
from rabota_common.models import AppEvent
from rabota_common.runtime import Runtime
from rabota_common.store import UNINSTALLED_REASON, PortalRecord

from rabota_ui.deps import RuntimeDep, new_session
from rabota_ui.errors import ApiError
from rabota_ui.frame import BAD_MEMBER_ID, current_user, normal_domain, read_frame, user_is_admin
from rabota_ui.identity import check_app, confirm_portal
from rabota_ui.open_lines import CONNECTOR_MESSAGE_EVENT, connector_commands
from rabota_ui.pages import portal_ancestors, render
from rabota_ui.ratelimit import rate_limited

router = APIRouter()

# The app's user fields on leads and deals (the manual's four and the screening ones, F18).
USER_FIELDS = tuple((f.name.removeprefix("UF_CRM_"), f.user_type, f.label, f.multiple) for f in APP_FIELDS)


# Bitrix24 entity update events → entityTypeId (a smart process item carries its own ENTITY_TYPE_ID).
ENTITY_UPDATE_EVENTS = {"ONCRMLEADUPDATE": 1, "ONCRMDEALUPDATE": 2, "ONCRMDYNAMICITEMUPDATE": 0}


_CONNECTOR_FIELD = re.compile(r"^data\[MESSAGES\]\[(\d{1,3})\]\[(im|message|chat)\]\[(\w{1,20})\]$")


def userfield_commands() -> dict[str, tuple[str, dict[str, Any]]]:
    cmds: dict[str, tuple[str, dict[str, Any]]] = {}
    for entity in ("lead", "deal"):
        for name, type_id, label, multiple in USER_FIELDS:
            cmds[f"{entity}_{name}"] = (f"crm.{entity}.userfield.add", {"fields": {
                "FIELD_NAME": name, "USER_TYPE_ID": type_id, "LABEL": label,
                "EDIT_FORM_LABEL": label, "LIST_COLUMN_LABEL": label, "MANDATORY": "N",
                "MULTIPLE": "Y" if multiple else "N"}})
    return cmds


def screening_commands() -> dict[str, tuple[str, dict[str, Any]]]:
    """F18: the «rabota.by» lead source (a SOURCE directory entry) and the «Новый отклик» kanban badge."""
    return {
        "source": ("crm.status.add", {"fields": {"ENTITY_ID": "SOURCE", "STATUS_ID": SOURCE_STATUS_ID,
                                                 "NAME": SOURCE_NAME, "SORT": 500}}),
        "badge": ("crm.activity.badge.add", dict(BADGE)),
    }


def _already(key: str, error: dict[str, Any]) -> bool:
    text = str(error.get("error_description", "")).lower()
    return ("already" in text or "уже" in text or (key == "source" and "duplicate" in text)
            or (key.startswith("bind_") and error.get("error") == "ERROR_CORE"))


async def setup_portal(rt: Runtime, endpoint: str, token: str) -> list[str]:
    """Create the app's user fields and bind its events; repeated installs change nothing."""
    existing: set[str] = set()
    b24 = B24Session.for_user(rt.b24, endpoint, endpoint, token)  # the installer's token
    for entity in ("lead", "deal"):
        try:
            fields = await b24.call(f"crm.{entity}.userfield.list", {"filter": {}})
            existing |= {f"{entity}_{f.get('FIELD_NAME', '').removeprefix('UF_CRM_')}" for f in fields or []}
        except (B24Error, TransientError) as exc:
            rt.log.info("userfield list failed: %s", exc)
    to_add = {k: v for k, v in userfield_commands().items() if k not in existing}
    made = await b24.batch(to_add) if to_add else None  # ≤ 26 commands; the rest in a second batch (≤ 50 each)
    problems = [f"{k}: {v.get('error_description') or v.get('error')}"
                for k, v in (made.errors if made else {}).items() if not _already(k, v)]
    cmds = screening_commands()
    handler = f"{rt.settings.PUBLIC_URL.rstrip('/')}/b24/events"
    cmds["bind_uninstall"] = ("event.bind", {"event": "ONAPPUNINSTALL", "handler": handler})
    # Back-sync (F10): a stage moved in Bitrix24 moves the negotiation on HeadHunter when the setting is on.
    for event in ENTITY_UPDATE_EVENTS:
        cmds[f"bind_{event.lower()}"] = ("event.bind", {"event": event, "handler": handler})
    # Acting from the card (F16): the action dialog as a card placement of leads and deals.
    for placement in CARD_PLACEMENTS:
        cmds[f"bind_{placement.lower()}"] = placement_command(rt, placement)
    # Chats with applicants (F15): the «rabota.by» Open Lines connector and the operators' replies.
    cmds.update(connector_commands(rt))
    result = await b24.batch(cmds)
    problems += [f"{k}: {v.get('error_description') or v.get('error')}" for k, v in result.errors.items()
                 if not _already(k, v)]
    return problems


@router.post("/b24/install", response_class=HTMLResponse, dependencies=[Depends(rate_limited("b24_install"))])
async def install(request: Request, rt: RuntimeDep) -> Response:
    frame = await read_frame(request)
    # The portal is proved by the OAuth server before anything is sent anywhere or stored.
    confirmed = await confirm_portal(rt, frame.refresh_id, frame.member_id)
    if normal_domain(frame.domain) != confirmed.domain:
        raise ApiError(403, "wrong_domain", "Адрес портала не совпадает с подтверждённым Битрикс24.")
    await check_app(rt, confirmed)
    user = await current_user(rt, frame, confirmed.client_endpoint)
    if not await user_is_admin(rt, confirmed.client_endpoint, frame.auth_id):
        raise ApiError(403, "forbidden", "Установить приложение может только администратор портала Битрикс24.")
    existing = await rt.store.get_portal(frame.member_id)
    keep_app_token = existing is not None and existing.status_reason != UNINSTALLED_REASON
    # Reinstalled after a removal that kept the data: the portal issues a new application_token, which the
    # coming ONAPPINSTALL brings and proves; the old one must not be kept. A new generation ends the sessions
    # issued before, and a new webhook secret replaces the old one (the poller re-points the subscription).
    record = PortalRecord(
        member_id=frame.member_id,
        domain=confirmed.domain,
        client_endpoint=confirmed.client_endpoint,
        access_token=confirmed.access_token,
        refresh_token=confirmed.refresh_token,
        expires_at=confirmed.expires_at,
        application_token=existing.application_token if existing and keep_app_token else "",
        installed_by=int(user["ID"]),
        webhook_secret=secrets.token_urlsafe(24),
        generation=secrets.token_hex(8),
    )
    await rt.store.save_portal(record, old_webhook_secret=existing.webhook_secret if existing else "")
    problems = await setup_portal(rt, record.client_endpoint, record.access_token)
    await publish(rt.broker, subjects.subject(subjects.APP_EVENT, event="installed", portal=frame.member_id),
                  AppEvent(portal=frame.member_id, event="installed", data={"user_id": int(user["ID"])}))
    return render(rt, "install.html", frame_ancestors=portal_ancestors(record), problems=problems)


async def follow_rename(rt: Runtime, portal: PortalRecord, domain: str) -> PortalRecord:
    """A frame names another domain than the stored one: the OAuth server decides whether the portal was
    renamed (a refresh of the stored token answers the new domain for the same member_id)."""
    async with rt.store.lock(f"b24-refresh:{portal.member_id}"):
        current = await rt.store.get_portal(portal.member_id)
        if current is None:
            raise ApiError(403, "not_installed", "Приложение не установлено на этом портале. Установите его заново.")
        if current.domain == domain:
            return current
        confirmed = await confirm_portal(rt, current.refresh_token, current.member_id)
        await rt.store.update_portal(current.member_id, access_token=confirmed.access_token,
                                     refresh_token=confirmed.refresh_token, expires_at=confirmed.expires_at,
                                     client_endpoint=confirmed.client_endpoint, domain=confirmed.domain)
        if confirmed.domain != domain:
            raise ApiError(403, "wrong_domain", "Запрос не от вашего портала Битрикс24.")
        rt.log.info("portal %s renamed to %s", current.member_id, confirmed.domain)
        return current.model_copy(update={"client_endpoint": confirmed.client_endpoint, "domain": confirmed.domain})


@router.post("/b24/app", response_class=HTMLResponse, dependencies=[Depends(rate_limited("b24_app"))])
async def main_page(request: Request, rt: RuntimeDep) -> Response:
    try:
        frame = await read_frame(request)
    except ApiError as exc:
        if exc.error == "bad_member_id":
            raise  # a 400 JSON answer
        return render(rt, "error.html", status_code=exc.status, message=exc.message)
    try:
        portal = await rt.store.get_portal(frame.member_id)
        if portal is None:
            raise ApiError(403, "not_installed", "Приложение не установлено на этом портале. Установите его заново.")
        if portal.application_token and not hmac.compare_digest(portal.application_token, frame.application_token):
            raise ApiError(403, "frame_not_verified", "Запрос не от вашего портала Битрикс24.")
        if normal_domain(frame.domain) != portal.domain:
            portal = await follow_rename(rt, portal, normal_domain(frame.domain))
        user = await current_user(rt, frame, portal.client_endpoint)
        is_admin = await user_is_admin(rt, portal.client_endpoint, frame.auth_id)
    except ApiError as exc:
        return render(rt, "error.html", status_code=exc.status, message=exc.message)
    generation = portal.generation
    if not generation:  # a record from before sessions carried the install generation
        generation = secrets.token_hex(8)
        await rt.store.update_portal(frame.member_id, generation=generation)
    session = new_session(rt, frame.member_id, int(user["ID"]), is_admin, generation, user_token=frame.auth_id,
                          user_token_expires_at=time.time() + frame.auth_expires)
    view, options = page_view(frame.placement, frame.placement_options)
    return render(rt, "app.html", frame_ancestors=portal_ancestors(portal), session=session, view=view,
                  options=options, is_admin=is_admin)


def placement_command(rt: Runtime, placement: str) -> tuple[str, dict[str, Any]]:
    """`placement.bind` of the action dialog (F16) at a card placement; the app's main page is its handler."""
    return ("placement.bind", {
        "PLACEMENT": placement, "HANDLER": f"{rt.settings.PUBLIC_URL.rstrip('/')}/b24/app",
        "TITLE": "rabota.by: пригласить или отказать", "LANG_ALL": {
            "ru": {"TITLE": "rabota.by: пригласить или отказать"}, "en": {"TITLE": "rabota.by: invite or reject"}}})


# The card placements of F16 (`CRM_{LEAD|DEAL}_DETAIL_ACTIVITY`): bound at install, they open the action dialog
# of the card's entity; Bitrix24 names the entity by PLACEMENT_OPTIONS `ID`.
CARD_PLACEMENTS = {"CRM_LEAD_DETAIL_ACTIVITY": 1, "CRM_DEAL_DETAIL_ACTIVITY": 2}
_DYNAMIC_PLACEMENT = re.compile(r"^CRM_DYNAMIC_(\d{1,10})_DETAIL_ACTIVITY$")


def page_view(placement: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Which view a frame opens and the card it is about (`entityTypeId`, `entityId` as the timeline's
    openRestApp gives them)."""
    dynamic = _DYNAMIC_PLACEMENT.match(placement)
    etid = CARD_PLACEMENTS.get(placement) or (int(dynamic.group(1)) if dynamic else 0)
    if etid:
        entity = str(options.get("ID") or options.get("ENTITY_ID") or "")
        return "actions", {"entityTypeId": str(etid), "entityId": entity if entity.isdigit() else ""}
    view = options.get("view")
    return (view if view in ("other_responses", "actions", "chat") else "main"), options


def _nested(form: dict[str, str], prefix: str) -> dict[str, str]:
    return {k[len(prefix) + 1:-1]: v for k, v in form.items() if k.startswith(prefix + "[") and k.endswith("]")}


async def claim_install(rt: Runtime, portal: PortalRecord, auth: dict[str, str]) -> None:
    """The first ONAPPINSTALL after the installer claims the application token, proved like an install: its
    refresh token, refreshed by the OAuth server, names this portal; app.info names this app; and the token
    belongs to a portal administrator (only they hold tokens before the installation is finished)."""
    app_token = auth.get("application_token", "")
    if not app_token:
        raise ApiError(400, "bad_event", "В событии нет application_token.")
    confirmed = await confirm_portal(rt, auth.get("refresh_token", ""), portal.member_id)
    await check_app(rt, confirmed)
    if not await user_is_admin(rt, confirmed.client_endpoint, confirmed.access_token):
        raise ApiError(403, "not_verified", "Событие не подтверждено порталом.")
    await rt.store.update_portal(portal.member_id, application_token=app_token,
                                 access_token=confirmed.access_token, refresh_token=confirmed.refresh_token,
                                 expires_at=confirmed.expires_at, client_endpoint=confirmed.client_endpoint,
                                 domain=confirmed.domain)


@router.post("/b24/events", dependencies=[Depends(rate_limited("b24_events"))])
async def events(request: Request, rt: RuntimeDep) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    event = form.get("event", "").strip().upper()
    if not event:
        raise ApiError(400, "bad_event", "В запросе нет поля event.")
    auth = _nested(form, "auth")
    data = _nested(form, "data")
    member_id = auth.get("member_id", "")
    if not is_member_id(member_id):
        raise ApiError(400, "bad_member_id", BAD_MEMBER_ID)
    portal = await rt.store.get_portal(member_id)
    if portal is None:
        raise ApiError(403, "unknown_portal", "Неизвестный портал.")
    app_token = auth.get("application_token", "")
    if event == "ONAPPINSTALL" and not portal.application_token:
        await claim_install(rt, portal, auth)
        return JSONResponse({"ok": True})
    if not app_token or not hmac.compare_digest(portal.application_token, app_token):
        raise ApiError(403, "bad_application_token", "Событие не от этого приложения.")
    if event == "ONAPPUNINSTALL":
        if str(data.get("CLEAN", "0")) == "1":
            await rt.store.wipe_portal(member_id)
        else:
            # A new generation ends the portal's sessions (they also see the uninstalled status).
            await rt.store.update_portal(member_id, status="inactive", status_reason=UNINSTALLED_REASON,
                                         generation=secrets.token_hex(8))
        return JSONResponse({"ok": True})
    if event == "ONAPPINSTALL":
        return JSONResponse({"ok": True})
    if event in ENTITY_UPDATE_EVENTS:
        return JSONResponse({"ok": True, "forwarded": await forward_entity_update(rt, member_id, event, form)})
    if event == CONNECTOR_MESSAGE_EVENT:
        return JSONResponse({"ok": True, "forwarded": await forward_replies(rt, member_id, form)})
    return JSONResponse({"ok": True, "ignored": event})


async def forward_entity_update(rt: Runtime, member_id: str, event: str, form: dict[str, str]) -> bool:
    """An entity of ours changed in Bitrix24: hand it to the poller (the HeadHunter-facing service) when
    back-sync is on. The app's own updates come here too; the poller tells them apart by the ledger."""
    try:
        settings = await rt.store.sync_settings(portal=member_id)
    except ValidationError:
        return False  # settings an older version stored: back-sync waits for them to be saved again
    if settings is None or not settings.back_sync or not settings.extended:
        return False
    entity_id = int(form.get("data[FIELDS][ID]") or 0)
    entity_type_id = ENTITY_UPDATE_EVENTS[event] or int(form.get("data[FIELDS][ENTITY_TYPE_ID]") or 0)
    if entity_id <= 0 or entity_type_id <= 0:
        return False
    await publish(rt.broker, subjects.subject(subjects.APP_EVENT, event="crm_entity_updated", portal=member_id),
                  AppEvent(portal=member_id, event="crm_entity_updated",
                           data={"entity_type_id": entity_type_id, "entity_id": entity_id}))
    return True


def connector_messages(form: dict[str, str]) -> list[dict[str, dict[str, str]]]:
    """The `MESSAGES` of ONIMCONNECTORMESSAGEADD from the form (`data[MESSAGES][0][im][chat_id]` …)."""
    found: dict[int, dict[str, dict[str, str]]] = {}
    for key, value in form.items():
        match = _CONNECTOR_FIELD.match(key)
        if match:
            found.setdefault(int(match.group(1)), {}).setdefault(match.group(2), {})[match.group(3)] = value
    return [found[i] for i in sorted(found)]


async def forward_replies(rt: Runtime, member_id: str, form: dict[str, str]) -> int:
    """An operator answered in an Open Line through our connector: each message goes to the poller (the
    HeadHunter-facing service) on chat.reply, deduplicated by its Bitrix24 message id. Anything malformed or of
    another connector is left alone."""
    if form.get("data[CONNECTOR]") != CONNECTOR_ID:
        return 0
    line = form.get("data[LINE]", "")
    forwarded = 0
    for item in connector_messages(form):
        try:
            reply = ChatReply(portal=member_id, line=int(line), chat_id=item.get("chat", {}).get("id", ""),
                              im_chat_id=int(item.get("im", {}).get("chat_id", "0")),
                              im_message_id=int(item.get("im", {}).get("message_id", "0")),
                              user_id=int(item.get("message", {}).get("user_id", "0") or 0),
                              text=item.get("message", {}).get("text", "")[:REPLY_TEXT_MAX])
        except (ValueError, ValidationError) as exc:
            rt.log.warning("portal %s: an Open Line reply not understood: %s", member_id, type(exc).__name__)
            continue
        await publish(rt.broker, subjects.subject(subjects.CHAT_REPLY, portal=member_id), reply,
                      msg_id=f"{member_id}:b24-reply:{reply.im_message_id}")
        forwarded += 1
    return forwarded
