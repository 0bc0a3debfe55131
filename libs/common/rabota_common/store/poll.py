"""The poller's state per portal: the mark of its next slot, the run claim, the poll count, the fingerprints
of the vacancies it last walked, and the negotiations it published a moment ago."""

from __future__ import annotations

from rabota_common.store._base import StoreBase, text


class PollStore(StoreBase):
    async def claim_poll_slot(self, *, portal: str, until_next_s: int) -> bool:
        """True when the portal's slot has come (the mark then holds until the next one)."""
        return await self._claim(self.key(portal, "poll", "due"), ttl_s=max(1, until_next_s))

    async def move_poll_slot(self, *, portal: str, until_next_s: int) -> None:
        """The portal's slot mark (claimed) now ends sooner or later: its next slot of another interval (a
        trusted portal found what the webhooks missed: polled at POLL_INTERVAL_S again)."""
        await self.redis.expire(self.key(portal, "poll", "due"), max(1, until_next_s))

    async def due_portals(self, *, portals: list[str]) -> list[str]:
        """The portals whose slot has come: one MGET instead of reading every portal's records."""
        if not portals:
            return []
        marks = await self.redis.mget([self.key(p, "poll", "due") for p in portals])
        return [p for p, mark in zip(portals, marks, strict=True) if mark is None]

    async def claim_poll_run(self, *, portal: str, owner: str, ttl_s: int) -> bool:
        """One replica at a time polls a portal; a killed one's claim ends after ttl_s."""
        return await self._claim(self.key(portal, "poll", "running"), value=owner, ttl_s=ttl_s)

    async def release_poll_run(self, *, portal: str) -> None:
        await self.redis.delete(self.key(portal, "poll", "running"))

    async def next_poll_count(self, *, portal: str) -> int:
        return int(await self.redis.incr(self.key(portal, "poll", "count")))

    async def poll_fingerprints(self, *, portal: str) -> dict[str, str]:
        """vacancy id → its fingerprint at the last walk."""
        raw = await self.redis.hgetall(self.key(portal, "poll", "fingerprint"))
        return {text(k): text(v) for k, v in raw.items()}

    async def set_poll_fingerprint(self, *, portal: str, vacancy_id: str, fingerprint: str) -> None:
        await self.redis.hset(self.key(portal, "poll", "fingerprint"), vacancy_id, fingerprint)

    async def claim_poll_sent(self, *, portal: str, negotiation_id: str, state: str | None, ttl_s: int) -> bool:
        """True for the first poll to publish this negotiation in this state within ttl_s."""
        key = self.key(portal, "poll", "sent", f"{negotiation_id}:{state}")
        if not await self._claim(key, ttl_s=ttl_s):
            return False
        await self.track(portal, key)  # a CLEAN uninstall finds it by name
        return True
