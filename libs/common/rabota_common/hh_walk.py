"""Walking HeadHunter with a token that survives expiry: vacancies, collections, pages (reference §4, §9)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from rabota_common.errors import HhAuthLost, TransientError
from rabota_common.hh_client import HhError
from rabota_common.models import HhToken
from rabota_common.runtime import Runtime
from rabota_common.transience import REDIS_DOWN

# How long a message waits when HeadHunter tokens are lost and it could not be parked.
RELOGIN_DELAY_S = 600.0
# HeadHunter refuses to page deeper than this many items of one list (hhru/api#98).
MAX_DEPTH = 2000


@dataclass
class FoundPage:
    vacancy_id: str
    vacancy_name: str
    items: list[dict[str, Any]]


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


async def vacancies(tokens: TokenSource) -> list[dict[str, Any]]:
    token = await tokens.get()
    assert token.employer_id
    if token.is_admin:
        managers = await tokens.call(tokens.rt.hh.managers, token.employer_id)
        manager_ids = [str(m["id"]) for m in managers]
    else:
        manager_ids = [str(token.manager_id)]
    seen: dict[str, dict[str, Any]] = {}
    for manager_id in manager_ids:
        for vacancy in await tokens.call(tokens.rt.hh.active_vacancies, token.employer_id, manager_id):
            seen.setdefault(str(vacancy["id"]), vacancy)
    return list(seen.values())


async def negotiation_pages(tokens: TokenSource, vacancy: dict[str, Any],
                            index: dict[str, Any] | None = None) -> AsyncIterator[FoundPage]:
    """Every page of every collection of the vacancy; `index` is `GET /negotiations?vacancy_id=` if the
    caller already has it."""
    vacancy_id = str(vacancy["id"])
    if index is None:
        index = await tokens.call(tokens.rt.hh.negotiation_collections, vacancy_id)
    for collection in index.get("collections", []):
        total = (collection.get("counters") or {}).get("total")
        if total == 0:
            continue  # the index already says it is empty: spare the request
        page = 0
        while True:
            if (page + 1) * 50 > MAX_DEPTH:
                tokens.rt.log.warning("vacancy %s collection %s deeper than %s items: rest left to webhooks",
                                      vacancy_id, collection.get("id"), MAX_DEPTH)
                break
            body = await tokens.call(tokens.rt.hh.collection_page, collection["url"], page)
            yield FoundPage(vacancy_id, str(vacancy.get("name", "")), list(body.get("items", [])))
            page += 1
            if page >= int(body.get("pages", 0)):
                break
