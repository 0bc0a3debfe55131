from __future__ import annotations

from rabota_common.store import Store

from tests.integration.store.support import P1, P2


async def test_slots_runs_counts_and_fingerprints(store: Store) -> None:
    assert await store.due_portals(portals=[]) == []
    assert await store.due_portals(portals=[P1, P2]) == [P1, P2]
    assert await store.claim_poll_slot(portal=P1, until_next_s=60)
    assert not await store.claim_poll_slot(portal=P1, until_next_s=60)
    assert await store.due_portals(portals=[P1, P2]) == [P2]
    assert await store.claim_poll_run(portal=P1, owner="poller-1", ttl_s=60)
    assert not await store.claim_poll_run(portal=P1, owner="poller-2", ttl_s=60)
    await store.release_poll_run(portal=P1)
    assert await store.claim_poll_run(portal=P1, owner="poller-2", ttl_s=60)
    assert [await store.next_poll_count(portal=P1) for _ in range(3)] == [1, 2, 3]
    await store.set_poll_fingerprint(portal=P1, vacancy_id="v1", fingerprint="a")
    assert await store.poll_fingerprints(portal=P1) == {"v1": "a"}


async def test_a_negotiation_is_sent_once_per_state(store: Store) -> None:
    assert await store.claim_poll_sent(portal=P1, negotiation_id="1", state="response", ttl_s=60)
    assert not await store.claim_poll_sent(portal=P1, negotiation_id="1", state="response", ttl_s=60)
    assert await store.claim_poll_sent(portal=P1, negotiation_id="1", state="interview", ttl_s=60)
    assert store.key(P1, "poll", "sent", "1:response") in await store.portal_keys(P1)


async def test_a_claimed_slot_moves_to_another_interval(store: Store) -> None:
    assert await store.claim_poll_slot(portal=P1, until_next_s=3600)
    await store.move_poll_slot(portal=P1, until_next_s=30)
    assert 0 < await store.redis.ttl(store.key(P1, "poll", "due")) <= 30
    assert await store.due_portals(portals=[P1]) == []
