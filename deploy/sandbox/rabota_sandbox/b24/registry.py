"""The REST method registry and the context a method runs in."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import B24SandboxConfig
from .portal import AccessToken, Portal, SandboxState, User

MSK = dt.timezone(dt.timedelta(hours=3))


def now_iso(ts: float | None = None) -> str:
    return dt.datetime.fromtimestamp(time.time() if ts is None else ts, MSK).isoformat(timespec="seconds")


@dataclass
class MethodResult:
    result: Any
    total: int | None = None
    next: int | None = None


@dataclass
class Ctx:
    state: SandboxState
    portal: Portal
    token: AccessToken
    in_batch: bool = False
    # events raised by the call: (EVENT_NAME, data); delivered in the background to bound handlers
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def config(self) -> B24SandboxConfig:
        return self.state.config

    @property
    def user(self) -> User:
        return self.portal.users[self.token.user_id]

    @property
    def user_id(self) -> int:
        return self.token.user_id


Handler = Callable[[Ctx, dict[str, Any]], Any]
METHODS: dict[str, Handler] = {}
# Methods refused inside `batch` (ERROR_BATCH_METHOD_NOT_ALLOWED).
NOT_IN_BATCH = {"batch"}


def method(*names: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for n in names:
            METHODS[n.lower()] = fn
        return fn

    return deco
