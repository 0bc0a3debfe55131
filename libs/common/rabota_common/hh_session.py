"""HeadHunter's one gate: `TokenSource` keeps a portal's HeadHunter token for a walk or a message, asks the
token broker again when it expires, and reports a lost one (the account must log in again).

Every HeadHunter call of a service goes through `TokenSource.call(rt.hh.<method>, ...)`: the token, the
refresh once on `oauth/token_expired`, the re-login policy on `token_revoked`/`bad_authorization`, and (inside
`HhClient`) the shared request budget. The token broker itself (`rabota_auth`) is the one place that holds the
refresh token and calls the OAuth endpoints (`HhClient.exchange_code`, `refresh`, `revoke`).
"""

from __future__ import annotations

import time
from typing import Any

from rabota_common.errors import HhAuthLost, TransientError
from rabota_common.hh_client import HhError
from rabota_common.models import HhToken
from rabota_common.runtime import Runtime
from rabota_common.transience import REDIS_DOWN

# How long a message waits when HeadHunter tokens are lost and it could not be parked.
RELOGIN_DELAY_S = 600.0


# A token the broker gave this process a moment ago is reused by the next walks and messages, sparing
# the auth service a request per negotiation; a refused one is replaced through `stale` as always.
RECENT_TOKEN_S = 10.0
_RECENT: dict[str, tuple[float, HhToken]] = {}


class TokenSource:
    """Keeps a HeadHunter token for a long walk, asking the broker again when it expires."""

    def __init__(self, rt: Runtime, portal: str) -> None:
        self.rt = rt
        self.portal = portal
        self.token: HhToken | None = None

    async def get(self, stale: bool = False) -> HhToken:
        if self.token is None and not stale:
            recent = _RECENT.get(self.portal)
            if recent is not None and time.monotonic() - recent[0] < RECENT_TOKEN_S:
                self.token = recent[1]
        if self.token is None or stale:
            token = await self.rt.hh_token(self.portal, self.token.access_token if stale and self.token else None)
            self.token = self._checked(token)
            _RECENT[self.portal] = (time.monotonic(), self.token)
        return self.token

    @staticmethod
    def _checked(token: HhToken) -> HhToken:
        if token.error in ("relogin_required", "not_connected"):
            raise HhAuthLost(f"no HeadHunter token: {token.error}", delay_s=RELOGIN_DELAY_S)
        if not token.ok or not token.access_token:
            raise TransientError(f"no HeadHunter token: {token.error}",
                                 cause=REDIS_DOWN if token.error == "store_unavailable" else
                                 "сервис токенов не получил токен rabota.by (rabota.by не ответил)")
        return token

    async def call(self, fn: Any, *args: Any) -> Any:
        token = await self.get()
        try:
            return await fn(token.access_token, *args)
        except HhError as exc:
            if exc.token_expired:
                token = await self.get(stale=True)
                return await self._call_again(fn, token, *args)
            if exc.auth_lost:
                # The broker checks the token and marks the account relogin_required (F11).
                _RECENT.pop(self.portal, None)
                token = self._checked(await self.rt.hh_revoked(self.portal, token.access_token))
                self.token = token
                return await self._call_again(fn, token, *args)
            raise

    async def _call_again(self, fn: Any, token: HhToken, *args: Any, expired_again: bool = True) -> Any:
        try:
            return await fn(token.access_token, *args)
        except HhError as exc:
            if exc.token_expired and expired_again:
                # The broker answered with a token another service had just got, and that one expired too
                # (both expire together): now the broker refreshes it.
                return await self._call_again(fn, await self.get(stale=True), *args, expired_again=False)
            if exc.auth_lost:
                self._checked(await self.rt.hh_revoked(self.portal, token.access_token))
            raise
