"""Two smart processes with the same item id (issue 14, What to build 16): entity references carry their
entityTypeId. After a switch from smart process A to B, moving B's own item 42 to «Отказ» must not discard
A's applicant on HeadHunter, and the Other responses of B's item 42 must not list A's applicant. The genuine
back-sync on the right entity still goes ahead. (Against real Redis; the API's 422 answers for `page=10**9`,
`applicant=` and mismatched types are exercised against the stack in tests/api/test_api_contract.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from rabota_common.entity_ref import EntityRef
from rabota_poller.backsync import back_sync
from rabota_ui.api import requested_entity
from rabota_ui.errors import ApiError

from tests.security.types_support import (
    PORTAL,
    SPA_A,
    SPA_B,
    Acted,
    moved_to_discard,
    new_store,
    runtime,
    spa_settings,
    written,
)


async def test_b_item_42_to_discard_does_not_discard_a_applicant(redis_client: Any) -> None:
    store = new_store(redis_client)
    await store.put_settings(PORTAL, spa_settings(SPA_A))
    await written(store, redis_client, SPA_A, "n-a", "applicant-a")
    # Switched to B; B's item 42 exists in Bitrix24 but the app never wrote it (a person's own item).
    await store.put_settings(PORTAL, spa_settings(SPA_B))
    rt = runtime(store, redis_client)
    assert await back_sync(rt, moved_to_discard(SPA_B)) == "not ours"
    # The same with an upgraded deployment's old untyped records of A's item 42.
    await redis_client.flushdb()
    await store.put_settings(PORTAL, spa_settings(SPA_B))
    await store.set_entity(PORTAL, "n-a", "smart_process:42:response:7")
    await redis_client.hset(store.key(PORTAL, "entity-info", "smart_process:42"),
                            mapping={"negotiation_id": "n-a", "url": f"/crm/type/{SPA_A}/details/42/"})
    assert await back_sync(rt, moved_to_discard(SPA_B)) == "not ours"
    # Even if B's item 42 names A's negotiation somewhere, the ledger's entity is A's: nothing moves.
    await redis_client.hset(store.key(PORTAL, "entity-info", f"{SPA_B}:42"), mapping={"negotiation_id": "n-a"})
    assert await back_sync(rt, moved_to_discard(SPA_B)) == "not this entity"
    await store.set_entity(PORTAL, "n-a", f"{SPA_A}:42:response:7")
    assert await back_sync(rt, moved_to_discard(SPA_B)) == "not this entity"

    # Genuine: B's item 42 written by the app for B's own negotiation goes on to Bitrix24 and HeadHunter.
    await written(store, redis_client, SPA_B, "n-b", "applicant-b")
    with pytest.raises(Acted):
        await back_sync(rt, moved_to_discard(SPA_B))


async def test_other_responses_of_b_item_42_never_list_a_applicant(redis_client: Any) -> None:
    store = new_store(redis_client)
    await written(store, redis_client, SPA_A, "n-a", "applicant-a")
    await store.put_settings(PORTAL, spa_settings(SPA_B))
    settings = await store.get_settings(PORTAL)
    b42 = requested_entity("smart_process", SPA_B, 42, settings)
    assert b42 == EntityRef(SPA_B, 42)
    # The documented form without entity_type_id means the current settings' smart process: B.
    assert requested_entity("smart_process", None, 42, settings) == b42
    assert await store.entity_applicant(PORTAL, b42) is None  # -> 404, not A's applicant
    await written(store, redis_client, SPA_B, "n-b", "applicant-b")
    assert await store.entity_applicant(PORTAL, b42) == "applicant-b"
    assert [str(r) for r, _ in await store.applicant_entities(PORTAL, "applicant-b")] == [f"{SPA_B}:42"]
    # Genuine: A's item 42, named with its type, still lists A's applicant.
    a42 = requested_entity("", SPA_A, 42, settings)
    assert await store.entity_applicant(PORTAL, a42) == "applicant-a"


@pytest.mark.parametrize("entity_type,etid,eid", [
    ("lead", SPA_B, 42), ("smart_process", 1, 42), ("smart_process", 3, 42), ("contact", None, 42),
    ("", None, 42), ("deal", None, 0), ("smart_process", -5, 42)])
def test_entity_and_type_must_agree(entity_type: str, etid: int | None, eid: int) -> None:
    with pytest.raises(ApiError) as err:
        requested_entity(entity_type, etid, eid, spa_settings(SPA_B))
    assert err.value.status == 422 and err.value.message


def test_smart_process_without_a_type_and_no_smart_process_settings_is_refused() -> None:
    with pytest.raises(ApiError) as err:
        requested_entity("smart_process", None, 42, {"entity_type": "lead"})
    assert err.value.status == 404
    assert requested_entity("lead", None, 5, None) == EntityRef(1, 5)
    assert requested_entity("deal", 2, 7, None) == EntityRef(2, 7)
