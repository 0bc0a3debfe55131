"""The one gate to Bitrix24 for every service: a portal's token, the call, one refresh, and one error policy.

Every Bitrix24 caller goes through `B24Session`: with the portal's token from the token broker
(`open_session`: the crm-writer's groups and notifications, the ui's `/api`, the poller's back-sync, re-login
and resume notices) or with a user's own token (`B24Session.for_user`: frame verification, the installer, Other
responses under the user's CRM rights). What an answer means is decided here, once:

- `expired_token`: the token broker refreshes (single flight) and the call is repeated, once per session.
- No token: the portal is not installed, was removed or is inactive -> `B24PortalClosed` (permanent); the token
  broker or Redis is down -> transient.
- `PAYMENT_REQUIRED` (the app's subscription ended; the token broker's refresh, or a call) -> the portal is
  paused: `B24PortalPaused` parks the work (no retry loop), the token broker probes with one refresh per
  `PAUSE_PROBE_S`, and the poller republishes the parked work once a refresh succeeds (`app.b24_resumed`).
- `OPERATION_TIME_LIMIT` (HTTP 429) is per app and per method: that method backs off until its
  `operating_reset_at` (one basket, 60 s, when the answer does not say), other methods go on.
- `QUERY_LIMIT_EXCEEDED`/`OVERLOAD_LIMIT`: the portal's bucket (shared with every app calling from this IP),
  transient: the work waits its delivery's backoff, capped at THROTTLE_CAP_S (the first try after 0.5-1 s: the
  bucket drains 2 requests a second; a fixed 5 s held back every group that met one of the chaos test's injected
  ones, and the minute-long cap of other causes would end a long throttling up to a minute late).
Everything else is the caller's to read (a `B24Error`, classified by `transience.classify`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, Protocol

from rabota_common.b24_client import B24Client, B24Error, BatchResult
from rabota_common.errors import Parkable, PermanentError, TransientError
from rabota_common.models import B24Token
from rabota_common.transience import REDIS_DOWN

PAYMENT_REQUIRED = "PAYMENT_REQUIRED"
SUBSCRIPTION_ENDED = ("Подписка на приложение закончилась: Битрикс24 не выдаёт приложению доступ к порталу. "
                      "Продлите подписку в Маркете Битрикс24 — работа продолжится сама")
PORTAL_INACTIVE = "Портал Битрикс24 недоступен для приложения (нужна переустановка или оплата)"
TOKEN_BROKER_DOWN = "сервис токенов не получил токен Битрикс24 (сервер авторизации не ответил)"
# One basket of the per-method budget (limits.md): when a 429 does not say `operating_reset_at`.
OPERATION_BASKET_S = 60.0
THROTTLE_CAP_S = 5.0
PAUSE_PROBE_S = 600.0  # one refresh per 10 minutes tells a paused portal's renewal (Settings.B24_PAUSE_PROBE_S)


class B24PortalPaused(Parkable):
    """Bitrix24 refuses the app for now (PAYMENT_REQUIRED): the work parks until the portal is usable again."""

    def __init__(self, message: str) -> None:
        super().__init__(message, delay_s=PAUSE_PROBE_S, cause=SUBSCRIPTION_ENDED)


class B24PortalClosed(PermanentError):
    """The portal refuses the app for good (not installed, removed, its refresh token refused): retrying cannot
    help until someone reinstalls; `code` says which (`unknown_portal`, `inactive`)."""


class TokenSource(Protocol):
    async def __call__(self, portal: str, stale_token: str | None = None) -> B24Token: ...


@dataclass
class _MethodBlocks:
    """Methods refused with OPERATION_TIME_LIMIT, per portal, until their reset (this process)."""

    until: dict[tuple[str, str], float] = field(default_factory=dict)

    def check(self, portal: str, method: str) -> None:
        left = self.until.get((portal, method), 0.0) - time.time()
        if left > 0:
            raise TransientError(f"Bitrix24 method {method} blocked for {left:.0f}s", delay_s=left,
                                 cause=f"Битрикс24 исчерпал лимит времени метода {method} (OPERATION_TIME_LIMIT)")
        self.until.pop((portal, method), None)

    def block(self, portal: str, method: str, reset_at: float | None) -> float:
        until = reset_at if reset_at and reset_at > time.time() else time.time() + OPERATION_BASKET_S
        self.until[(portal, method)] = until
        return until - time.time()


BLOCKS = _MethodBlocks()


def token_problem(reply: B24Token) -> BaseException | None:
    """What a token broker's answer without a usable token means."""
    if reply.ok and reply.access_token and reply.client_endpoint:
        return None
    error = reply.error or ""
    if error.startswith("paused") or PAYMENT_REQUIRED in error:
        return B24PortalPaused(f"Bitrix24 portal paused: {error}")
    if error.startswith("inactive"):
        return B24PortalClosed(PORTAL_INACTIVE, code="inactive")
    if error == "unknown_portal":
        return B24PortalClosed("Портал Битрикс24 не установлен или приложение с него удалено (token: "
                               "unknown_portal)", code="unknown_portal")
    cause = REDIS_DOWN if error == "store_unavailable" else TOKEN_BROKER_DOWN
    return TransientError(f"no Bitrix24 token: {error}", cause=cause)


