"""Webhooks in flight: each portal's received webhooks until the poller settles them (a cap per portal); and
whether HeadHunter's webhook delivery works for the portal (issue 17: when it does, idle portals are only
reconciled)."""

from __future__ import annotations

import time

from rabota_common.store._base import StoreBase, text

# Atomic check-and-add of a pending webhook: concurrent requests of one portal never pass the cap together.
_PENDING_ADD = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class WebhooksStore(StoreBase):
    async def webhook_pending_add(self, portal: str, message: str, cap: int, horizon_s: float = 600.0) -> bool:
        """Count one received webhook of the portal as pending until the poller settles it (`webhook_done`);
        False, and nothing counted, when `cap` are pending. Entries older than `horizon_s` are dropped, so a
        count lost to a crash heals by itself; a redelivered copy (same message) counts once."""
        added = await self._script(_PENDING_ADD)(
            keys=[self.key(portal, "webhooks-pending")],
            args=[time.time() - horizon_s, time.time(), message, cap, int(horizon_s) + 60])
        return bool(added)

    async def webhook_done(self, portal: str, message: str) -> None:
        await self.redis.zrem(self.key(portal, "webhooks-pending"), message)

    # -- issue 17: webhook health ------------------------------------------------------------------
    async def webhook_seen(self, portal: str, ttl_s: int) -> None:
        """A webhook of the portal reached the poller now: HeadHunter's delivery works."""
        await self.redis.set(self.key(portal, "webhook", "seen"), str(time.time()), ex=ttl_s)

    async def webhook_health(self, portal: str) -> tuple[float | None, float | None]:
        """(when a webhook was last seen, when a poll last found what the webhooks had not brought)."""
        seen, missed = await self.redis.mget([self.key(portal, "webhook", "seen"),
                                              self.key(portal, "webhook", "missed")])
        return (float(text(seen)) if seen is not None else None,
                float(text(missed)) if missed is not None else None)

    async def webhook_missed(self, portal: str, ttl_s: int) -> None:
        """A poll found negotiations the webhooks had not brought: the portal is polled as before until a
        webhook is seen again (or `ttl_s` passes)."""
        await self.redis.set(self.key(portal, "webhook", "missed"), str(time.time()), ex=ttl_s)
