"""Event delivery: ONAPPINSTALL / ONAPPUNINSTALL to the app's install handler and bound events
(event.bind) to their handlers, form-encoded with nested keys (`auth[access_token]`, `data[CLEAN]`)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from .params import http_build_query
from .portal import Portal, SandboxState

KNOWN_EVENTS = {
    "ONAPPINSTALL", "ONAPPUNINSTALL", "ONAPPUPDATE", "ONAPPPAYMENT", "ONAPPTEST", "ONAPPMETHODCONFIRM",
    "ONCRMLEADADD", "ONCRMLEADUPDATE", "ONCRMLEADDELETE", "ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE",
    "ONCRMCONTACTADD", "ONCRMCONTACTUPDATE", "ONCRMCONTACTDELETE", "ONCRMDYNAMICITEMADD", "ONCRMDYNAMICITEMUPDATE",
    "ONCRMDYNAMICITEMDELETE", "ONCRMTIMELINEITEMACTION", "ONCRMACTIVITYADD", "ONCRMACTIVITYUPDATE",
    "ONCRMACTIVITYDELETE", "ONUSERADD", "ONCRMLEADUSERFIELDADD", "ONCRMDEALUSERFIELDADD",
    "ONIMCONNECTORMESSAGEADD", "ONIMCONNECTORMESSAGEUPDATE", "ONIMCONNECTORMESSAGEDELETE",
    "ONIMCONNECTORDIALOGSTART", "ONIMCONNECTORDIALOGFINISH", "ONIMCONNECTORSTATUSDELETE", "ONIMCONNECTORLINEDELETE",
}


def auth_block(state: SandboxState, portal: Portal, user_id: int | None, with_refresh: bool) -> dict[str, Any]:
    cfg = state.config
    auth: dict[str, Any] = {}
    if user_id is not None:
        access, refresh = state.issue_tokens(portal, user_id)
        auth["access_token"] = access.token
        auth["expires"] = str(int(access.expires_at))
        auth["expires_in"] = str(cfg.access_ttl_s)
        auth["scope"] = cfg.scope
        if with_refresh:
            auth["refresh_token"] = refresh.token
        else:
            refresh.revoked = True
        auth["user_id"] = str(user_id)
    auth.update({
        "domain": portal.domain,
        "server_endpoint": f"{cfg.public_url}/rest/",
        "status": cfg.app_status,
        "client_endpoint": portal.client_endpoint,
        "member_id": portal.member_id,
        "application_token": portal.application_token or "",
    })
    return auth


def payload(event: str, data: dict[str, Any], auth: dict[str, Any], handler_id: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"event": event}
    if handler_id is not None:
        body["event_handler_id"] = str(handler_id)
    body["data"] = data
    body["ts"] = str(int(time.time()))
    body["auth"] = auth
    return body


async def deliver(state: SandboxState, portal: Portal, url: str, body: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {"url": url, "event": body.get("event"), "ts": time.time(), "status": None,
                              "error": None, "payload": body}
    portal.deliveries.append(record)
    if not state.config.deliver_events:
        record["status"] = "disabled"
        return record
    try:
        async with httpx.AsyncClient(timeout=state.config.delivery_timeout_s) as client:
            resp = await client.post(url, data=dict(http_build_query(body)),
                                     headers={"User-Agent": "Bitrix24 Webhook Engine"})
        record["status"] = resp.status_code
    except httpx.HTTPError as exc:
        record["error"] = f"{type(exc).__name__}: {exc}"
    return record


async def fire_bound(state: SandboxState, portal: Portal, event: str, data: dict[str, Any],
                     user_id: int | None) -> list[dict[str, Any]]:
    """Deliver an event to every handler bound with event.bind (only once the app is installed)."""
    out: list[dict[str, Any]] = []
    if not portal.installed:
        return out
    for b in list(portal.event_bindings):
        if b["event"] != event.upper():
            continue
        auth = auth_block(state, portal, user_id, with_refresh=False)
        out.append(await deliver(state, portal, b["handler"], payload(event.upper(), data, auth, b["id"])))
    return out
