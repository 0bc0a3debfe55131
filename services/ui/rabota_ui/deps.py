"""Request dependencies: the runtime and the bearer session of the embedded app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel
from rabota_common.crypto import SESSION, TokenError
from rabota_common.runtime import Runtime
from rabota_common.store import UNINSTALLED_REASON

from rabota_ui.errors import ApiError


class Session(BaseModel):
    portal: str
    user_id: int


def get_runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


def new_session(rt: Runtime, portal: str, user_id: int) -> str:
    return rt.crypto.sign({"kind": "session", "p": portal, "u": user_id}, rt.settings.SESSION_TTL_S,
                          purpose=SESSION)


async def get_session(request: Request) -> Session:
    rt = get_runtime(request)
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise ApiError(401, "no_session", "Нужна сессия приложения: откройте приложение в Битрикс24.")
    try:
        body = rt.crypto.verify(header[7:].strip(), purpose=SESSION)
    except TokenError as exc:
        raise ApiError(401, "bad_session", "Сессия истекла или недействительна: откройте приложение заново.") from exc
    if body.get("kind") != "session":
        raise ApiError(401, "bad_session", "Сессия недействительна.")
    portal = await rt.store.get_portal(str(body["p"]))
    if portal is None or (portal.status == "inactive" and portal.status_reason == UNINSTALLED_REASON):
        # A session of a portal unknown here (never installed, or uninstalled) authenticates nothing.
        raise ApiError(401, "portal_unknown", "Приложение не установлено на этом портале: откройте его заново.")
    return Session(portal=str(body["p"]), user_id=int(body["u"]))


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(get_session)]
