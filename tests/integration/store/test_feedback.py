from __future__ import annotations

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
