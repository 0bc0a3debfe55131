"""Import progress: the counters of the current import, the negotiations it found and processed, the
vacancies it walked completely, and how often its listing failed."""

from __future__ import annotations

import time
import uuid

from pydantic import BaseModel

from rabota_common.store._base import StoreBase, text

# Negotiations found by the current import, recorded and counted at once: a Redis killed (or failing over)
# between the SADD and the HINCRBY left them in the set but not in `found`, and the retry found them known,
# so the import ended with `found` short of `processed`.
_ADD_FOUND = """
if redis.call('HGET', KEYS[1], 'import_id') ~= ARGV[1] then return {} end
local new = {}
for i = 2, #ARGV do
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then new[#new + 1] = ARGV[i] end
end
if #new > 0 then redis.call('HINCRBY', KEYS[1], 'found', #new) end
return new
"""

# One processed negotiation of the current import, counted once; the import is done when the listing is
# complete and every found negotiation is processed. One round trip instead of five per written response.
_COUNT_RESULT = """
if redis.call('HGET', KEYS[1], 'import_id') ~= ARGV[1] then return 0 end
if redis.call('SADD', KEYS[2], ARGV[2]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'processed', 1)
redis.call('HINCRBY', KEYS[1], ARGV[3], 1)
local v = redis.call('HMGET', KEYS[1], 'state', 'listing_done', 'processed', 'found')
if v[1] == 'running' and v[2] == '1' and tonumber(v[3]) >= tonumber(v[4] or '0') then
  redis.call('HSET', KEYS[1], 'state', 'done', 'finished_at', ARGV[4])
end
return 1
"""


class ImportProgress(BaseModel):
    import_id: str = ""
    state: str = "idle"
    found: int = 0
    processed: int = 0
    imported: int = 0
    failed: int = 0
    listing_done: bool = False
    started_at: float = 0.0
    finished_at: float = 0.0


class ImportsStore(StoreBase):
    async def start_import(self, portal: str) -> str:
        import_id = uuid.uuid4().hex[:12]
        key = self.key(portal, "import")
        await self.redis.delete(key, self.key(portal, "import", "found"), self.key(portal, "import", "done"),
                                self.key(portal, "import", "walked"))
        await self.redis.hset(key, mapping={
            "import_id": import_id, "state": "running", "found": 0, "processed": 0, "imported": 0,
            "failed": 0, "listing_done": "0", "started_at": time.time(), "finished_at": 0,
        })
        return import_id

    async def add_found(self, portal: str, import_id: str, negotiation_ids: list[str]) -> list[str]:
        """Record negotiations found by an import; returns those not seen before in it."""
        if not negotiation_ids:
            return []
        new = await self._script(_ADD_FOUND)(keys=[self.key(portal, "import"), self.key(portal, "import", "found")],
                                             args=[import_id, *negotiation_ids])
        return [text(nid) for nid in new]

    async def already_found(self, portal: str, negotiation_ids: list[str]) -> set[str]:
        """Negotiations the current import has recorded as found (and so published before)."""
        if not negotiation_ids:
            return set()
        flags = await self.redis.smismember(self.key(portal, "import", "found"), negotiation_ids)
        return {nid for nid, flag in zip(negotiation_ids, flags, strict=True) if flag}

    async def import_found(self, *, portal: str) -> set[str]:
        """Every negotiation the current import has recorded as found."""
        return {text(m) for m in await self.redis.smembers(self.key(portal, "import", "found"))}

    async def walked_vacancies(self, portal: str, import_id: str) -> set[str]:
        """Vacancies the import has listed completely: a listing restarted after a crash skips them."""
        if not await self._is_current_import(portal, import_id):
            return set()
        return {text(v) for v in await self.redis.smembers(self.key(portal, "import", "walked"))}

    async def mark_walked(self, portal: str, import_id: str, vacancy_id: str) -> None:
        """A vacancy listed completely is progress: the listing's failure count starts again, so that a long
        walk is given up only after failures in a row, not after a few spread over many minutes."""
        if await self._is_current_import(portal, import_id):
            await self.redis.sadd(self.key(portal, "import", "walked"), vacancy_id)
            await self.redis.hdel(self.key(portal, "import"), "listing_failures")

    async def count_listing_failure(self, *, portal: str) -> int:
        """One more failure of the import's listing (in a row: `mark_walked` starts the count again)."""
        return int(await self.redis.hincrby(self.key(portal, "import"), "listing_failures", 1))

    async def finish_listing(self, portal: str, import_id: str) -> None:
        if await self._is_current_import(portal, import_id):
            await self.redis.hset(self.key(portal, "import"), "listing_done", "1")
            await self._maybe_done(portal)

    async def count_result(self, portal: str, import_id: str | None, negotiation_id: str, ok: bool) -> None:
        """Count one processed negotiation of an import, once, whatever the redeliveries."""
        if import_id:
            await self._script(_COUNT_RESULT)(
                keys=[self.key(portal, "import"), self.key(portal, "import", "done")],
                args=[import_id, negotiation_id, "imported" if ok else "failed", time.time()])

    async def _is_current_import(self, portal: str, import_id: str) -> bool:
        current = await self.redis.hget(self.key(portal, "import"), "import_id")
        return bool(current) and text(current) == import_id

    async def _maybe_done(self, portal: str) -> None:
        progress = await self.get_import(portal)
        if progress.state == "running" and progress.listing_done and progress.processed >= progress.found:
            await self.redis.hset(self.key(portal, "import"), mapping={
                "state": "done", "finished_at": time.time()})

    async def get_import(self, portal: str) -> ImportProgress:
        return await self._get_model(self.key(portal, "import"), ImportProgress) or ImportProgress()
