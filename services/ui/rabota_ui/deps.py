"""Request dependencies: the runtime and the bearer session of the embedded app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel
from rabota_common.crypto import SESSION, TOKENS, TokenError
from rabota_common.ids import is_member_id
from rabota_common.runtime import Runtime
from rabota_common.store import UNINSTALLED_REASON

from rabota_ui.errors import ApiError

FORBIDDEN_MESSAGE = "Изменять настройки может только администратор портала Битрикс24."


class Session(BaseModel):
    portal: str
    user_id: int
    # The portal answered `user.admin` = true for this user when the session was issued.
    is_admin: bool = False
    # A user who is not an admin: their own Bitrix24 access token (the frame's AUTH_ID), encrypted with the token
    # key, and when it expires. Views that list CRM entities ask the portal, under this token, which of them the
    # user may read (an admin reads every entity and carries none).
    user_token: str = ""
    user_token_expires_at: float = 0.0


def get_runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


def new_session(rt: Runtime, portal: str, user_id: int, is_admin: bool, generation: str, *,
                user_token: str = "", user_token_expires_at: float = 0.0) -> str:
    """A signed session of one portal user: their role, and the install generation it belongs to (a reinstall
    or a CLEAN wipe changes the generation and so ends every session issued before). A user who is not an admin
    also carries their own Bitrix24 token, encrypted (never readable in the page), to scope what they see."""
    claims: dict[str, object] = {"kind": "session", "p": portal, "u": user_id, "a": bool(is_admin), "g": generation}
    if not is_admin and user_token:
        claims["t"] = rt.crypto.encrypt(user_token, TOKENS)
        claims["te"] = int(user_token_expires_at)
    return rt.crypto.sign(claims, rt.settings.SESSION_TTL_S, purpose=SESSION)


async def get_session(request: Request) -> Session:
    rt = get_runtime(request)
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise ApiError(401, "no_session", "Нужна сессия приложения: откройте приложение в Битрикс24.")
    try:
        body = rt.crypto.verify(header[7:].strip(), purpose=SESSION)
    except TokenError as exc:
        raise ApiError(401, "bad_session", "Сессия истекла или недействительна: откройте приложение заново.") from exc
    member_id = body.get("p")
    if body.get("kind") != "session" or not is_member_id(member_id) or not isinstance(body.get("u"), int):
        raise ApiError(401, "bad_session", "Сессия недействительна.")
    assert isinstance(member_id, str)
    portal = await rt.store.get_portal(member_id)
    if portal is None or (portal.status == "inactive" and portal.status_reason == UNINSTALLED_REASON):
        # A session of a portal unknown here (never installed, or uninstalled) authenticates nothing.
        raise ApiError(401, "portal_unknown", "Приложение не установлено на этом портале: откройте его заново.")
    if not portal.generation or body.get("g") != portal.generation:
        # The app was reinstalled (or its data wiped) since this session was issued.
        raise ApiError(401, "session_ended", "Приложение переустановлено: откройте его заново.")
    token, expires = body.get("t"), body.get("te")
    return Session(portal=member_id, user_id=int(body["u"]), is_admin=body.get("a") is True,
                   user_token=token if isinstance(token, str) else "",
                   user_token_expires_at=float(expires) if isinstance(expires, int) else 0.0)


async def get_admin_session(session: Annotated[Session, Depends(get_session)]) -> Session:
    """A session of a portal administrator; other users get 403 forbidden."""
    if not session.is_admin:
        raise ApiError(403, "forbidden", FORBIDDEN_MESSAGE)
    return session


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(get_session)]
AdminSessionDep = Annotated[Session, Depends(get_admin_session)]
