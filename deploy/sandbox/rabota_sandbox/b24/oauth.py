"""The OAuth server (like https://oauth.bitrix.info): `/oauth/token/` (refresh_token grant with
rotating single-use refresh tokens) and `/rest/app.info`."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .methods_misc import app_info
from .portal import RestError, SandboxState
from .rest import check_token, read_params, time_obj


def oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def build_router(state: SandboxState) -> APIRouter:
    router = APIRouter()
    cfg = state.config

    @router.api_route("/oauth/token/", methods=["GET", "POST"])
    @router.api_route("/oauth/token", methods=["GET", "POST"], include_in_schema=False)
    async def token(request: Request) -> JSONResponse:
        try:
            params = await read_params(request)
        except RestError:
            return oauth_error("invalid_request", "Malformed request")
        grant = params.get("grant_type")
        if not grant:
            return oauth_error("invalid_request", "grant_type is required")
        if params.get("client_id") != cfg.client_id or params.get("client_secret") != cfg.client_secret:
            return oauth_error("invalid_client", "Invalid client credentials", 401)
        if grant == "authorization_code":
            return oauth_error("invalid_grant", "Invalid authorization code")
        if grant != "refresh_token":
            return oauth_error("invalid_request", f"Unsupported grant_type {grant}")
        rt = params.get("refresh_token")
        if not isinstance(rt, str) or not rt:
            return oauth_error("invalid_request", "refresh_token is required")
        old = state.refresh.get(rt)
        if old is None or old.used or old.expires_at <= time.time():
            return oauth_error("invalid_grant", "Invalid refresh token")
        portal = state.portals.get(old.portal)
        if portal is None or old.revoked or not portal.app_present:
            return oauth_error("invalid_client", "Application is not installed on this portal", 401)
        if portal.effective_knobs(state.knobs).get("payment_required"):
            return oauth_error("PAYMENT_REQUIRED", "Payment required", 401)
        old.used = True
        access, refresh = state.issue_tokens(portal, old.user_id)
        # The documented answer, in its order: `domain` and `server_endpoint` name the OAuth server itself
        # (oauth.bitrix.info on the real one), `client_endpoint` the portal's REST endpoint.
        return JSONResponse({
            "access_token": access.token,
            "expires": int(access.expires_at),
            "expires_in": cfg.access_ttl_s,
            "scope": cfg.scope,
            "domain": cfg.host_port,
            "server_endpoint": f"{cfg.public_url}/rest/",
            "status": cfg.app_status,
            "client_endpoint": portal.client_endpoint,
            "member_id": portal.member_id,
            "user_id": old.user_id,
            "refresh_token": refresh.token,
        })

    @router.api_route("/rest/app.info", methods=["GET", "POST"])
    @router.api_route("/rest/app.info.json", methods=["GET", "POST"], include_in_schema=False)
    @router.api_route("/rest/app.info/", methods=["GET", "POST"], include_in_schema=False)
    async def server_app_info(request: Request) -> JSONResponse:
        start = time.time()
        try:
            params = await read_params(request)
            auth = params.get("auth")
            tok = state.access.get(auth) if isinstance(auth, str) else None
            if tok is None:
                raise RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)
            portal = state.portals[tok.portal]
            check_token(state, portal, auth)
        except RestError as err:
            return JSONResponse(err.body(), status_code=err.status)
        info: dict[str, Any] = app_info(portal, cfg.client_id, cfg.app_version, cfg.app_status)
        info["install"] = {"installed": portal.installed, "version": cfg.app_version, "status": cfg.app_status,
                           "member_id": portal.member_id, "domain": portal.domain,
                           "client_endpoint": portal.client_endpoint}
        return JSONResponse({"result": info, "time": time_obj(start, time.time())})

    return router
