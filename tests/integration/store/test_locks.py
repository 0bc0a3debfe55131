from __future__ import annotations

import asyncio

import pytest
from rabota_common.store import Store


async def test_one_holder_at_a_time_and_a_busy_lock_times_out(store: Store) -> None:
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with store.lock("portal-x", ttl_s=1.0):
            held.set()
            await release.wait()  # held past its ttl: renewal keeps it

    task = asyncio.create_task(holder())
    await asyncio.wait_for(held.wait(), 10.0)
    with pytest.raises(TimeoutError):
        async with store.lock("portal-x", wait_s=1.5):
            pass
    release.set()
    await task
    async with store.lock("portal-x", wait_s=5.0):
        assert await store.redis.exists("rs:lock:portal-x")
    assert not await store.redis.exists("rs:lock:portal-x")
