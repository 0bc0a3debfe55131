"""The Redis primary SIGKILLed mid-import, a replica promoted by Sentinel (issue 15, item 3).

The stack runs Redis as deployed with high availability: a primary, one replica and three Sentinels (quorum 2),
the services following the primary through REDIS_SENTINELS. Mid-import the primary is SIGKILLed; the Sentinels
promote the replica; the killed node is started again with its old command (as compose's restart policy or the
StatefulSet would) and the Sentinels turn it into the new primary's replica. Until it is, the new primary has no
replica to confirm writes (REDIS_WAIT_REPLICAS=1): the work waits («ожидание: реплика Redis …»), it never fails.

End state (outages.import_through): every response imported exactly once, 0 lost, 0 duplicated, 0 failed,
0 dead letters. Printed: time to promotion, to the old primary's return as a replica, and to the end."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest
import redis.asyncio as aioredis
from rabota_stack.stack import SENTINEL_MASTER, Stack

from tests.e2e.harness import Driver
from tests.reliability.outages import OUTAGE_ENV, import_through

N = int(os.environ.get("REDIS_FAILOVER_N", "200"))


async def _primary_port(stack: Stack) -> int | None:
    """The primary's port as the Sentinels name it (the first that answers)."""
    for port in stack.config.sentinel_ports:
        client = aioredis.Redis(host="127.0.0.1", port=port, password=stack.redis_password, socket_timeout=2.0)
        try:
            addr = await client.execute_command("SENTINEL", "get-master-addr-by-name", SENTINEL_MASTER)
            if addr:
                return int(addr[1])
        except (aioredis.RedisError, OSError):
            continue
        finally:
            await client.aclose()
    return None


async def _replication(port: int, password: str | None) -> dict[str, Any]:
    client = aioredis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=2.0,
                            decode_responses=True)
    try:
        return dict(await client.info("replication"))
    finally:
        await client.aclose()


async def _until(what: str, check: Any, limit_s: float) -> float:
    """Poll `check()` until it is true; returns the monotonic time it became so."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            if await check():
                return time.monotonic()
        except (aioredis.RedisError, OSError):
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {limit_s:.0f}s")


@pytest.mark.redis_sentinel(1)
@pytest.mark.timeout(600)
@pytest.mark.stack_env({**OUTAGE_ENV, "HH_SANDBOX_NEGOTIATIONS": str(N)})
async def test_redis_primary_killed_and_replica_promoted(driver: Driver) -> None:
    stack = driver.stack
    old_port = stack.config.redis_port
    replica_port = stack.config.redis_replica_ports[0]
    assert await _primary_port(stack) == old_port
    times: dict[str, float] = {}

    async def outage() -> None:
        argv, _ = await asyncio.to_thread(stack.stop_process, "redis", True)  # SIGKILL the primary
        times["killed"] = time.monotonic()

        async def promoted() -> bool:
            return await _primary_port(stack) == replica_port

        times["promoted"] = await _until("the replica promoted", promoted, 60.0)
        await asyncio.to_thread(stack.start_again, "redis", argv)  # its supervisor starts it again

        async def rejoined() -> bool:
            old = await _replication(old_port, stack.redis_password)
            return old.get("role") == "slave" and int(old.get("master_port", 0)) == replica_port \
                and old.get("master_link_status") == "up"

        times["rejoined"] = await _until("the old primary a replica of the new one", rejoined, 120.0)

    figures = await import_through(driver, "redis primary killed, replica promoted", outage, _nothing, n=N)
    new = await _replication(replica_port, stack.redis_password)
    summary = {"responses": N, "promotion_s": round(times["promoted"] - times["killed"], 1),
               "old_primary_back_as_replica_s": round(times["rejoined"] - times["killed"], 1),
               "finish_after_promotion_s": round(figures["finish_after_recovery_s"]
                                                 + (times["rejoined"] - times["promoted"]), 1),
               "import_s": figures["import_s"], "written_before_kill": figures["written_before"],
               "lost": figures["losses"], "duplicated": figures["duplicates"], "failed": figures["failed"],
               "dead_letters": figures["dead_letters"], "waiting_shown": figures["waiting_shown"],
               "new_primary_role": new.get("role"), "new_primary_replicas": new.get("connected_slaves")}
    print(f"redis failover: {summary}")
    assert new.get("role") == "master"
    assert figures["losses"] == 0 and figures["duplicates"] == 0 and figures["failed"] == 0, figures


async def _nothing() -> None:
    return None
