"""The control API under `/_sandbox/` (seeding, install flow, knobs, inspection) and file downloads.
Not part of the real API; ignores the emulated limits and is not counted in the statistics."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .config import DEFAULT_KNOBS, DOCUMENTED_ERRORS
from .crm_store import create_entity, update_entity
from .events import auth_block, deliver, fire_bound, payload
from .methods_screening import kanban_badges
from .methods_timeline import activity_row
from .params import as_list, to_int
from .portal import AccessToken, Portal, RestError, SandboxState
from .registry import Ctx
from .rest import dispatch_events


def _err(status: int, text: str) -> JSONResponse:
    return JSONResponse({"error": "SANDBOX_ERROR", "error_description": text}, status_code=status)


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def entity_dump(state: SandboxState, portal: Portal, etid: int) -> list[dict[str, Any]]:
    out = []
    file_ufs = {u.field_name: u for u in portal.ufs_for(etid) if u.user_type_id == "file"}
    base = state.config.public_url
    for rec in sorted(portal.entities.get(etid, {}).values(), key=lambda r: r["ID"]):
        row = dict(rec)
        for name in file_ufs:
            def one(fid: Any) -> Any:
                f = portal.files.get(fid) if isinstance(fid, int) else None
                if f is None:
                    return None
                return {"id": f.id, "name": f.name, "size": len(f.data),
                        "url": f"{base}/portal/{portal.code}/files/{f.id}/"}

            v = row.get(name)
            row[name] = [one(x) for x in v] if isinstance(v, list) else one(v)
        row["ENTITY_TYPE_ID"] = etid
        out.append(row)
    return out


def build_frame(state: SandboxState, portal: Portal, user_id: int, placement: str, options: Any,
                target: str) -> dict[str, Any]:
    cfg = state.config
    state.ensure_app(portal)
    access, refresh = state.issue_tokens(portal, user_id)
    form: dict[str, Any] = {
        "AUTH_ID": access.token,
        "AUTH_EXPIRES": str(cfg.access_ttl_s),
        "REFRESH_ID": refresh.token,
        "SERVER_ENDPOINT": f"{cfg.public_url}/rest/",
        "member_id": portal.member_id,
        "status": cfg.app_status,
        "PLACEMENT": placement,
        "PLACEMENT_OPTIONS": json.dumps(options if options else {}, ensure_ascii=False),
        "APPLICATION_SCOPE": cfg.scope,
    }
    if portal.installed and portal.application_token:
        form["APPLICATION_TOKEN"] = portal.application_token
    path = "/b24/install" if target == "install" else "/b24/app"
    return {
        "url": f"{cfg.app_url}{path}",
        "query": {"DOMAIN": portal.domain, "PROTOCOL": "0", "LANG": "ru", "APP_SID": secrets.token_hex(16)},
        "form": form,
    }


def merged_stats(portals: list[Portal]) -> dict[str, Any]:
    out: dict[str, Any] = {"requests_total": 0, "by_method": Counter(), "batched_commands": Counter(),
                           "errors": Counter(), "status": Counter(), "max_rate_10s": 0.0,
                           "max_bucket_level": 0.0, "bucket_refused": 0, "injected": Counter()}
    for p in portals:
        s = p.stats
        out["requests_total"] += s.requests_total
        out["by_method"].update(s.by_method)
        out["batched_commands"].update(s.batched_commands)
        out["errors"].update(s.errors)
        out["status"].update(s.status)
        out["max_rate_10s"] = max(out["max_rate_10s"], s.max_rate_10s)
        out["max_bucket_level"] = max(out["max_bucket_level"], round(s.max_bucket_level, 3))
        out["bucket_refused"] += s.bucket_refused
        out["injected"].update(s.injected)
    for k in ("by_method", "batched_commands", "errors", "status", "injected"):
        out[k] = dict(out[k])
    return out


def find_action(layout: dict[str, Any], ref: str) -> dict[str, Any] | None:
    """`ref` is a footer button key, `menu:<key>`, `logo`, `title`, `tag:<key>` or `block:<key>`."""
    body = layout.get("body") or {}
    footer = layout.get("footer") or {}
    header = layout.get("header") or {}
    if ref.startswith("menu:"):
        item = ((footer.get("menu") or {}).get("items") or {}).get(ref[5:])
        return item.get("action") if isinstance(item, dict) else None
    if ref == "logo":
        return (body.get("logo") or {}).get("action")
    if ref == "title":
        return header.get("titleAction")
    if ref.startswith("tag:"):
        tag = (header.get("tags") or {}).get(ref[4:])
        return tag.get("action") if isinstance(tag, dict) else None
    if ref.startswith("block:"):
        path = ref[6:].split("/")
        cur: Any = body.get("blocks") or {}
        for part in path:
            if not isinstance(cur, dict):
                return None
            blk = cur.get(part)
            if not isinstance(blk, dict):
                return None
            props = blk.get("properties") or {}
            if props.get("action"):
                found: dict[str, Any] = props["action"]
                return found
            cur = props.get("blocks") or ({"block": props["block"]} if props.get("block") else {})
        return None
    btn = (footer.get("buttons") or {}).get(ref)
    return btn.get("action") if isinstance(btn, dict) else None


def build_router(state: SandboxState) -> APIRouter:
    router = APIRouter(prefix="/_sandbox")
    cfg = state.config

    def portal_or_404(code: str) -> Portal | JSONResponse:
        p = state.portals.get(code)
        if p is None:
            return _err(404, f"portal {code} not found")
        return p

    @router.get("/health")
    async def health() -> dict[str, Any]:
        return {"ok": True}

    @router.post("/reset")
    async def reset() -> dict[str, Any]:
        state.reset()
        return {"ok": True}

    @router.get("/portals")
    async def portals() -> list[dict[str, Any]]:
        return [p.summary() for p in state.portals.values()]

    @router.post("/portals")
    async def create_portal(request: Request) -> Any:
        body = await _json(request)
        code = str(body.get("code") or "")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,40}", code):
            return _err(400, "code must match [a-z0-9][a-z0-9_-]{0,40}")
        if code in state.portals:
            return _err(409, f"portal {code} exists")
        mode = to_int(body.get("crm_mode")) or 1
        if mode not in (1, 2):
            return _err(400, "crm_mode must be 1 or 2")
        return state.add_portal(code, mode).summary()

    @router.post("/portals/{code}/frame")
    async def frame(code: str, request: Request) -> Any:
        p = portal_or_404(code)
        if isinstance(p, JSONResponse):
            return p
        body = await _json(request)
        uid = to_int(body.get("user_id")) or 1
        user = p.users.get(uid)
        if user is None or not user.active:
            return _err(400, f"user {uid} does not exist or is dismissed")
        target = str(body.get("target") or "app")
        if target not in ("install", "app"):
            return _err(400, "target must be install or app")
        if target == "install":
            if not user.admin:
                return _err(403, "only a portal administrator can install the app")
            p.install_user_id = uid
        placement = str(body.get("placement") or "DEFAULT")
        if placement != "DEFAULT" and not any(pl["placement"] == placement for pl in p.placements):
            return _err(400, f"no handler is bound to the placement {placement}")
        return build_frame(state, p, uid, placement, body.get("placement_options") or {}, target)

    @router.post("/portals/{code}/install-finish")
    async def install_finish(code: str) -> Any:
        p = portal_or_404(code)
        if isinstance(p, JSONResponse):
            return p
        if not p.app_present:
            return _err(409, "the installer has not been opened (call frame with target=install first)")
        if p.installed:
            return {"ok": True, "installed": True, "delivery": None}
        p.installed = True
        auth = auth_block(state, p, p.install_user_id, with_refresh=True)
        data = {"VERSION": cfg.app_version, "ACTIVE": "Y", "INSTALLED": "Y", "LANGUAGE_ID": "ru"}
        rec = await deliver(state, p, f"{cfg.app_url}/b24/events", payload("ONAPPINSTALL", data, auth))
        return {"ok": True, "installed": True,
                "delivery": {k: rec[k] for k in ("url", "event", "status", "error")}}

    @router.post("/portals/{code}/uninstall")
    async def uninstall(code: str, request: Request) -> Any:
        p = portal_or_404(code)
        if isinstance(p, JSONResponse):
            return p
        body = await _json(request)
        clean = 1 if to_int(body.get("clean")) else 0
        was_installed = p.installed
        auth = auth_block(state, p, None, with_refresh=False)
        rec = None
        if was_installed:
            rec = await deliver(state, p, f"{cfg.app_url}/b24/events",
                                payload("ONAPPUNINSTALL", {"LANGUAGE_ID": "ru", "CLEAN": str(clean)}, auth))
        state.revoke_portal_tokens(p)
        p.event_bindings.clear()
        p.placements.clear()
        p.installed = False
        p.app_present = False
        p.application_token = None
        return {"ok": True, "delivery": None if rec is None else {k: rec[k] for k in ("url", "event", "status",
                                                                                        "error")}}

    @router.post("/portals/{code}/tokens/expire")
    async def expire(code: str) -> Any:
        p = portal_or_404(code)
        if isinstance(p, JSONResponse):
            return p
        return {"ok": True, "expired": state.expire_portal_tokens(p)}

    @router.get("/portals/{code}/entities")
    async def entities(code: str, entity_type_id: int = 1) -> Any:
        p = portal_or_404(code)
        if isinstance(p, JSONResponse):
            return p
        if entity_type_id not in p.entities:
            return _err(404, f"entity type {entity_type_id} does not exist")
        return entity_dump(state, p, entity_type_id)

    async def by_hand(code: str, etid: int, request: Request, change: Callable[[Ctx, dict[str, Any]], int]) -> Any:
        """A person's change of a CRM card of portal `code`: `{"fields": {...}, "user_id": 1}`, UPPER_CASE fields
        as in crm.*; `change` makes it and names the card; bound ONCRM* handlers are notified."""
        p = portal_or_404(code)
        if isinstance(p, JSONResponse):
            return p
        if etid not in p.entities:
            return _err(404, f"entity type {etid} does not exist")
        body = await _json(request)
        uid = to_int(body.get("user_id")) or 1
        if uid not in p.users:
            return _err(400, f"user {uid} does not exist")
        raw_fields = body.get("fields")
        fields: dict[str, Any] = raw_fields if isinstance(raw_fields, dict) else {}
        ctx = Ctx(state, p, AccessToken("ui-session", p.code, uid, time.time() + 60))
        try:
            eid = change(ctx, fields)
        except RestError as err:
            return JSONResponse(err.body(), status_code=err.status)
        dispatch_events(state, ctx)
        return next(r for r in entity_dump(state, p, etid) if r["ID"] == eid)

    @router.post("/portals/{code}/entities/{etid}/{eid}")
    async def edit_entity(code: str, etid: int, eid: int, request: Request) -> Any:
        """A person edits a CRM card (e.g. moves the stage): `{"fields": {"STAGE_ID": "C1:WON"}, "user_id": 1}`,
        UPPER_CASE fields as in crm.*.update; bound ONCRM*UPDATE handlers are notified."""
        def edit(ctx: Ctx, fields: dict[str, Any]) -> int:
            update_entity(ctx, etid, eid, fields, "old")
            return eid

        return await by_hand(code, etid, request, edit)

    @router.post("/portals/{code}/entities/{etid}")
    async def create_by_hand(code: str, etid: int, request: Request) -> Any:
        """A person creates a CRM card by hand: `{"fields": {"NAME": "Анна", "PHONE": [{"VALUE": "8 029 …",
        "VALUE_TYPE": "MOBILE"}]}, "user_id": 1}`, UPPER_CASE fields as in crm.*.add."""
        def create(ctx: Ctx, fields: dict[str, Any]) -> int:
            return int(create_entity(ctx, etid, fields, "old")["ID"])

        return await by_hand(code, etid, request, create)

    @router.get("/portals/{code}/kanban/{etid}/{eid}")
    async def kanban(code: str, etid: int, eid: int) -> Any:
        """What the entity's kanban card shows: its badge (the last added of its open activities' badges)."""
        p = portal_or_404(code)
        if isinstance(p, JSONResponse):
            return p
        return {"badges": kanban_badges(p, etid, eid)}

    @router.get("/portals/{code}/statuses")
    async def statuses(code: str, entity_id: str | None = None) -> Any:
        p = portal_or_404(code)
        if isinstance(p, JSONResponse):
            return p
        return [dict(r) for r in p.statuses if entity_id is None or r["ENTITY_ID"] == entity_id]

    @router.post("/portals/{code}/users/{uid}/crm-access")
    async def crm_access(code: str, uid: int, request: Request) -> Any:
        """Sets the CRM read permission of a user's role: `{"read": "all" | "own" | "none"}` ("own": only entities
        assigned to the user, as Bitrix24's «Свои» level)."""
        p = portal_or_404(code)
        if isinstance(p, JSONResponse):
            return p
        user = p.users.get(uid)
        if user is None:
            return _err(404, f"user {uid} does not exist")
        read = str((await _json(request)).get("read") or "")
        if read not in ("all", "own", "none"):
            return _err(400, "read must be all, own or none")
        user.crm_read = read
        return {"user_id": uid, "read": read}

    @router.get("/portals/{code}/activities")
    async def activities(code: str) -> Any:
        p = portal_or_404(code)
        if isinstance(p, JSONResponse):
            return p
        return [{"id": a["id"], "ownerTypeId": a["ownerTypeId"], "ownerId": a["ownerId"], "fields": a["fields"],
                 "layout": a["layout"], "created": a["created"], "updated": a["updated"], "locked": a["locked"],
                 "row": activity_row(a)} for a in sorted(p.activities.values(), key=lambda a: a["id"])]

    @router.post("/portals/{code}/activities/{activity_id}/action")
    async def activity_action(code: str, activity_id: int, request: Request) -> Any:
        """What a click in the timeline does: `{"action": "<button key>|menu:<k>|logo|title|tag:<k>|block:<k>",
        "user_id": 1}` -> restEvent: deliver ONCRMTIMELINEITEMACTION; openRestApp: the app frame with
        PLACEMENT_OPTIONS; redirect: the uri."""
        p = portal_or_404(code)
        if isinstance(p, JSONResponse):
            return p
        act = p.activities.get(activity_id)
        if act is None:
            return _err(404, "activity not found")
        body = await _json(request)
        uid = to_int(body.get("user_id")) or 1
        action = find_action(act["layout"], str(body.get("action") or ""))
        if not isinstance(action, dict):
            return _err(404, "no such action in the layout")
        atype = action.get("type")
        params = {str(k): ("" if v is None else str(v if not isinstance(v, bool) else int(v)))
                  for k, v in (action.get("actionParams") or {}).items()}
        context = {"entityTypeId": str(act["ownerTypeId"]), "entityId": str(act["ownerId"]),
                   "activityId": str(act["id"])}
        if atype == "redirect":
            return {"type": "redirect", "uri": action.get("uri")}
        if atype == "restEvent":
            if action.get("animationType"):
                act["locked"] = True
            data = {**params, "id": str(action.get("id") or ""), **context}
            recs = await fire_bound(state, p, "ONCRMTIMELINEITEMACTION", data, uid)
            return {"type": "restEvent", "data": data,
                    "deliveries": [{k: r[k] for k in ("url", "event", "status", "error")} for r in recs]}
        if atype == "openRestApp":
            opts = {**params, **context}
            slider = action.get("sliderParams") or {}
            for k_src, k_dst in (("title", "bx24_title"), ("width", "bx24_width"),
                                 ("leftBoundary", "bx24_leftBoundary"), ("labelText", "bx24_label")):
                if k_src in slider:
                    opts[k_dst] = str(slider[k_src])
            return {"type": "openRestApp", "frame": build_frame(state, p, uid, "DEFAULT", opts, "app"),
                    "slider": slider}
        return _err(400, f"unknown action type {atype}")

    @router.post("/portals/{code}/events/fire")
    async def fire(code: str, request: Request) -> Any:
        p = portal_or_404(code)
        if isinstance(p, JSONResponse):
            return p
        body = await _json(request)
        recs = await fire_bound(state, p, str(body.get("event") or ""), body.get("data") or {},
                                to_int(body.get("user_id")) or 1)
        return {"deliveries": [{k: r[k] for k in ("url", "event", "status", "error")} for r in recs]}

    @router.get("/portals/{code}/notifications")
    async def notifications(code: str) -> Any:
        p = portal_or_404(code)
        return p if isinstance(p, JSONResponse) else list(p.notifications)

    @router.get("/portals/{code}/userfields")
    async def userfields(code: str) -> Any:
        p = portal_or_404(code)
        return p if isinstance(p, JSONResponse) else [u.old_row() for u in p.userfields]

    @router.get("/portals/{code}/events")
    async def events(code: str) -> Any:
        p = portal_or_404(code)
        return p if isinstance(p, JSONResponse) else list(p.event_bindings)

    @router.get("/portals/{code}/placements")
    async def placements(code: str) -> Any:
        p = portal_or_404(code)
        return p if isinstance(p, JSONResponse) else list(p.placements)

    @router.get("/portals/{code}/deliveries")
    async def deliveries(code: str) -> Any:
        p = portal_or_404(code)
        return p if isinstance(p, JSONResponse) else list(p.deliveries)

    @router.get("/portals/{code}/users")
    async def users(code: str) -> Any:
        p = portal_or_404(code)
        return p if isinstance(p, JSONResponse) else [u.row() | {"ADMIN": u.admin} for u in p.users.values()]

    @router.get("/knobs")
    async def get_knobs(portal: str | None = None) -> Any:
        if portal:
            p = portal_or_404(portal)
            return p if isinstance(p, JSONResponse) else p.effective_knobs(state.knobs)
        return dict(state.knobs)

    @router.put("/knobs")
    async def put_knobs(request: Request, portal: str | None = None) -> Any:
        body = await _json(request)
        unknown = [k for k in body if k not in DEFAULT_KNOBS]
        if unknown:
            return _err(400, f"unknown knobs: {', '.join(unknown)}")
        if "mandatory_fields" in body and not isinstance(body["mandatory_fields"], dict):
            return _err(400, "mandatory_fields must be an object {entity_id: [field, ...]}")
        if "mandatory_fields" in body:
            body["mandatory_fields"] = {str(k): [str(x) for x in as_list(v)]
                                        for k, v in body["mandatory_fields"].items()}
        failing = body.get("failing_methods", {})
        if not isinstance(failing, dict) or any(str(v) not in DOCUMENTED_ERRORS for v in failing.values()):
            return _err(400, f"failing_methods must be an object {{method: one of {sorted(DOCUMENTED_ERRORS)}}}")
        if "failing_methods" in body:
            body["failing_methods"] = {str(k).lower(): str(v) for k, v in failing.items()}
        if portal:
            p = portal_or_404(portal)
            if isinstance(p, JSONResponse):
                return p
            p.knobs.update(body)
            return p.effective_knobs(state.knobs)
        state.knobs.update(body)
        return dict(state.knobs)

    @router.get("/stats")
    async def stats(portal: str | None = None) -> Any:
        if portal:
            p = portal_or_404(portal)
            return p if isinstance(p, JSONResponse) else p.stats.as_dict()
        out = merged_stats(list(state.portals.values()))
        out["portals"] = {p.code: p.stats.as_dict() for p in state.portals.values()}
        return out

    @router.post("/stats/reset")
    async def stats_reset(portal: str | None = None) -> Any:
        for p in state.portals.values():
            if portal is None or p.code == portal:
                p.stats.reset()
        if portal is None:
            state.requests.clear()
        return {"ok": True}

    @router.get("/requests")
    async def requests(portal: str | None = None, method: str | None = None, limit: int = 1000) -> Any:
        rows = [r for r in state.requests if (portal is None or r["portal"] == portal)
                and (method is None or r["method"] == method)]
        return rows[-limit:]

    return router


def build_files_router(state: SandboxState) -> APIRouter:
    router = APIRouter()

    @router.get("/portal/{code}/files/{file_id}/")
    @router.get("/portal/{code}/files/{file_id}", include_in_schema=False)
    async def download(code: str, file_id: int) -> Response:
        p = state.portals.get(code)
        f = p.files.get(file_id) if p else None
        if f is None:
            return Response("File not found", status_code=404)
        ctype = "application/pdf" if f.name.lower().endswith(".pdf") else "application/octet-stream"
        return Response(f.data, media_type=ctype, headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(f.name)}"})

    return router
