from __future__ import annotations

from rabota_common.store import Store

from tests.integration.store.support import P1, P2


async def test_pending_webhooks_capped_per_portal_and_counted_once(store: Store) -> None:
    assert await store.webhook_pending_add(P1, "NEW:1", cap=2)
    assert await store.webhook_pending_add(P1, "NEW:1", cap=2)  # a redelivered copy counts once
    assert await store.webhook_pending_add(P1, "NEW:2", cap=2)
    assert not await store.webhook_pending_add(P1, "NEW:3", cap=2)
    assert await store.webhook_pending_add(P2, "NEW:3", cap=2)  # another portal has its own cap
    await store.webhook_done(P1, "NEW:1")
    assert await store.webhook_pending_add(P1, "NEW:3", cap=2)


async def test_old_entries_heal_by_themselves(store: Store) -> None:
    await store.redis.zadd(store.key(P1, "webhooks-pending"), {"lost:1": 1.0, "lost:2": 2.0})  # a crash's leftovers
    assert await store.webhook_pending_add(P1, "NEW:1", cap=2)


async def test_webhook_health_seen_and_missed(store: Store) -> None:
    assert await store.webhook_health(P1) == (None, None)
    await store.webhook_seen(P1, ttl_s=60)
    seen, missed = await store.webhook_health(P1)
    assert seen is not None and missed is None
    await store.webhook_missed(P1, ttl_s=60)
    seen_again, missed = await store.webhook_health(P1)
    assert seen_again == seen and missed is not None and missed >= seen
    assert await store.webhook_health(P2) == (None, None)
    portal_keys = await store.portal_keys(P1)
    assert {store.key(P1, "webhook", "seen"), store.key(P1, "webhook", "missed")} <= portal_keys
