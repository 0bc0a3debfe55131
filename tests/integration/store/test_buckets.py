from __future__ import annotations

from rabota_common.store import Store


async def test_a_unit_is_taken_while_there_is_room(store: Store) -> None:
    assert await store.take_unit(bucket="t", rate=1.0, burst=2, bulk=False, grace_s=0.25) == 0.0
    assert await store.take_unit(bucket="t", rate=1.0, burst=2, bulk=False, grace_s=0.25) == 0.0
    wait = await store.take_unit(bucket="t", rate=1.0, burst=2, bulk=False, grace_s=0.25)
    assert 0.0 < wait <= 1.0
    # The live taker told to wait holds the next unit: a bulk taker waits at least as long.
    assert await store.take_unit(bucket="t", rate=1.0, burst=2, bulk=True, grace_s=0.25) >= wait
    assert await store.take_unit(bucket="other", rate=1.0, burst=1, bulk=True, grace_s=0.25) == 0.0


async def test_the_adaptive_bucket_keeps_its_rate_and_is_cut_on_a_refusal(store: Store) -> None:
    assert await store.adaptive_rate(bucket="a") is None
    limits = {"floor": 2.0, "ceiling": 40.0, "burst": 1, "grace_s": 0.25, "step": 0.02, "accel_s": 10.0}
    wait, rate = await store.take_adaptive_unit(bucket="a", bulk=False, **limits)
    assert wait == 0.0 and rate == 2.0
    assert await store.adaptive_rate(bucket="a") == 2.0
    refusal = {"floor": 2.0, "cut": 0.9, "hold_s": 1.0, "burst_503": 3, "window_503_s": 2.0}
    assert await store.refuse_adaptive_unit(bucket="a", status=503, **refusal) is None  # one 503 is no burst
    assert await store.refuse_adaptive_unit(bucket="a", status=429, **refusal) == 2.0  # halved, at the floor
    assert await store.refuse_adaptive_unit(bucket="a", status=429, **refusal) is None  # the same congestion
