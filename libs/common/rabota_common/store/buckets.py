"""Leaky-bucket levels shared by every process and replica (`rabota_common.budget` paces with them)."""

from __future__ import annotations

from rabota_common.store._base import StoreBase, text

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


# The adaptive bucket: the same leaky bucket and live/bulk priority as `_LUA`, its rate kept in the hash.
# ARGV: floor, ceiling, burst, bulk, live grace, additive step (requests/s per second), acceleration (s).
# Growth happens only while the budget binds (a taker is told to wait), at most once a second, and the slow
# start's doubling only while the budget was used (`n`, the grants since the last check, at least 80 % of the
# rate: a process starved of CPU would double past a limit it never met); the recovery after a 429 is not held
# back by it (slow answers, not the budget, then bound the takers, and the rate must come back): doubling
# while below `ssthresh` (no 429 seen yet); below 95 % of the rate of the last 429 (`wmax`), half the gap
# each second (back near the limit within seconds); above it a probe of `step` (1 + (t / accel)²) per second,
# t the seconds since the last 429: gentle near a steady limit, a raised limit is found within a minute.
# Returns "wait rate".
_ADAPTIVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local floor = tonumber(ARGV[1])
local ceiling = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local bulk = ARGV[4] == '1'
local v = redis.call('HMGET', KEYS[1], 'level', 'ts', 'live', 'rate', 'ssthresh', 'grow_ts', 'cut_ts', 'wmax', 'n')
local rate = math.min(ceiling, math.max(floor, tonumber(v[4]) or floor))
local live = tonumber(v[3]) or 0
if bulk and live > now then
  return tostring(live - now) .. ' ' .. tostring(rate)
end
local level = tonumber(v[1]) or 0
local ts = tonumber(v[2]) or now
level = math.max(0, level - (now - ts) * rate)
if level + 1 > burst then
  local wait = (level + 1 - burst) / rate
  local grow_ts = tonumber(v[6]) or 0
  local ssthresh = tonumber(v[5]) or ceiling
  local used = (tonumber(v[9]) or 0) / math.max(now - grow_ts, 1)
  if now - grow_ts >= 1 and v[6] ~= false and rate < ssthresh and used < 0.8 * rate then
    redis.call('HSET', KEYS[1], 'grow_ts', tostring(now), 'n', '0')
  elseif now - grow_ts >= 1 then
    local cut_ts = tonumber(v[7]) or now
    local plateau = (tonumber(v[8]) or 0) * 0.95
    local t = (now - cut_ts) / tonumber(ARGV[7])
    local new = rate + tonumber(ARGV[6]) * (1 + t * t)
    if rate < ssthresh then
      new = math.min(ssthresh, rate * 2)
    elseif rate < plateau then
      new = rate + math.max(new - rate, (plateau - rate) / 2)
    end
    new = math.min(ceiling, new)
    rate = new
    wait = (level + 1 - burst) / rate
    redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'grow_ts', tostring(now), 'level', tostring(level),
               'ts', tostring(now), 'n', '0')
  end
  if not bulk then
    redis.call('HSET', KEYS[1], 'live', tostring(math.max(live, now + wait + tonumber(ARGV[5]))))
  end
  redis.call('PEXPIRE', KEYS[1], 3600000)
  return tostring(wait) .. ' ' .. tostring(rate)
