"""Bitrix24 frame POSTs (installer, main page, slider): parsing and verification with the portal."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from pydantic import BaseModel
from rabota_common.b24_client import B24Error
from rabota_common.runtime import Runtime

from rabota_ui.errors import ApiError


class Frame(BaseModel):
    domain: str
    protocol: str = "1"
    member_id: str
    auth_id: str
    refresh_id: str = ""
    auth_expires: int = 3600
    application_token: str = ""
    placement: str = "DEFAULT"
    placement_options: dict[str, Any] = {}
    lang: str = "ru"

    @property
    def client_endpoint(self) -> str:
        scheme = "https" if self.protocol == "1" else "http"
        return f"{scheme}://{self.domain}/rest/"


async def read_frame(request: Request) -> Frame:
    form = await request.form()
    query = request.query_params

    def pick(name: str) -> str:
        value = form.get(name) or query.get(name) or ""
        return str(value)

    options_raw = pick("PLACEMENT_OPTIONS")
    try:
        options = json.loads(options_raw) if options_raw else {}
    except ValueError:
        options = {}
    if not isinstance(options, dict):
        options = {}
    domain, member_id, auth_id = pick("DOMAIN"), pick("member_id"), pick("AUTH_ID")
    if not (domain and member_id and auth_id):
        raise ApiError(400, "bad_frame", "Страницу нужно открывать из Битрикс24: нет параметров портала.")
    return Frame(
        domain=domain, protocol=pick("PROTOCOL") or "1", member_id=member_id, auth_id=auth_id,
        refresh_id=pick("REFRESH_ID"), auth_expires=int(pick("AUTH_EXPIRES") or 3600),
        application_token=pick("APPLICATION_TOKEN"), placement=pick("PLACEMENT") or "DEFAULT",
        placement_options=options, lang=pick("LANG") or "ru",
    )


async def current_user(rt: Runtime, frame: Frame, endpoint: str | None = None) -> dict[str, Any]:
    """Ask the portal who the frame's AUTH_ID belongs to: a forged frame fails here."""
    try:
        user = await rt.b24.call(endpoint or frame.client_endpoint, frame.auth_id, "user.current")
    except B24Error as exc:
        raise ApiError(403, "frame_not_verified",
                       "Не удалось подтвердить вход через Битрикс24. Откройте приложение заново.") from exc
    if not isinstance(user, dict) or not user.get("ID"):
        raise ApiError(403, "frame_not_verified", "Битрикс24 не подтвердил пользователя.")
    return user
