from __future__ import annotations

from rabota_common.entity_ref import EntityRef, LedgerRef
from rabota_common.store import HhAccount, PortalRecord, Store, WrittenEntity

from tests.integration.store.support import P1, P2


async def _fill(store: Store, portal: str) -> None:
    await store.save_portal(PortalRecord(member_id=portal, domain="d", client_endpoint="e",
                                         webhook_secret=f"w{portal}"))
    await store.save_hh(portal, HhAccount(access_token="a", user_id=f"u{portal}"))
    await store.claim_hh_account(f"u{portal}", portal)
    import_id = await store.start_import(portal)
    await store.add_found(portal, import_id, ["1"])
    await store.record_created(portal, {"1": LedgerRef(EntityRef(2, 3), "response", 4)}, {"app": 5})
    await store.record_written(portal=portal, negotiation_id="1",
                               written=WrittenEntity(EntityRef(2, 3), "app", {"vacancy": "v", "url": "/"}))
    await store.remember_listing(portal=portal, vacancy_id="v1", fingerprint="f", ids={"1"}, ttl_s=60)
    await store.remember_resume(portal=portal, resume_id="r1", body={"resume": {}}, ttl_s=60)
    await store.add_feedback(portal, {"message": "m"})
    await store.note_waiting(portal, "Битрикс24 недоступен")


async def test_wipe_deletes_one_portal_and_nothing_else(store: Store) -> None:
    await _fill(store, P1)
    await _fill(store, P2)
    before = {k async for k in store.redis.scan_iter()}
    assert await store.wipe_portal(P1) > 0
    left = {k.decode() async for k in store.redis.scan_iter()}
    assert not [k for k in left if P1 in k], left
    assert await store.portals() == [P2] and await store.hh_account_owner(f"u{P1}") is None
    assert await store.portal_by_webhook_secret(f"w{P2}") == P2
    assert left == {k.decode() for k in before if P1.encode() not in k}


async def test_reset_sync_state_keeps_settings_portal_and_crm_data(store: Store) -> None:
    await _fill(store, P1)
    await store.reset_sync_state(P1)
    assert await store.known_negotiations(P1) == set() and (await store.get_import(P1)).state == "idle"
    assert await store.get_contact(P1, "app") is None
    assert await store.get_portal(P1) is not None and await store.get_hh(P1) is not None
    assert await store.entity_applicant(P1, EntityRef(2, 3)) == "app"  # the CRM's entities are still ours
