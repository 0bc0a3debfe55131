"""Webhooks in flight: each portal's received webhooks until the poller settles them (a cap per portal)."""

from __future__ import annotations

import time

from rabota_common.store._base import StoreBase

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
