from __future__ import annotations

from rabota_common.store import Store

from tests.integration.store.support import P1


async def test_found_walked_and_counted_once(store: Store) -> None:
    import_id = await store.start_import(P1)
    assert await store.add_found(P1, import_id, ["1", "2", "2"]) == ["1", "2"]
    assert await store.add_found(P1, "another-import", ["9"]) == []  # not the current import: nothing
    assert await store.already_found(P1, ["1", "3"]) == {"1"}
    assert await store.import_found(portal=P1) == {"1", "2"}
    assert await store.count_listing_failure(portal=P1) == 1
    assert await store.count_listing_failure(portal=P1) == 2
    await store.mark_walked(P1, import_id, "v1")  # progress: the failure count starts again
    assert await store.count_listing_failure(portal=P1) == 1
    assert await store.walked_vacancies(P1, import_id) == {"v1"}
    await store.count_result(P1, import_id, "1", ok=True)
    await store.count_result(P1, import_id, "1", ok=True)  # a redelivery
    assert (await store.get_import(P1)).state == "running"
    await store.finish_listing(P1, import_id)
    await store.count_result(P1, import_id, "2", ok=False)
    progress = await store.get_import(P1)
    assert (progress.found, progress.processed, progress.imported, progress.failed, progress.state) == (
        2, 2, 1, 1, "done")
    assert progress.listing_done and progress.finished_at > 0


async def test_a_new_import_starts_from_nothing(store: Store) -> None:
    first = await store.start_import(P1)
    await store.add_found(P1, first, ["1"])
    await store.mark_walked(P1, first, "v1")
    second = await store.start_import(P1)
    assert second != first
    assert await store.import_found(portal=P1) == set() and await store.walked_vacancies(P1, second) == set()
    assert await store.walked_vacancies(P1, first) == set()
