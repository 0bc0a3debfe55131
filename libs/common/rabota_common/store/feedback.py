"""Feedback from the «Обратная связь» tab (encrypted: it holds personal data)."""

from __future__ import annotations

from typing import Any

from rabota_common.store._base import StoreBase, text

FEEDBACK_PORTALS_KEY = "rs:feedback-portals"


class FeedbackStore(StoreBase):
    async def add_feedback(self, portal: str, entry: dict[str, Any], keep: int = 500) -> None:
        """Append to the portal's feedback list (encrypted: it holds personal data), keeping its newest `keep`
        entries; operators read it with `Store.feedback(portal)`, and `rs:feedback-portals` lists the portals
        that sent any."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(self.key(portal, "feedback"), self.seal_json(dict(entry, portal=portal)))
        pipe.ltrim(self.key(portal, "feedback"), -keep, -1)
        pipe.sadd(FEEDBACK_PORTALS_KEY, portal)
        await pipe.execute()

    async def feedback(self, portal: str, start: int = 0, end: int = -1) -> list[dict[str, Any]]:
        """One portal's feedback entries in clear, oldest first (an entry from before encryption reads as is)."""
        stored = await self.redis.lrange(self.key(portal, "feedback"), start, end)
        return [dict(self.unseal_json(raw)) for raw in stored]

    async def feedback_portals(self) -> list[str]:
        return sorted(text(m) for m in await self.redis.smembers(FEEDBACK_PORTALS_KEY))
