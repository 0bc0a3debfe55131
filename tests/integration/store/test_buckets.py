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
