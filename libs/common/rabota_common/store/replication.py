"""Confirmation of writes on Redis replicas (issue 15): `rs:replication-fence`, WAIT.

Replication is asynchronous: without a confirmation a failover can promote a replica that never got a write
which Bitrix24 or JetStream has already been told about (a ledger mark, an ack)."""

from __future__ import annotations

from rabota_common.errors import NotReplicated
from rabota_common.store._base import StoreBase

FENCE_KEY = "rs:replication-fence"


class ReplicationStore(StoreBase):
    async def replicated(self) -> None:
        """Return once `wait_replicas` replicas hold every write the primary had acknowledged before this call,
        by anyone (no-op with 0: a single Redis, or Sentinel without confirmation). WAIT counts the writes of
        its own connection only, so it follows a write of its own on the same connection (a pipeline): the
        replication stream is in order, so a replica that has the fence has everything before it. Raises
        NotReplicated (transient: the work waits) when the replicas do not confirm within `wait_ms`."""
        if self.wait_replicas <= 0:
            return
        pipe = self.redis.pipeline(transaction=False)
        pipe.incr(FENCE_KEY)
        pipe.execute_command("WAIT", self.wait_replicas, self.wait_ms)
        _, acked = await pipe.execute()
        if int(acked) < self.wait_replicas:
            raise NotReplicated(f"{acked} of {self.wait_replicas} Redis replica(s) confirmed within {self.wait_ms} ms")
