from __future__ import annotations

from rabota_common.store import Store


async def test_state_is_single_use_and_bound_to_its_owner(store: Store) -> None:
    await store.remember_state("n1", ttl_s=60, owner="p:1")
    assert not await store.consume_state("n1", owner="p:2")  # another user's: refused, and used up
    assert not await store.consume_state("n1", owner="p:1")
    await store.remember_state("n2", ttl_s=60, owner="p:1")
    assert await store.consume_state("n2", owner="p:1")
    assert not await store.consume_state("n2", owner="p:1")
    assert 0 < await store.redis.ttl("rs:oauth-state:n3") or not await store.consume_state("n3")