def call_problem(exc: B24Error, portal: str, methods: list[str]) -> BaseException | None:
    """The gate's reading of a refused call; None: the caller's to read."""
    if exc.code == PAYMENT_REQUIRED:
        return B24PortalPaused(f"Bitrix24 refused the app: {exc}")
    if exc.code == "OPERATION_TIME_LIMIT":
        delay = max(BLOCKS.block(portal, m, exc.reset_at) for m in methods)
        return TransientError(str(exc), delay_s=delay,
                              cause=f"Битрикс24 исчерпал лимит времени метода {', '.join(methods)} "
                                    "(OPERATION_TIME_LIMIT)")
    if exc.throttled:
        return TransientError(str(exc), cause=f"Битрикс24 ограничил частоту запросов ({exc.code})",
                              cap_s=THROTTLE_CAP_S)
    return None


@dataclass
class B24Session:
    """One portal's Bitrix24 access for one piece of work; the token is refreshed at most once."""

    b24: B24Client
    tokens: TokenSource
    portal: str
    token: str = ""
    endpoint: str = ""
    refreshed: bool = False
    on_paused: Callable[[], Awaitable[Any]] | None = None  # records the pause (the store), once per refusal

    @classmethod
    def for_user(cls, b24: B24Client, portal: str, endpoint: str, token: str) -> B24Session:
        """A portal user's own token (a frame's AUTH_ID): the same policies, but nothing to refresh it with."""
        async def no_refresh(portal: str, stale_token: str | None = None) -> B24Token:
            return B24Token(ok=False, error="user token: no refresh")

        return cls(b24, no_refresh, portal, token=token, endpoint=endpoint, refreshed=True)

    async def start(self) -> B24Session:
        await self.take(await self.tokens(self.portal))
        return self

    async def take(self, reply: B24Token) -> None:
        """Use the token broker's answer, or raise what it means."""
        problem = token_problem(reply)
        if problem is not None:
            raise problem
        self.token, self.endpoint = str(reply.access_token), str(reply.client_endpoint)

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self._gated([method], lambda: self.b24.call(self.endpoint, self.token, method, params))

    async def batch(self, cmds: Mapping[str, tuple[str, Mapping[str, Any]]]) -> BatchResult:
        methods = sorted({m for m, _ in cmds.values()})
        result: BatchResult = await self._gated(methods, lambda: self.b24.batch(self.endpoint, self.token, cmds))
        for key, error in result.errors.items():
            # Nested calls count against their own method (limits.md): a refused one blocks that method only.
            if error.get("error") == "OPERATION_TIME_LIMIT" and key in cmds:
                reset_at = (result.times.get(key) or {}).get("operating_reset_at")
                BLOCKS.block(self.portal, cmds[key][0], float(reset_at) if isinstance(reset_at, int | float) else None)
        return result

    async def notify_user(self, user_id: int, message: str, tag: str) -> None:
        """`im.notify.system.add` to one portal user (a system notification, no chat)."""
        await self.call("im.notify.system.add", {"USER_ID": user_id, "MESSAGE": message, "TAG": tag})

    async def _gated(self, methods: list[str], send: Callable[[], Awaitable[Any]]) -> Any:
        if not self.token:
            await self.start()
        for m in methods:
            BLOCKS.check(self.portal, m)
        try:
            return await send()
        except B24Error as exc:
            if not exc.expired_token or self.refreshed:
                await self._raise(exc, methods)
            self.refreshed = True
        await self.take(await self.tokens(self.portal, stale_token=self.token))
        try:
            return await send()
        except B24Error as exc:
            await self._raise(exc, methods)

    async def _raise(self, exc: B24Error, methods: list[str]) -> NoReturn:
        problem = call_problem(exc, self.portal, methods)
        if isinstance(problem, B24PortalPaused) and self.on_paused is not None:
            await self.on_paused()
        if problem is not None:
            raise problem from exc
        raise exc


async def open_session(rt: Any, portal: str) -> B24Session:
    """A started session of a service's runtime (`rt.b24`, `rt.b24_token`, `rt.store`)."""
    async def paused() -> None:
        probe_at = time.time() + float(rt.settings.B24_PAUSE_PROBE_S)
        if await rt.store.pause_portal(portal, reason=PAYMENT_REQUIRED, probe_at=probe_at):
            rt.log.warning("portal %s paused: Bitrix24 answers PAYMENT_REQUIRED", portal)

    reply = await rt.b24_token(portal)  # the token first: without one nothing else is needed
    session = B24Session(rt.b24, rt.b24_token, portal, on_paused=paused)
    await session.take(reply)
    return session
