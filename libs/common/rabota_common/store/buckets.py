"""Leaky-bucket levels shared by every process and replica (`rabota_common.budget` paces with them)."""

from __future__ import annotations

from rabota_common.store._base import StoreBase

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


def bucket_key(name: str) -> str:
    return f"rs:budget:{name}"


class BucketsStore(StoreBase):
    async def take_unit(self, *, bucket: str, rate: float, burst: int, bulk: bool, grace_s: float) -> float:
        """Take one unit of the bucket if it has room (0.0), else take nothing and return the seconds to wait.
        A bulk taker yields to live ones (see `_LUA`)."""
        return float(await self._script(_LUA)(keys=[bucket_key(bucket)],
                                              args=[rate, burst, "1" if bulk else "0", grace_s]))
