"""Acting on applicants from the CRM card (DESIGN F16): which HeadHunter action each negotiation already took
through the app (idempotency), the action in flight, and the bulk rejections offered when a vacancy closes.

Every key is per portal and kept in the portal's index (a CLEAN uninstall wipes them). No message text is kept:
an action's record holds the action id and when; a bulk offer holds negotiation ids and the vacancy's name."""

from __future__ import annotations

import json
import time
from typing import Any

from rabota_common.store._base import StoreBase, text

# An action in flight (HeadHunter asked, the outcome not yet recorded): a second click within it does nothing.
ACTION_CLAIM_TTL_S = 120
# How long a vacancy's bulk-rejection offer waits for someone to confirm or dismiss it.
BULK_OFFER_TTL_S = 30 * 24 * 3600


class ActionsStore(StoreBase):
    async def _tracked(self, portal: str, *parts: str) -> str:
        key = self.key(portal, *parts)
        await self.track(portal, key)
        return key

    # -- one negotiation's actions ------------------------------------------------------------------
    async def action_done(self, portal: str, negotiation_id: str, action_id: str) -> float | None:
        """When the app performed `action_id` on the negotiation (None: never)."""
        value = await self.redis.hget(self.key(portal, "actions", "done"), f"{negotiation_id}:{action_id}")
        return float(text(value)) if value else None

    async def claim_action(self, portal: str, negotiation_id: str) -> bool:
        """One action at a time per negotiation: False while another is in flight."""
        key = await self._tracked(portal, "actions", "claim", negotiation_id)
        return bool(await self.redis.set(key, "1", nx=True, ex=ACTION_CLAIM_TTL_S))

    async def release_action(self, portal: str, negotiation_id: str) -> None:
        await self.redis.delete(self.key(portal, "actions", "claim", negotiation_id))

    async def record_action(self, portal: str, negotiation_id: str, action_id: str) -> None:
        key = await self._tracked(portal, "actions", "done")
        await self.redis.hset(key, f"{negotiation_id}:{action_id}", str(time.time()))

    async def claim_action_comment(self, portal: str, negotiation_id: str, action_id: str) -> bool:
        """The timeline comment of an action is left once (a retry after a crash finds it claimed)."""
        key = await self._tracked(portal, "actions", "commented")
        return bool(await self.redis.sadd(key, f"{negotiation_id}:{action_id}"))

    async def release_action_comment(self, portal: str, negotiation_id: str, action_id: str) -> None:
        await self.redis.srem(self.key(portal, "actions", "commented"), f"{negotiation_id}:{action_id}")

    # -- bulk rejection offers -----------------------------------------------------------------------
    async def put_bulk_offer(self, portal: str, offer_id: str, offer: dict[str, Any]) -> None:
        """A bulk rejection offered (a vacancy archived): its negotiation ids, vacancy id and name."""
        key = await self._tracked(portal, "bulk-offers")
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, offer_id, json.dumps(offer, ensure_ascii=False))
        pipe.expire(key, BULK_OFFER_TTL_S)
        await pipe.execute()

    async def bulk_offers(self, portal: str) -> dict[str, dict[str, Any]]:
        raw = await self.redis.hgetall(self.key(portal, "bulk-offers"))
        return {text(k): json.loads(text(v)) for k, v in raw.items()}

    async def bulk_offer(self, portal: str, offer_id: str) -> dict[str, Any] | None:
        value = await self.redis.hget(self.key(portal, "bulk-offers"), offer_id)
        return json.loads(text(value)) if value else None

    async def drop_bulk_offer(self, portal: str, offer_id: str) -> bool:
        return bool(await self.redis.hdel(self.key(portal, "bulk-offers"), offer_id))

    async def bulk_run(self, portal: str, run_id: str) -> dict[str, int]:
        raw = await self.redis.hgetall(self.key(portal, "bulk-run", run_id))
        return {text(k): int(text(v)) for k, v in raw.items()}

    async def bulk_progress(self, portal: str, run_id: str, *, done: int = 0, failed: int = 0,
                            total: int | None = None) -> dict[str, int]:
        """Counters of one bulk rejection run (`total` set when it starts)."""
        key = await self._tracked(portal, "bulk-run", run_id)
        pipe = self.redis.pipeline(transaction=True)
        if total is not None:
            pipe.hset(key, "total", total)
        if done:
            pipe.hincrby(key, "done", done)
        if failed:
            pipe.hincrby(key, "failed", failed)
        pipe.expire(key, BULK_OFFER_TTL_S)
        pipe.hgetall(key)
        result = await pipe.execute()
        return {text(k): int(text(v)) for k, v in result[-1].items()}
