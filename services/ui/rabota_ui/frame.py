"""Bitrix24 frame POSTs (installer, main page, slider): parsing and verification with the portal."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from pydantic import BaseModel
from rabota_common.b24_client import B24Error
from rabota_common.b24_session import B24Session
from rabota_common.errors import TransientError
from rabota_common.ids import is_member_id
from rabota_common.runtime import Runtime

from rabota_ui.errors import ApiError

BAD_MEMBER_ID = "Неверный member_id: это 32 шестнадцатеричных символа (0-9, a-f)."


def normal_domain(domain: str) -> str:
    """A portal's domain as compared: lower case, without a scheme or trailing slash."""
    return domain.strip().lower().split("://", 1)[-1].rstrip("/")


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
    if not is_member_id(member_id):
        raise ApiError(400, "bad_member_id", BAD_MEMBER_ID)
    expires = pick("AUTH_EXPIRES")
    return Frame(
        domain=domain, protocol=pick("PROTOCOL") or "1", member_id=member_id, auth_id=auth_id,
        refresh_id=pick("REFRESH_ID"), auth_expires=int(expires) if expires.isdigit() else 3600,
        application_token=pick("APPLICATION_TOKEN"), placement=pick("PLACEMENT") or "DEFAULT",
        placement_options=options, lang=pick("LANG") or "ru",
    )


async def current_user(rt: Runtime, frame: Frame, endpoint: str) -> dict[str, Any]:
    """Ask the portal (at its stored or OAuth-confirmed endpoint, never one the frame names) who the frame's
    AUTH_ID belongs to: a forged frame fails here."""
    try:
        user = await B24Session.for_user(rt.b24, endpoint, endpoint, frame.auth_id).call("user.current")
    except (B24Error, TransientError) as exc:
        raise ApiError(403, "frame_not_verified",
                       "Не удалось подтвердить вход через Битрикс24. Откройте приложение заново.") from exc
    if not isinstance(user, dict) or not user.get("ID"):
        raise ApiError(403, "frame_not_verified", "Битрикс24 не подтвердил пользователя.")
    return user


async def user_is_admin(rt: Runtime, endpoint: str, token: str) -> bool:
    """`user.admin`: may this user manage the app's settings (a portal administrator)?"""
    try:
        answer = await B24Session.for_user(rt.b24, endpoint, endpoint, token).call("user.admin")
    except (B24Error, TransientError) as exc:
        raise ApiError(403, "frame_not_verified",
                       "Не удалось проверить права пользователя в Битрикс24. Откройте приложение заново.") from exc
    return answer is True
