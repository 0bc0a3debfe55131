"""Leaky-bucket request budgets in Redis, shared by every process and replica: one per Bitrix24 portal
(reference b24 §7.2) and one for HeadHunter, whose limit counts per source IP (reference hh §7).

HeadHunter's limit is undocumented ("about 10 requests/s per IP", may change): its bucket is adaptive
(`AdaptiveBucket`). The rate starts at the floor (HH_RATE_MIN), doubles each second the budget binds until
the first 429 (slow start), then grows additively while it binds and no 429 comes, and is cut
multiplicatively on a 429 (and on a burst of 503s: several, and a share of the requests answered meanwhile);
it stays within [HH_RATE_MIN, HH_RATE]. Every process shares the learned rate through the bucket's own hash in
the store (`rabota_common.store.buckets`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from rabota_common.metrics import BUDGET_WAIT_SECONDS, BUDGET_WAITS, HH_RATE_CUTS, HH_RATE_NOW
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


# The adaptive bucket's Lua (growth while it binds, cuts on refusals) is in `rabota_common.store.buckets`.
@dataclass(frozen=True)
class AdaptiveRate:
    """How the HeadHunter rate adapts (requests/s): floor and ceiling from the settings, the rest tuned on
    the sandbox's sliding-second limit (docs/benchmarks.md, adaptive)."""

    floor: float = 2.0
    ceiling: float = 20.0
    step: float = 0.02  # additive growth per second while the budget binds, above the last 429's rate
    accel_s: float = 10.0  # the step grows with the square of the seconds without a 429 over this
    cut: float = 0.9  # multiplicative decrease on a 429
    hold_s: float = 1.0  # refusals within this of a cut are one congestion event
    burst_503: int = 3  # this many 503s ...
    window_503_s: float = 2.0  # ... within this many seconds count as a 429 ...
    share_503: float = 0.25  # ... when also this share of the requests granted meanwhile (5 % at random: none)


class AdaptiveBucket:
    """The HeadHunter budget: a shared leaky bucket whose rate the HeadHunter client's answers steer."""

    def __init__(self, store: Store, limits: AdaptiveRate, burst: int = 1, name: str = "hh") -> None:
        self._limits = limits
        self._burst = max(1, burst)
        self._name = name
        self._store = store

    async def try_take(self) -> float:
        """Take one unit if the bucket has room (0.0), else take nothing and return the seconds to wait."""
        lim = self._limits
        wait, rate = await self._store.take_adaptive_unit(
            bucket=self._name, floor=lim.floor, ceiling=lim.ceiling, burst=self._burst, bulk=_BULK.get(),
            grace_s=LIVE_GRACE_S, step=lim.step, accel_s=lim.accel_s)
        HH_RATE_NOW.set(rate)
        return wait

    async def take(self) -> None:
        waited = 0.0
        while True:
            wait = await self.try_take()
            if wait <= 0:
                break
            waited += min(wait, 5.0)
            await asyncio.sleep(min(wait, 5.0))
        if waited:
            BUDGET_WAITS.labels("hh").inc()
            BUDGET_WAIT_SECONDS.labels("hh").inc(waited)

    async def refused(self, status: int) -> None:
        """HeadHunter answered 429 (its rate limit) or 503: slow every process down."""
        if status not in (429, 503):
            return
        lim = self._limits
        cut_to = await self._store.refuse_adaptive_unit(
            bucket=self._name, status=status, floor=lim.floor, cut=lim.cut, hold_s=lim.hold_s,
            burst_503=lim.burst_503, window_503_s=lim.window_503_s, share_503=lim.share_503)
        if cut_to is not None:
            HH_RATE_CUTS.labels(str(status)).inc()
            HH_RATE_NOW.set(cut_to)

    async def rate(self) -> float:
        """The shared rate now (requests/s); the floor before any request."""
        value = await self._store.adaptive_rate(bucket=self._name)
        return value if value is not None else self._limits.floor

