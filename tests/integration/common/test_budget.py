"""The shared HeadHunter budget: live requests go before bulk (import) ones, and a vanished live taker
holds nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rabota_common import budget
from rabota_common.budget import AdaptiveBucket, AdaptiveRate, SharedBucket
from rabota_common.crypto import Crypto
from rabota_common.store import Store
from rabota_sandbox.hh.ratelimit import SlidingWindowLimiter


def _store(redis_client) -> Store:
    return Store(redis_client, Crypto("k"))

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


# -- the adaptive HeadHunter budget (issue 17) --------------------------------------------------------


async def _demand(bucket: AdaptiveBucket, seconds: float, takers: int = 4,
                  answer: Callable[[], int] | None = None) -> tuple[int, int]:
    """`takers` loops taking the budget as fast as it allows for `seconds`; `answer` plays HeadHunter (its
    status for each request). Returns (requests, refused)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    counts = [0, 0]

    async def taker() -> None:
        while loop.time() < deadline:
            await bucket.take()
            counts[0] += 1
            status = answer() if answer is not None else 200
            if status != 200:
                counts[1] += 1
                await bucket.refused(status)

    await asyncio.gather(*(taker() for _ in range(takers)))
    return counts[0], counts[1]


async def test_the_adaptive_rate_starts_at_the_floor_and_grows_only_while_it_binds(redis_client):
    bucket = AdaptiveBucket(_store(redis_client), AdaptiveRate(floor=4.0, ceiling=40.0), name="test-grow")
    assert await bucket.rate() == 4.0
    await bucket.take()  # one request: no demand beyond the rate, no growth
    assert await bucket.rate() == 4.0
    done, _ = await _demand(bucket, 3.0)
    # Slow start: doubling each second the budget binds (4 → 8 → 16 → 32), never above the ceiling.
    assert 16.0 <= await bucket.rate() <= 40.0
    assert done >= 20


async def test_a_429_cuts_the_rate_once_per_congestion_and_503s_only_in_a_burst(redis_client):
    limits = AdaptiveRate(floor=2.0, ceiling=40.0, cut=0.5, hold_s=1.0, burst_503=3, window_503_s=2.0)
    bucket = AdaptiveBucket(_store(redis_client), limits, name="test-cut")
    await _demand(bucket, 2.5)
    before = await bucket.rate()
    assert before >= 8.0
    for _ in range(5):  # five requests in flight together all refused: one congestion event
        await bucket.refused(429)
    after = await bucket.rate()
    assert after == before * 0.5
    # No doubling any more after a 429: back towards 95 % of the rate that met it (half the gap a second),
    # then only a gentle probe above.
    await _demand(bucket, 1.5)
    assert after < await bucket.rate() <= 0.95 * before + 0.1
    # Two 503s are noise; the third within the window is congestion (no hold here: each event counts).
    quick = AdaptiveBucket(_store(redis_client), AdaptiveRate(floor=2.0, ceiling=40.0, cut=0.5, hold_s=0.0),
                           name="test-cut")
    rate = await quick.rate()
    await quick.refused(503)
    await quick.refused(503)
    assert await quick.rate() == rate
    await quick.refused(503)
    assert await quick.rate() == rate * 0.5
    # Never below the floor.
    for _ in range(8):
        await quick.refused(429)
    assert await quick.rate() == 2.0


async def test_503s_at_random_among_many_answers_are_no_burst(redis_client):
    """A HeadHunter that fails one request in twenty at random is not overloaded: three 503s among forty
    requests granted in the window (7.5 %) leave the rate alone; a third of them refused cuts it."""
    limits = AdaptiveRate(floor=2.0, ceiling=40.0, cut=0.5, hold_s=0.0, burst_503=3, window_503_s=2.0,
                          share_503=0.25)
    await _demand(AdaptiveBucket(_store(redis_client), limits, name="test-share"), 1.5)  # above the floor
    bucket = AdaptiveBucket(_store(redis_client), limits, burst=100, name="test-share")
    await bucket.refused(503)  # the window opens
    for _ in range(40):
        assert await bucket.try_take() == 0.0
    rate = await bucket.rate()
    await bucket.refused(503)
    await bucket.refused(503)
    assert await bucket.rate() == rate
    for _ in range(7):  # 10 of 40: a quarter
        await bucket.refused(503)
    assert await bucket.rate() == rate * 0.5


async def test_every_process_shares_the_learned_rate(redis_client):
    one = AdaptiveBucket(_store(redis_client), AdaptiveRate(floor=2.0, ceiling=40.0), name="test-shared")
    other = AdaptiveBucket(_store(redis_client), AdaptiveRate(floor=2.0, ceiling=40.0), name="test-shared")
    await _demand(one, 2.5)
    assert await other.rate() == await one.rate() > 2.0
    await other.refused(429)
    assert await one.rate() == await other.rate()


async def test_the_rate_finds_an_unknown_limit_with_few_refusals(redis_client):
    """HeadHunter's sliding one-second window at an unknown limit (the sandbox's limiter): the budget ends
    near it, and only a few requests are refused."""
    limit = 25.0
    window = SlidingWindowLimiter()
    bucket = AdaptiveBucket(_store(redis_client), AdaptiveRate(floor=2.0, ceiling=100.0), name="test-find")

    def answer() -> int:
        return 200 if window.allow("ip", limit) else 429

    done, refused = await _demand(bucket, 6.0, takers=8, answer=answer)
    rate = await bucket.rate()
    assert 0.7 * limit <= rate <= 1.2 * limit, rate
    # The slow start's overshoot costs a few refusals once (requests in flight together); then ~1 per cut.
    assert refused <= 12 and done >= 80, (refused, done)
