from __future__ import annotations

import json

from rabota_common.store import Store

from tests.integration.store.support import P1, P2, all_values


async def test_feedback_sealed_capped_and_listed(store: Store) -> None:
    for n in range(4):
        await store.add_feedback(P1, {"message": f"Текст {n}", "contact": "me@x.by"}, keep=3)
    assert b"me@x.by" not in await all_values(store.redis)
    entries = await store.feedback(P1)
    assert [e["message"] for e in entries] == ["Текст 1", "Текст 2", "Текст 3"]
    assert all(e["portal"] == P1 for e in entries)
    await store.add_feedback(P2, {"message": "x"})
    assert await store.feedback_portals() == [P1, P2]
    await store.wipe_portal(P1)
    assert await store.feedback_portals() == [P2] and await store.feedback(P1) == []


async def test_an_older_versions_global_feedback_moves_into_the_portals_sealed_lists(store: Store) -> None:
    """The global `rs:feedback` list of older versions (plaintext, then sealed) moves, oldest first, into each
    portal's encrypted list; nothing of it stays readable in Redis, and a second run moves nothing."""
    await store.add_feedback(P1, {"message": "новый"})
    await store.redis.rpush("rs:feedback", json.dumps({"message": "старый", "contact": "old@x.by", "portal": P1},
                                                      ensure_ascii=False))
    await store.redis.rpush("rs:feedback", store.seal_json({"message": "запечатанный", "portal": P2}))
    assert await store.migrate_legacy_feedback() == 2
    assert await store.redis.exists("rs:feedback") == 0
    assert b"old@x.by" not in await all_values(store.redis)
    assert [e["message"] for e in await store.feedback(P1)] == ["новый", "старый"]
    assert [e["message"] for e in await store.feedback(P2)] == ["запечатанный"]
    assert await store.feedback_portals() == [P1, P2]
    assert await store.migrate_legacy_feedback() == 0
