"""The poll loop's schedule: each portal's slot."""

from __future__ import annotations

import zlib

from rabota_poller.poll import next_slot_s


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


def test_a_slot_is_at_least_half_an_interval_away() -> None:
    for now in range(1_700_000_000, 1_700_000_300, 7):
        wait = next_slot_s("a" * 32, 60, float(now))
        assert 30 <= wait <= 90 and (now + wait + zlib.crc32(b"a" * 32) % 60) % 60 == 0
    assert next_slot_s("p", 0.2, 5.0) >= 1  # a sub-second interval rounds up to one second
