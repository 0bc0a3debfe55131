"""Actions taken from the card and bulk-rejection offers (rabota_common.store.actions) against a real Redis: done
once per negotiation and action, one in flight per negotiation, the comment claimed once, offers and run counters,
and a CLEAN uninstall that wipes them for one portal only."""

from __future__ import annotations

from rabota_common.store import PortalRecord, Store

from tests.integration.store.support import P1, P2


async def test_actions_are_recorded_once_and_claimed_one_at_a_time(store: Store) -> None:
    assert await store.action_done(P1, "501", "interview") is None
    assert await store.claim_action(P1, "501")
    assert not await store.claim_action(P1, "501")  # a second click while the first is in flight
    assert await store.claim_action(P1, "502") and await store.claim_action(P2, "501")
    await store.record_action(P1, "501", "interview")
    await store.release_action(P1, "501")
    assert await store.claim_action(P1, "501")
    done = await store.action_done(P1, "501", "interview")
    assert done is not None and done > 0
    assert await store.action_done(P1, "501", "discard_by_employer") is None
    assert await store.action_done(P2, "501", "interview") is None
    assert await store.claim_action_comment(P1, "501", "interview")
    assert not await store.claim_action_comment(P1, "501", "interview")
    await store.release_action_comment(P1, "501", "interview")
    assert await store.claim_action_comment(P1, "501", "interview")


async def test_bulk_offers_and_runs(store: Store) -> None:
    offer = {"vacancy_id": "900", "vacancy_name": "Курьер", "negotiation_ids": ["501", "502"], "at": 1.0}
    await store.put_bulk_offer(P1, "vacancy-900", offer)
    assert await store.bulk_offers(P1) == {"vacancy-900": offer}
    assert await store.bulk_offer(P1, "vacancy-900") == offer and await store.bulk_offer(P2, "vacancy-900") is None
    assert await store.bulk_run(P1, "r1") == {}
    assert await store.bulk_progress(P1, "r1", total=2) == {"total": 2}
    await store.bulk_progress(P1, "r1", done=1)
    assert await store.bulk_progress(P1, "r1", failed=1) == {"total": 2, "done": 1, "failed": 1}
    assert await store.bulk_run(P1, "r1") == {"total": 2, "done": 1, "failed": 1}
    assert await store.drop_bulk_offer(P1, "vacancy-900") and not await store.drop_bulk_offer(P1, "vacancy-900")


async def test_a_clean_uninstall_wipes_one_portal(store: Store) -> None:
    for member in (P1, P2):
        await store.save_portal(PortalRecord(member_id=member, domain=member[:4], client_endpoint="e"))
        await store.claim_action(member, "501")
        await store.record_action(member, "501", "interview")
        await store.claim_action_comment(member, "501", "interview")
        await store.put_bulk_offer(member, "vacancy-900", {"negotiation_ids": ["501"]})
        await store.bulk_progress(member, "r1", total=1)
    await store.wipe_portal(P1)
    assert await store.action_done(P1, "501", "interview") is None and await store.bulk_offers(P1) == {}
    assert await store.bulk_run(P1, "r1") == {} and await store.claim_action(P1, "501")
    assert await store.action_done(P2, "501", "interview") is not None and await store.bulk_offers(P2)
