"""Leaky-bucket request budgets in Redis, shared by every process and replica: one per Bitrix24 portal
(reference b24 §7.2) and one for HeadHunter, whose limit counts per source IP (reference hh §7)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from redis.asyncio import Redis

from rabota_common.metrics import BUDGET_WAIT_SECONDS, BUDGET_WAITS

# Returns the seconds to wait (as a string) or "0" after taking one unit. Uses Redis time so that
# replicas on different machines agree on the clock. Priority: a live taker (ARGV[3] = "0") told to wait
# marks the bucket `live` until its turn plus a grace (ARGV[4]); bulk takers ("1") take nothing before
# then, so the next unit is the live one's. The mark is a time, not a lock: a crashed taker holds nothing.
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local bulk = ARGV[3] == '1'
local v = redis.call('HMGET', KEYS[1], 'level', 'ts', 'live')
local live = tonumber(v[3]) or 0
if bulk and live > now then
  return tostring(live - now)
end
local level = tonumber(v[1]) or 0
local ts = tonumber(v[2]) or now
level = math.max(0, level - (now - ts) * rate)
if level + 1 > burst then
  local wait = (level + 1 - burst) / rate
  if not bulk then
    redis.call('HSET', KEYS[1], 'live', tostring(math.max(live, now + wait + tonumber(ARGV[4]))))
    redis.call('PEXPIRE', KEYS[1], 3600000)
  end
  return tostring(wait)
end
redis.call('HSET', KEYS[1], 'level', tostring(level + 1), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], 3600000)
return '0'
"""
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
    def __init__(self, redis: Redis, rate: float, burst: int, margin: int = 2, api: str = "b24") -> None:
        self._redis = redis
        self._api = api
        self._rate = rate
        # A small margin below the portal's burst absorbs clock and counting differences.
        self._burst = max(1, burst - margin)
        self._script = redis.register_script(_LUA)

    async def try_take(self, key: str = "hh") -> float:
        """Take one unit if the bucket has room (0.0), else take nothing and return the seconds to wait."""
        priority = "1" if _BULK.get() else "0"
        return float(await self._script(keys=[f"rs:budget:{key}"],
                                        args=[self._rate, self._burst, priority, LIVE_GRACE_S]))

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
