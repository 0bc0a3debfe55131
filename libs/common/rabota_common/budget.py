"""Leaky-bucket request budgets in Redis, shared by every process and replica: one per Bitrix24 portal
(reference b24 §7.2) and one for HeadHunter, whose limit counts per source IP (reference hh §7)."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from rabota_common.metrics import BUDGET_WAIT_SECONDS, BUDGET_WAITS, portal_label

# Returns the seconds to wait (as a string) or "0" after taking one unit. Uses Redis time so that
# replicas on different machines agree on the clock.
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'level', 'ts')
local level = tonumber(v[1]) or 0
local ts = tonumber(v[2]) or now
level = math.max(0, level - (now - ts) * rate)
if level + 1 > burst then
  return tostring((level + 1 - burst) / rate)
end
redis.call('HSET', KEYS[1], 'level', tostring(level + 1), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], 3600000)
return '0'
"""


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
        return float(await self._script(keys=[f"rs:budget:{key}"], args=[self._rate, self._burst]))

    async def take(self, key: str = "hh") -> None:
        waited = 0.0
        while True:
            wait = await self.try_take(key)
            if wait <= 0:
                break
            waited += min(wait, 5.0)
            await asyncio.sleep(min(wait, 5.0))
        if waited:
            portal = portal_label(key) if self._api == "b24" else ""
            BUDGET_WAITS.labels(self._api, portal).inc()
            BUDGET_WAIT_SECONDS.labels(self._api, portal).inc(waited)
