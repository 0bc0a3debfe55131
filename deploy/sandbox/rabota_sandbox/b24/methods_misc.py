"""Non-CRM methods: app.info, profile, user.get/current/search, im.notify*, event.*, placement.*,
scope, server.time."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

from .crm_store import match_one, page, split_filter_key
from .events import KNOWN_EVENTS
from .params import as_list, get_ci, to_bool, to_int
from .portal import Portal, RestError
from .registry import Ctx, MethodResult, method, now_iso


def app_info(portal: Portal, client_id: str, version: str, status: str) -> dict[str, Any]:
    return {
        # As documented: CODE is the application code (a local app's client id), VERSION a number.
        "ID": 1, "CODE": client_id, "VERSION": int(version) if version.isdigit() else version, "STATUS": status,
        "INSTALLED": portal.installed,
        "PAYMENT_EXPIRED": "N", "DAYS": None, "LANGUAGE_ID": "ru", "LICENSE": "by_project",
        "LICENSE_TYPE": "project", "LICENSE_FAMILY": "project",
    }


@method("app.info")
def m_app_info(ctx: Ctx, params: dict[str, Any]) -> Any:
    return app_info(ctx.portal, ctx.config.client_id, ctx.config.app_version, ctx.config.app_status)


@method("profile")
def m_profile(ctx: Ctx, params: dict[str, Any]) -> Any:
    u = ctx.user
    return {"ID": str(u.id), "ADMIN": u.admin, "NAME": u.name, "LAST_NAME": u.last_name, "PERSONAL_GENDER": "",
            "PERSONAL_PHOTO": "", "TIME_ZONE": "Europe/Minsk", "TIME_ZONE_OFFSET": 10800}


@method("server.time")
def m_server_time(ctx: Ctx, params: dict[str, Any]) -> Any:
    return now_iso()


@method("scope")
def m_scope(ctx: Ctx, params: dict[str, Any]) -> Any:
    return ctx.config.scope.split(",")


@method("user.current")
def m_user_current(ctx: Ctx, params: dict[str, Any]) -> Any:
    row = ctx.user.row()
    row["ADMIN"] = ctx.user.admin
    return row


@method("user.admin")
def m_user_admin(ctx: Ctx, params: dict[str, Any]) -> Any:
    """Whether the token's user may manage the app's settings (a portal administrator): a boolean."""
    return bool(ctx.user.admin)


USER_FILTER_KEYS = {"ID", "ACTIVE", "NAME", "LAST_NAME", "SECOND_NAME", "EMAIL", "WORK_POSITION", "UF_DEPARTMENT",
                    "USER_TYPE", "NAME_SEARCH", "IS_ONLINE", "XML_ID"}


def _user_rows(ctx: Ctx, flt: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for u in sorted(ctx.portal.users.values(), key=lambda x: x.id):
        row = u.row()
        ok = True
        for key, value in flt.items():
            op, name = split_filter_key(str(key))
            name = name.upper()
            if name == "ACTIVE":
                want = to_bool(value)
                ok = want is None or u.active == want
            elif name in ("NAME_SEARCH", "FIND"):
                needle = str(value).lower().strip()
                hay = f"{u.name} {u.last_name} {u.email} {u.position}".lower()
                ok = all(part in hay for part in needle.split())
            elif name == "UF_DEPARTMENT":
                ok = match_one([1], op, value)
            elif name in row:
                ok = match_one(row[name], op or ("%" if name in ("NAME", "LAST_NAME") and False else ""), value)
            else:
                ok = True  # unknown filter keys are ignored
            if not ok:
                break
        if ok:
            out.append(row)
    return out


@method("user.get")
def m_user_get(ctx: Ctx, params: dict[str, Any]) -> Any:
    flt = get_ci(params, "FILTER")
    flt = dict(flt) if isinstance(flt, dict) else {}
    for k, v in params.items():  # legacy form: filter keys at the top level
        if split_filter_key(k)[1].upper() in USER_FILTER_KEYS:
            flt[k] = v
    rows = _user_rows(ctx, flt)
    sort = str(get_ci(params, "sort") or "ID").upper()
    desc = str(get_ci(params, "order") or "ASC").upper() == "DESC"
    if sort == "ID":
        rows.sort(key=lambda r: int(r["ID"]), reverse=desc)
    else:
        rows.sort(key=lambda r: str(r.get(sort) or ""), reverse=desc)
    chunk, total, nxt = page(rows, get_ci(params, "start"))
    return MethodResult(chunk, total, nxt)


@method("user.search")
def m_user_search(ctx: Ctx, params: dict[str, Any]) -> Any:
    flt = get_ci(params, "FILTER")
    flt = dict(flt) if isinstance(flt, dict) else {}
    if "FIND" in flt and len(flt) > 1:
        raise RestError("INVALID_FILTER", "FIND cannot be combined with other filter fields", 400)
    rows = _user_rows(ctx, flt)
    chunk, total, nxt = page(rows, get_ci(params, "start"))
    return MethodResult(chunk, total, nxt)


# ------------------------------------------------------------------------------------- notifications
def _notify(ctx: Ctx, params: dict[str, Any], kind: str) -> Any:
    uid = to_int(get_ci(params, "USER_ID"))
    if uid is None or uid <= 0:
        raise RestError("USER_ID_EMPTY", "Recipient ID is empty", 400)
    message = get_ci(params, "MESSAGE")
    message = "" if message is None else str(message).strip()
    if not message:
        raise RestError("MESSAGE_EMPTY", "Message text is empty", 400)
    attach = get_ci(params, "ATTACH")
    if attach is not None and len(str(attach)) > 60000:
        raise RestError("ATTACH_OVERSIZE", "Attach is too big", 400)
    if uid not in ctx.portal.users or not ctx.portal.users[uid].active:
        return False
    tag = get_ci(params, "TAG")
    if tag:
        ctx.portal.notifications[:] = [n for n in ctx.portal.notifications
                                       if not (n["tag"] == str(tag) and n["user_id"] == uid)]
    nid = ctx.portal.new_id("notify")
    ctx.portal.notifications.append({
        "id": nid, "user_id": uid, "message": message, "message_out": get_ci(params, "MESSAGE_OUT"),
        "tag": str(tag) if tag else None, "sub_tag": get_ci(params, "SUB_TAG"), "attach": attach, "type": kind,
        "from_user_id": ctx.user_id, "date": now_iso(), "ts": time.time()})
    return nid


@method("im.notify.system.add")
def m_notify_system(ctx: Ctx, params: dict[str, Any]) -> Any:
    return _notify(ctx, params, "SYSTEM")


@method("im.notify.personal.add")
def m_notify_personal(ctx: Ctx, params: dict[str, Any]) -> Any:
    return _notify(ctx, params, "USER")


@method("im.notify")
def m_notify(ctx: Ctx, params: dict[str, Any]) -> Any:
    t = str(get_ci(params, "TYPE") or "USER").upper()
    return _notify(ctx, params, "SYSTEM" if t == "SYSTEM" else "USER")


# ------------------------------------------------------------------------------------- events
def _check_handler(ctx: Ctx, handler: str) -> None:
    parts = urlsplit(handler)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RestError("ERROR_HANDLER_URL_MISMATCH", "Handler URL is invalid", 400)
    app_host = urlsplit(ctx.config.app_url).hostname
    if parts.hostname != app_host:
        raise RestError("ERROR_HANDLER_URL_MISMATCH", "Handler URL host doesn't match application url", 400)


@method("event.bind")
def m_event_bind(ctx: Ctx, params: dict[str, Any]) -> Any:
    event = str(get_ci(params, "event") or "").upper()
    handler = str(get_ci(params, "handler") or "")
    if not event or event not in KNOWN_EVENTS:
        raise RestError("ERROR_EVENT_NOT_FOUND", "Event not found", 400)
    if not handler:
        raise RestError("ERROR_HANDLER_URL_MISMATCH", "Handler URL is empty", 400)
    _check_handler(ctx, handler)
    auth_type = to_int(get_ci(params, "auth_type")) or 0
    if auth_type and auth_type != ctx.user_id and not ctx.user.admin:
        raise RestError("ACCESS_DENIED", "Access denied", 403)
    event_type = str(get_ci(params, "event_type") or "online").lower()
    if event_type == "offline":
        raise RestError("ERROR_CORE", "Offline events are not supported by the sandbox", 400)
    for b in ctx.portal.event_bindings:
        if b["event"] == event and b["handler"] == handler and b["auth_type"] == auth_type:
            raise RestError("ERROR_CORE", "Handler already binded", 400)
    ctx.portal.event_bindings.append({"id": ctx.portal.new_id("event"), "event": event, "handler": handler,
                                      "auth_type": auth_type, "offline": 0, "options": get_ci(params, "options")})
    return True


@method("event.get")
def m_event_get(ctx: Ctx, params: dict[str, Any]) -> Any:
    return [{"event": b["event"], "handler": b["handler"], "auth_type": str(b["auth_type"]), "offline": b["offline"]}
            for b in ctx.portal.event_bindings]


@method("event.unbind")
def m_event_unbind(ctx: Ctx, params: dict[str, Any]) -> Any:
    event = str(get_ci(params, "event") or "").upper()
    handler = str(get_ci(params, "handler") or "")
    if not event:
        raise RestError("ERROR_EVENT_NOT_FOUND", "Event not found", 400)
    before = len(ctx.portal.event_bindings)
    ctx.portal.event_bindings[:] = [b for b in ctx.portal.event_bindings
                                    if not (b["event"] == event and (not handler or b["handler"] == handler))]
    return {"count": before - len(ctx.portal.event_bindings)}


# ------------------------------------------------------------------------------------- placements
PLACEMENT_RE = re.compile(
    r"^(CRM_(LEAD|DEAL|CONTACT|COMPANY|QUOTE|SMART_INVOICE|ACTIVITY|DYNAMIC_\d+)_"
    r"(DETAIL_TAB|DETAIL_TOOLBAR|DETAIL_ACTIVITY|ACTIVITY_TIMELINE_MENU|LIST_MENU|LIST_TOOLBAR|"
    r"DOCUMENTGENERATOR_BUTTON|ROBOT_DESIGNER_TOOLBAR|FUNNELS_TOOLBAR)|"
    r"CRM_FUNNELS_TOOLBAR|LEFT_MENU|REST_APP_URI|PAGE_BACKGROUND_WORKER|USER_PROFILE_MENU|USER_PROFILE_TOOLBAR|"
    r"IM_NAVIGATION|IM_TEXTAREA|IM_SIDEBAR|IM_CONTEXT_MENU|TASK_VIEW_TAB|TASK_VIEW_SIDEBAR|TASK_LIST_CONTEXT_MENU|"
    r"CALENDAR_GRIDVIEW|TELEPHONY_ANALYTICS_MENU|CONTACT_CENTER|SONET_GROUP_DETAIL_TAB|MAIN_MENU)$")
SINGLE = {"REST_APP_URI", "PAGE_BACKGROUND_WORKER"}


@method("placement.bind")
def m_placement_bind(ctx: Ctx, params: dict[str, Any]) -> Any:
    if not ctx.user.admin:
        raise RestError("ACCESS_DENIED", "Access denied! Admin permissions required", 403)
    placement = str(get_ci(params, "PLACEMENT") or "").upper()
    handler = str(get_ci(params, "HANDLER") or "")
    if not placement:
        return _arg_error("PLACEMENT")
    if not handler:
        return _arg_error("HANDLER")
    if not PLACEMENT_RE.match(placement):
        raise RestError("ERROR_PLACEMENT_NOT_FOUND", "Placement not found", 400)
    same = [p for p in ctx.portal.placements if p["placement"] == placement]
    if placement in SINGLE and same:
        raise RestError("ERROR_PLACEMENT_MAX_COUNT", "Placement max count exceeded", 400)
    if any(p["handler"] == handler for p in same):
        raise RestError("ERROR_CORE", "Handler already binded", 400)
    lang_all = get_ci(params, "LANG_ALL")
    ctx.portal.placements.append({
        "id": ctx.portal.new_id("placement"), "placement": placement, "handler": handler,
        "title": str(get_ci(params, "TITLE") or ""), "description": str(get_ci(params, "DESCRIPTION") or ""),
        "group_name": str(get_ci(params, "GROUP_NAME") or ""),
        "langAll": lang_all if isinstance(lang_all, dict) else {},
        "options": get_ci(params, "OPTIONS") or {}, "userId": to_int(get_ci(params, "USER_ID")) or 0})
    return True


class _ArgError(RestError):
    pass


def _arg_error(arg: str) -> Any:
    # placement.bind answers its argument errors with HTTP 200 and an `argument` key.
    raise _ArgError("ERROR_ARGUMENT", f"Argument '{arg}' is null or empty", 200, {"argument": arg})


@method("placement.get")
def m_placement_get(ctx: Ctx, params: dict[str, Any]) -> Any:
    return [{"placement": p["placement"], "userId": p["userId"], "handler": p["handler"], "options": p["options"],
             "title": p["title"], "description": p["description"], "langAll": p["langAll"]}
            for p in ctx.portal.placements]


@method("placement.unbind")
def m_placement_unbind(ctx: Ctx, params: dict[str, Any]) -> Any:
    if not ctx.user.admin:
        raise RestError("ACCESS_DENIED", "Access denied! Admin permissions required", 403)
    placement = str(get_ci(params, "PLACEMENT") or "").upper()
    if not placement:
        raise RestError("ERROR_ARGUMENT", "Argument 'PLACEMENT' is null or empty", 400, {"argument": "PLACEMENT"})
    handler = get_ci(params, "HANDLER")
    before = len(ctx.portal.placements)
    ctx.portal.placements[:] = [p for p in ctx.portal.placements
                                if not (p["placement"] == placement and (not handler or p["handler"] == handler))]
    return {"count": before - len(ctx.portal.placements)}


@method("placement.list")
def m_placement_list(ctx: Ctx, params: dict[str, Any]) -> Any:
    codes = ["CRM_LEAD_DETAIL_TAB", "CRM_DEAL_DETAIL_TAB", "CRM_CONTACT_DETAIL_TAB", "CRM_LEAD_LIST_MENU",
             "CRM_DEAL_LIST_MENU", "CRM_LEAD_DETAIL_TOOLBAR", "CRM_DEAL_DETAIL_TOOLBAR", "CRM_FUNNELS_TOOLBAR",
             "LEFT_MENU", "REST_APP_URI", "PAGE_BACKGROUND_WORKER"]
    for t in ctx.portal.spa_types:
        codes += [f"CRM_DYNAMIC_{t.entity_type_id}_DETAIL_TAB", f"CRM_DYNAMIC_{t.entity_type_id}_DETAIL_TOOLBAR",
                  f"CRM_DYNAMIC_{t.entity_type_id}_LIST_MENU"]
    return codes


_ = as_list
