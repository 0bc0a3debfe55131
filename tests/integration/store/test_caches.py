from __future__ import annotations

from rabota_common.crypto import Crypto
from rabota_common.store import Store

from tests.integration.store.support import P1, all_values


async def test_new_responses_seen(store: Store) -> None:
    assert await store.get_new_responses_seen(P1) is None
    await store.put_new_responses_seen(P1, {"2", "1"}, ttl_s=60)
    assert await store.get_new_responses_seen(P1) == {"1", "2"}


async def test_resume_cache_sealed_tracked_and_unreadable_with_another_key(store: Store) -> None:
    assert await store.cached_resume(portal=P1, resume_id="r1") is None
    body = {"resume": {"first_name": "Иван", "phone": "+375291112233"}, "pdf": None, "pdf_data": None}
    await store.remember_resume(portal=P1, resume_id="r1", body=body, ttl_s=60)
    assert b"+375291112233" not in await all_values(store.redis)
    assert await store.cached_resume(portal=P1, resume_id="r1") == body
    assert store.key(P1, "resume-cache", "r1") in await store.portal_keys(P1)
    other = Store(store.redis, Crypto("another-key"))
    assert await other.cached_resume(portal=P1, resume_id="r1") is None  # fetched again, never an error


async def test_listing_cache_answers_only_for_the_same_fingerprint(store: Store) -> None:
    await store.remember_listing(portal=P1, vacancy_id="v1", fingerprint="[3, 1]", ids={"1", "2"}, ttl_s=60)
    await store.remember_listing(portal=P1, vacancy_id="v2", fingerprint="[0, 0]", ids=set(), ttl_s=60)
    assert await store.cached_listing(portal=P1, vacancy_id="v1", fingerprint="[3, 1]") == {"1", "2"}
    assert await store.cached_listing(portal=P1, vacancy_id="v1", fingerprint="[4, 1]") is None
    assert await store.cached_listing(portal=P1, vacancy_id="v2", fingerprint="[0, 0]") == set()
    assert sorted(await store.listing_vacancies(portal=P1)) == ["v1", "v2"]
    assert store.key(P1, "listing", "ids", "v1") in await store.portal_keys(P1)


async def test_spa_fields(store: Store) -> None:
    assert await store.spa_fields_type(portal=P1, entity_type_id=1040) is None
    await store.remember_spa_fields(portal=P1, entity_type_id=1040, type_id=7)
    assert await store.spa_fields_type(portal=P1, entity_type_id=1040) == 7
    assert store.key(P1, "spa-fields-2", "1040") in await store.portal_keys(P1)


async def test_a_prefetched_resume_is_not_written_over(store: Store) -> None:
    first = {"resume": {"id": "r2"}, "pdf": None, "pdf_data": None, "pdf_pending": True}
    assert await store.remember_resume(portal=P1, resume_id="r2", body=first, ttl_s=60, only_new=True)
    later = {"resume": {"id": "r2", "x": 1}, "pdf": None, "pdf_data": None}
    assert not await store.remember_resume(portal=P1, resume_id="r2", body=later, ttl_s=60, only_new=True)
    assert await store.cached_resume(portal=P1, resume_id="r2") == first
    assert await store.remember_resume(portal=P1, resume_id="r2", body=later, ttl_s=60)
    assert await store.cached_resume(portal=P1, resume_id="r2") == later
