"""crm-writer pieces against a real Redis: ledger refs, notification dedupe, SPA field names."""

from __future__ import annotations

from typing import Any

from rabota_common.crypto import Crypto
from rabota_common.entity_ref import EntityRef
from rabota_common.store import Store

P1 = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"  # member_ids: 32 lowercase hex characters
P2 = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"  # member_ids: 32 lowercase hex characters


async def test_entity_records_are_typed_and_old_ones_still_read(redis_client: Any) -> None:
    store = Store(redis_client, Crypto("k"))
    p = "e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5"  # a member_id
    info = {"vacancy": "V", "status": "S", "created_at": "2026-01-01", "negotiation_id": "n1"}
    # Before the upgrade: an untyped lead, and item 42 of smart process 1038 (its URL names the type).
    await redis_client.hset(store.key(p, "by-entity"), mapping={"lead:5": "app1", "smart_process:42": "app1"})
    await redis_client.zadd(store.key(p, "applicant", "app1"), {"lead:5": 5, "smart_process:42": 42})
    await redis_client.hset(store.key(p, "entity-info", "lead:5"), mapping=dict(info, url="/crm/lead/details/5/"))
    await redis_client.hset(store.key(p, "entity-info", "smart_process:42"),
                            mapping=dict(info, url="/crm/type/1038/details/42/", negotiation_id="n2"))
    assert await store.entity_applicant(p, EntityRef(1, 5)) == "app1"
    assert await store.entity_negotiation(p, EntityRef(1038, 42)) == "n2"
    # Item 42 of another smart process, and a deal 5, are not those entities.
    assert await store.entity_applicant(p, EntityRef(1040, 42)) is None
    assert await store.entity_negotiation(p, EntityRef(1040, 42)) is None
    assert await store.entity_applicant(p, EntityRef(2, 5)) is None
    assert await store.entity_applicant(p, EntityRef(0, 42)) is None
    assert [(str(r), k) for r, k in await store.applicant_entities(p, "app1")] == [
        ("1:5", "lead:5"), ("1038:42", "smart_process:42")]
    # Written again after the upgrade: typed keys, the old lead record superseded, each entity listed once.
    pipe = redis_client.pipeline(transaction=False)
    store.queue_entity_written(pipe, p, EntityRef(1, 5), "app1", dict(info, url="/crm/lead/details/5/"))
    store.queue_entity_written(pipe, p, EntityRef(1040, 42), "app2", dict(info, url="/crm/type/1040/details/42/"))
    await pipe.execute()
    assert not await redis_client.hexists(store.key(p, "by-entity"), "lead:5")
    assert await store.entity_applicant(p, EntityRef(1, 5)) == "app1"
    assert await store.entity_applicant(p, EntityRef(1040, 42)) == "app2"
    assert await store.entity_applicant(p, EntityRef(1038, 42)) == "app1"
    assert [str(r) for r, _ in await store.applicant_entities(p, "app1")] == ["1:5", "1038:42"]
    assert [str(r) for r, _ in await store.applicant_entities(p, "app2")] == ["1040:42"]
    # An old smart-process entry whose records now belong to someone else is not listed for this applicant.
    await redis_client.hset(store.key(p, "by-entity"), "smart_process:42", "app3")
    assert [str(r) for r, _ in await store.applicant_entities(p, "app1")] == ["1:5"]
