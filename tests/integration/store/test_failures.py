from __future__ import annotations

from rabota_common.store import WAITING_TTL_S, Failure, Store

from tests.integration.store.support import P1, all_values


async def test_failures_sealed_listed_and_cleared(store: Store) -> None:
    await store.add_failure(P1, Failure(negotiation_id="n2", reason="b", at=2.0, data={"phone": "+375291112233"}))
    await store.add_failure(P1, Failure(negotiation_id="n1", reason="a", at=1.0))
    assert b"+375291112233" not in await all_values(store.redis)
    assert [f.negotiation_id for f in await store.failures(P1)] == ["n1", "n2"]
    assert await store.failed_negotiations(portal=P1) == {"n1", "n2"}
    await store.clear_failure(P1, "n1")
    assert await store.failed_negotiations(portal=P1) == {"n2"}


async def test_parked_work_comes_back_oldest_first(store: Store) -> None:
    await store.park(P1, "hh.negotiation.x", {"negotiation_id": "1", "email": "a@b.by"})
    await store.park(P1, "hh.negotiation.x", {"negotiation_id": "2"})
    assert b"a@b.by" not in await all_values(store.redis)
    assert await store.take_parked(P1, limit=1) == [("hh.negotiation.x", {"negotiation_id": "1", "email": "a@b.by"})]
    assert await store.take_parked(P1) == [("hh.negotiation.x", {"negotiation_id": "2"})]
    assert await store.take_parked(P1) == []


async def test_waiting_causes_recent_first_and_expiring(store: Store) -> None:
    await store.note_waiting(P1, "Битрикс24 недоступен", now=1000.0)
    await store.note_waiting(P1, "rabota.by недоступен", now=1100.0)
    assert await store.waiting(P1, now=1110.0) == ["rabota.by недоступен", "Битрикс24 недоступен"]
    assert await store.waiting(P1, now=1150.0) == ["rabota.by недоступен"]  # the other one is 150 s old
    assert 0 < await store.redis.ttl(store.key(P1, "waiting")) <= WAITING_TTL_S
    await store.clear_waiting(P1)
    assert await store.waiting(P1, now=1150.0) == []


async def test_retry_and_notice_claims_are_single_flight_and_tracked(store: Store) -> None:
    assert await store.claim_retry(P1, "f1", ttl_s=60)
    assert not await store.claim_retry(P1, "f1", ttl_s=60)
    await store.release_retry(P1, "f1")
    assert await store.claim_retry(P1, "f1", ttl_s=60)
    assert await store.claim_failure_notice(portal=P1, reason="Нет прав", ttl_s=60)
    assert not await store.claim_failure_notice(portal=P1, reason="Нет прав", ttl_s=60)
    assert await store.claim_failure_notice(portal=P1, reason="Другая причина", ttl_s=60)
    await store.release_failure_notice(portal=P1, reason="Нет прав")
    assert await store.claim_failure_notice(portal=P1, reason="Нет прав", ttl_s=60)
    keys = await store.portal_keys(P1)  # a CLEAN uninstall finds the claims by name
    assert store.key(P1, "retry", "f1") in keys and sum(":notified:" in k for k in keys) == 2
