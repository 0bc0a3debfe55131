"""Feedback from the «Обратная связь» tab (encrypted: it holds personal data)."""

from __future__ import annotations

from typing import Any

from redis.exceptions import WatchError

from rabota_common.crypto import TokenError
from rabota_common.store._base import StoreBase, text

FEEDBACK_PORTALS_KEY = "rs:feedback-portals"
# Versions before per-portal lists kept every portal's feedback in one global list, at first in plaintext.
LEGACY_FEEDBACK_KEY = "rs:feedback"
FEEDBACK_KEEP = 500


class FeedbackStore(StoreBase):
    async def add_feedback(self, portal: str, entry: dict[str, Any], keep: int = FEEDBACK_KEEP) -> None:
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

    async def migrate_legacy_feedback(self) -> int:
        """Moves the global list's entries (plaintext or sealed) into their portals' encrypted lists, oldest first;
        returns how many moved. Each entry moves in one transaction (WATCHed), so a crash or a second ui doing the
        same repeats none and loses none. An entry that cannot be read stops the move (kept for an operator)."""
        moved = 0
        while True:
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(LEGACY_FEEDBACK_KEY)
                    raw = await pipe.lindex(LEGACY_FEEDBACK_KEY, 0)
                    if raw is None:
                        return moved
                    try:
                        entry = dict(self.unseal_json(raw))
                    except (ValueError, TypeError, TokenError):  # not JSON, not a dict, sealed by a lost key
                        return moved
                    portal = str(entry.get("portal") or "")
                    pipe.multi()
                    if portal:  # every entry was written with its portal
                        pipe.rpush(self.key(portal, "feedback"), self.seal_json(entry))
                        pipe.ltrim(self.key(portal, "feedback"), -FEEDBACK_KEEP, -1)
                        pipe.sadd(FEEDBACK_PORTALS_KEY, portal)
                    pipe.lpop(LEGACY_FEEDBACK_KEY)
                    await pipe.execute()
                    moved += 1
                except WatchError:
                    continue
