"""Leaky-bucket request budgets in Redis, shared by every process and replica: one per Bitrix24 portal
(reference b24 §7.2) and one for HeadHunter, whose limit counts per source IP (reference hh §7)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from rabota_common.metrics import BUDGET_WAIT_SECONDS, BUDGET_WAITS
from rabota_common.store import Store

# How long past its computed turn a live taker's claim holds: covers its sleep overshooting on a busy loop.
LIVE_GRACE_S = 0.25

# Set by bulk work (an import walk, the mapper's import consumer): its requests yield to live ones (a
# webhook, a poll) of any portal, so that one portal's import does not delay another's new response (§9).
# A context variable, so the clients' signatures do not carry it; asyncio tasks inherit it.
_BULK: ContextVar[bool] = ContextVar("rabota_budget_bulk", default=False)


@contextlib.contextmanager
def bulk() -> Iterator[None]:
    """Requests made inside take the budget after every waiting live request."""
    token = _BULK.set(True)
    try:
        yield
    finally:
        _BULK.reset(token)


class SharedBucket:
    """A leaky bucket whose level lives in the store (`rabota_common.store.buckets`)."""

    def __init__(self, store: Store, rate: float, burst: int, margin: int = 2, api: str = "b24") -> None:
        self._store = store
        self._api = api
        self._rate = rate
        # A small margin below the portal's burst absorbs clock and counting differences.
        self._burst = max(1, burst - margin)

    async def try_take(self, key: str = "hh") -> float:
        """Take one unit if the bucket has room (0.0), else take nothing and return the seconds to wait."""
        return await self._store.take_unit(bucket=key, rate=self._rate, burst=self._burst, bulk=_BULK.get(),
                                           grace_s=LIVE_GRACE_S)

    async def take(self, key: str = "hh") -> None:
        waited = 0.0
        while True:
            wait = await self.try_take(key)
            if wait <= 0:
                break
            waited += min(wait, 5.0)
            await asyncio.sleep(min(wait, 5.0))
        if waited:
            # No per-portal label: a portal's domain comes from outside and would grow the series without bound.
            BUDGET_WAITS.labels(self._api).inc()
            BUDGET_WAIT_SECONDS.labels(self._api).inc(waited)
