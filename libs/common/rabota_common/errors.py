"""Error classes that decide what a consumer does with a message."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError


class TransientError(Exception):
    """Worth retrying later (network, 5xx, rate limits, a token being refreshed). It never becomes a failure:
    the message waits as long as it takes. `cause` is what a recruiter reads meanwhile (Russian, names the
    party that is down). `delay_s` fixes the wait; else it is the delivery's backoff, capped by `cap_s` when the
    cause clears within seconds (a throttled Bitrix24 bucket drains 2 requests a second)."""

    def __init__(self, message: str, delay_s: float | None = None, cause: str | None = None,
                 cap_s: float | None = None) -> None:
        super().__init__(message)
        self.delay_s = delay_s
        self.cause = cause
        self.cap_s = cap_s


class PermanentError(Exception):
    """Retrying cannot help until a person fixes the cause; `reason` is shown to users (Russian)."""

    def __init__(self, reason: str, code: str = "permanent") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class Parkable(TransientError):
    """Work waits for a person (a re-login, a renewed subscription): its messages are parked, not retried in a
    loop, and republished when the cause is gone."""


class HhAuthLost(Parkable):
    """HeadHunter tokens are gone (password change, revocation): work waits for a re-login (DESIGN F11)."""


class NotReplicated(RedisConnectionError):
    """Redis did not confirm that enough replicas hold a write (WAIT timed out): a failover now could lose it.
    A Redis connection trouble as far as callers go (it is transient, it waits; REDIS_ERRORS), with its own
    reason (rabota_common.transience)."""
