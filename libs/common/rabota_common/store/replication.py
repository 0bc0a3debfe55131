"""Confirmation of writes on Redis replicas (issue 15): `rs:replication-fence`, WAIT, and the primary's
replication id.

Replication is asynchronous: without a confirmation a failover can promote a replica that never got a write
which Bitrix24 or JetStream has already been told about (a ledger mark, an ack). The modules whose writes need
it (portals, hh: rotated tokens; ledger: the writing mark and the created entries) confirm them through
`replicated(pipe=…)` in the same round trip."""

from __future__ import annotations

from typing import Any

from redis.asyncio.client import Pipeline

from rabota_common.errors import NotReplicated
from rabota_common.store._base import StoreBase, text

FENCE_KEY = "rs:replication-fence"


class ReplicationStore(StoreBase):
    async def replication_id(self) -> str:
        """The current primary's replication id ("" when writes are not confirmed). It changes whenever another
        node becomes the primary (a promotion, a restart): work that read it before its writes and finds another
        one when it confirms them straddled a failover, and some of its writes may be gone."""
        if self.wait_replicas <= 0:
            return ""
        return text((await self.redis.info("replication")).get("master_replid", ""))

    async def replicated(self, since: str = "", pipe: Pipeline | None = None) -> list[Any]:
        """Run `pipe` (writes queued on a non-transactional pipeline, or none) and return its results once
        `wait_replicas` replicas hold them and every write acknowledged before (no confirmation with 0: a
        single Redis, or Sentinel without confirmation).

        WAIT counts the writes of its own connection, so it goes on the same connection as the writes (the
        pipeline), after a fence write of its own; the replication stream is in order, so a replica that has the
        fence has everything before it. A write made earlier on another connection is covered only while the
        primary stays the same: with `since` (replication_id() before the work), another primary now means the
        work straddled a failover. Raises NotReplicated (transient: the work waits, and is done again) in
        either case."""
        if pipe is None:
            pipe = self.redis.pipeline(transaction=False)
        if self.wait_replicas <= 0:
            return list(await pipe.execute()) if len(pipe) else []
        pipe.incr(FENCE_KEY)
        pipe.execute_command("WAIT", self.wait_replicas, self.wait_ms)
        if since:
            pipe.info("replication")
        results = list(await pipe.execute())
        if since:
            now = text(results.pop().get("master_replid", ""))
            if now != since:
                raise NotReplicated("the Redis primary changed during the work: some of its writes may be lost")
        acked = results.pop()
        results.pop()  # the fence
        if int(acked) < self.wait_replicas:
            raise NotReplicated(f"{acked} of {self.wait_replicas} Redis replica(s) confirmed within {self.wait_ms} ms")
        return results
