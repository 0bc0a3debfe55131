"""The shared HeadHunter budget: live requests go before bulk (import) ones, and a vanished live taker
holds nothing."""

from __future__ import annotations

import asyncio

from rabota_common import budget
from rabota_common.budget import SharedBucket
from rabota_common.crypto import Crypto
from rabota_common.store import Store


async def test_live_takers_go_before_bulk_takers(redis_client):
    bucket = SharedBucket(Store(redis_client, Crypto("k")), rate=20.0, burst=1, margin=0, api="hh")
    taken: list[str] = []
    stop = asyncio.Event()

    async def bulk_taker() -> None:
        with budget.bulk():
            while not stop.is_set():
                await bucket.take("test")
                taken.append("bulk")

    bulks = [asyncio.create_task(bulk_taker()) for _ in range(8)]
    await asyncio.sleep(0.5)  # the bulk takers keep the bucket full
    interleaved = 0
    for _ in range(5):
        before = len(taken)
        await bucket.take("test")
        # Units taken by bulk while this live request waited (one may have been on its way already).
        interleaved += len(taken) - before
        taken.append("live")
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*bulks)
    assert taken.count("bulk") > 10  # the bulk takers did get the budget meanwhile
    # Fair sharing among 9 takers would let ~8 bulk units pass before each live one.
    assert interleaved <= 5, taken


async def test_a_live_taker_that_went_away_frees_the_budget_by_itself(redis_client):
    bucket = SharedBucket(Store(redis_client, Crypto("k")), rate=20.0, burst=1, margin=0, api="hh")
    await bucket.take("gone")
    assert await bucket.try_take("gone") > 0  # a live request told to wait, that never comes back
    with budget.bulk():
        await asyncio.wait_for(bucket.take("gone"), timeout=5.0)