end
redis.call('HSET', KEYS[1], 'level', tostring(level + 1), 'ts', tostring(now), 'rate', tostring(rate))
redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HINCRBY', KEYS[1], 'w', 1)
redis.call('PEXPIRE', KEYS[1], 3600000)
return '0 ' .. tostring(rate)
"""

# A refusal: ARGV = kind ('429' or '503'), floor, cut factor, hold (s), 503s that make a burst, their window,
# their share. A burst of 503s is at least that many within the window that are also at least that share of
# the requests granted since the window's first 503 (`w`, counted by every grant; `w503` its value then): a
# HeadHunter whose answers fail at random now and then is no overloaded one, and must not hold the rate down.
# The first one ends the slow start (halved: it may have doubled past the limit); later ones cut by the factor.
# Refusals within `hold` of a cut are the same congestion (requests in flight together): one cut. The
# bucket is left full, so the next request waits a whole interval at the new rate. Returns the rate.
_REFUSED_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local floor = tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'rate', 'cut_ts', 'n503', 'ts503', 'level', 'ssthresh', 'w', 'w503')
local rate = tonumber(v[1]) or floor
if ARGV[1] == '503' then
  local n = tonumber(v[3]) or 0
  local since = tonumber(v[4]) or 0
  local granted = tonumber(v[7]) or 0
  local w0 = tonumber(v[8]) or 0
  if now - since > tonumber(ARGV[6]) then
    n = 0
    since = now
    w0 = granted
  end
  n = n + 1
  redis.call('HSET', KEYS[1], 'n503', tostring(n), 'ts503', tostring(since), 'w503', tostring(w0))
  if n < tonumber(ARGV[5]) or n < tonumber(ARGV[7]) * (granted - w0) then
    return tostring(rate)
  end
  redis.call('HSET', KEYS[1], 'n503', '0')
end
if now - (tonumber(v[2]) or 0) < tonumber(ARGV[4]) then
  return tostring(rate)
end
local wmax = rate
if v[6] == false then
  -- The first refusal ends the slow start, which may have doubled past the limit: halve, and aim the
  -- recovery between the two.
  wmax = rate * 0.75
  rate = math.max(floor, rate * 0.5)
else
  rate = math.max(floor, rate * tonumber(ARGV[3]))
end
redis.call('HSET', KEYS[1], 'wmax', tostring(wmax), 'rate', tostring(rate),
           'ssthresh', tostring(rate), 'cut_ts', tostring(now),
           'grow_ts', tostring(now), 'n', '0', 'level', tostring(math.max(tonumber(v[5]) or 0, 1)),
           'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], 3600000)
return 'cut ' .. tostring(rate)
"""


def bucket_key(name: str) -> str:
    return f"rs:budget:{name}"


class BucketsStore(StoreBase):
    async def take_unit(self, *, bucket: str, rate: float, burst: int, bulk: bool, grace_s: float) -> float:
        """Take one unit of the bucket if it has room (0.0), else take nothing and return the seconds to wait.
        A bulk taker yields to live ones (see `_LUA`)."""
        return float(await self._script(_LUA)(keys=[bucket_key(bucket)],
                                              args=[rate, burst, "1" if bulk else "0", grace_s]))

    # -- the adaptive HeadHunter bucket (`rabota_common.budget.AdaptiveBucket`): its rate lives in the hash ----
    async def take_adaptive_unit(self, *, bucket: str, floor: float, ceiling: float, burst: int, bulk: bool,
                                 grace_s: float, step: float, accel_s: float) -> tuple[float, float]:
        """Take one unit of the adaptive bucket if it has room: (seconds to wait, 0.0 when taken; the shared
        rate now). Growth while the budget binds, as `_ADAPTIVE_LUA` says."""
        raw = await self._script(_ADAPTIVE_LUA)(keys=[bucket_key(bucket)], args=[
            floor, ceiling, burst, "1" if bulk else "0", grace_s, step, accel_s])
        wait, rate = text(raw).split()
        return float(wait), float(rate)

    async def refuse_adaptive_unit(self, *, bucket: str, status: int, floor: float, cut: float, hold_s: float,
                                   burst_503: int, window_503_s: float, share_503: float = 0.0) -> float | None:
        """A 429 or 503 of the adaptive bucket's API: the new rate when it cut the rate, else None."""
        raw = text(await self._script(_REFUSED_LUA)(keys=[bucket_key(bucket)], args=[
            str(status), floor, cut, hold_s, burst_503, window_503_s, share_503]))
        return float(raw.split()[1]) if raw.startswith("cut ") else None

    async def adaptive_rate(self, *, bucket: str) -> float | None:
        """The adaptive bucket's shared rate (requests/s); None before any request."""
        value = await self.redis.hget(bucket_key(bucket), "rate")
        return float(text(value)) if value is not None else None
