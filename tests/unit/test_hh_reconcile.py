"""Pure parts of the HeadHunter side: idle-vacancy fingerprints, the view-limit wait, poll slots."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rabota_mapper.handlers import until_view_limit_reset
from rabota_poller.listing import vacancy_fingerprint
from rabota_poller.poll import next_slot_s
from rabota_poller.reconcile import index_fingerprint, needs_sync


def test_needs_sync() -> None:
    assert needs_sync(None, "response")
    assert not needs_sync("response", "response")
    assert needs_sync("response", "interview")
    assert not needs_sync("?", "interview")  # rebuilt from Bitrix24: do not churn


def test_fingerprints_change_with_new_responses_and_moves() -> None:
    v = {"counters": {"responses": 3, "invitations": 1, "views": 10}}
    assert vacancy_fingerprint(v) == vacancy_fingerprint({"counters": {"responses": 3, "invitations": 1}})
    assert vacancy_fingerprint(v) != vacancy_fingerprint({"counters": {"responses": 4, "invitations": 1}})
    a = {"collections": [{"id": "response", "counters": {"total": 2}}, {"id": "interview", "counters": {"total": 0}}]}
    b = {"collections": [{"id": "response", "counters": {"total": 1}}, {"id": "interview", "counters": {"total": 1}}]}
    assert index_fingerprint(a) != index_fingerprint(b)


def test_view_limit_waits_until_minsk_midnight() -> None:
    minsk = timezone(timedelta(hours=3))
    assert until_view_limit_reset(datetime(2025, 1, 1, 12, 0, tzinfo=minsk)) == 12 * 3600 + 120
    assert until_view_limit_reset(datetime(2025, 1, 1, 23, 50, tzinfo=minsk)) == 3600.0


def test_poll_slots_spread_portals_and_keep_the_interval() -> None:
    portals = [f"member{i}" for i in range(100)]
    now = 1_700_000_000.0
    waits = [next_slot_s(p, 300, now) for p in portals]
    assert all(150 <= w <= 450 for w in waits)  # a first poll is followed by the slot, never at once
    assert len({(now + w) % 300 for w in waits}) > 50  # 100 portals do not poll together
    # In steady state a portal polls every interval, at the same moment of it.
    p = portals[0]
    first = now + next_slot_s(p, 300, now)
    assert next_slot_s(p, 300, first) == 300
    assert next_slot_s(p, 300, first + 4) == 296  # polled a tick late: the next poll keeps the slot
