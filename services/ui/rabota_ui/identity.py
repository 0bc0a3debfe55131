"""A portal's identity comes only from Bitrix24's OAuth server (issue 14).

The installer, the first ONAPPINSTALL and a renamed portal's frame post a refresh token; refreshed at
`B24_OAUTH_URL` with the app's own client id and secret, it yields the portal's `member_id`, REST endpoint
(`client_endpoint`) and a new token pair. Only a token issued to this app for that portal passes, so nothing a
caller writes in a form (DOMAIN, PROTOCOL, member_id, AUTH_EXPIRES) chooses where the app sends data. The
answer's `domain` is the OAuth server's own host on the real server, so the portal's domain is taken from
`client_endpoint`."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel
from rabota_common.b24_client import B24Error
from rabota_common.b24_session import B24Session
from rabota_common.errors import TransientError
from rabota_common.ids import is_member_id
from rabota_common.runtime import Runtime

from rabota_ui.errors import ApiError
from rabota_ui.frame import normal_domain

EXPIRY_MARGIN_S = 30.0
NOT_CONFIRMED = "Битрикс24 не подтвердил портал. Откройте приложение из Битрикс24 заново."


class ConfirmedPortal(BaseModel):
    member_id: str
    client_endpoint: str
    domain: str
    access_token: str
    refresh_token: str
    expires_at: float


def domain_of(client_endpoint: str) -> str:
    """`https://b24-x.bitrix24.by/rest/` -> `b24-x.bitrix24.by` (a path before `/rest/` is kept)."""
    parts = urlsplit(client_endpoint)
    path = parts.path.rstrip("/").removesuffix("/rest")
    return normal_domain(f"{parts.netloc}{path}")


def _endpoint(body: dict[str, Any]) -> str:
    endpoint = body.get("client_endpoint")
    if not isinstance(endpoint, str):
        return ""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        return ""
    return endpoint if endpoint.endswith("/") else endpoint + "/"


async def confirm_portal(rt: Runtime, refresh_token: str, member_id: str) -> ConfirmedPortal:
    """Refresh `refresh_token` at the OAuth server and require the answer to name `member_id`."""
    if not refresh_token or not is_member_id(member_id):
        raise ApiError(403, "portal_not_confirmed", NOT_CONFIRMED)
    try:
        body = await rt.b24.refresh(refresh_token)
    except B24Error as exc:
        if exc.transient:
            raise ApiError(503, "oauth_unavailable",
                           "Сервер авторизации Битрикс24 недоступен. Попробуйте через минуту.") from exc
        raise ApiError(403, "portal_not_confirmed", NOT_CONFIRMED) from exc
    endpoint = _endpoint(body)
    access, refresh = body.get("access_token"), body.get("refresh_token")
    if (body.get("member_id") != member_id or not endpoint or not isinstance(access, str) or not access
            or not isinstance(refresh, str) or not refresh):
        raise ApiError(403, "portal_not_confirmed", NOT_CONFIRMED)
    try:
        expires_in = float(body.get("expires_in") or 3600)
    except (TypeError, ValueError):
        expires_in = 3600.0
    return ConfirmedPortal(member_id=member_id, client_endpoint=endpoint, domain=domain_of(endpoint),
                           access_token=access, refresh_token=refresh,
                           expires_at=time.time() + max(0.0, min(expires_in, 86400.0)) - EXPIRY_MARGIN_S)


async def check_app(rt: Runtime, portal: ConfirmedPortal) -> None:
    """`app.info` with the new token on the confirmed endpoint must name this app (CODE, the client id of a
    local app; CLIENT_ID where the portal sends it)."""
    try:
        info = await B24Session.for_user(rt.b24, portal.member_id, portal.client_endpoint,
                                         portal.access_token).call("app.info")
    except (B24Error, TransientError) as exc:
        raise ApiError(403, "app_not_confirmed", "Битрикс24 не подтвердил приложение.") from exc
    if not isinstance(info, dict):
        raise ApiError(403, "app_not_confirmed", "Битрикс24 не подтвердил приложение.")
    ours = rt.settings.B24_CLIENT_ID
    names = {str(info[k]) for k in ("CLIENT_ID", "CODE") if info.get(k)}
    if ours not in names or (info.get("CLIENT_ID") and str(info["CLIENT_ID"]) != ours):
        raise ApiError(403, "app_not_confirmed", "Токен выдан другому приложению Битрикс24.")
