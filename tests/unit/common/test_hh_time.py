"""HeadHunter's timestamps as epoch seconds."""

from __future__ import annotations

from rabota_common.hh_time import hh_epoch


def test_offsets_and_z_are_read_and_anything_else_is_none() -> None:
    assert hh_epoch("2026-11-01T10:00:00+0300") == hh_epoch("2026-11-01T07:00:00Z") == 1793516400.0
    assert hh_epoch(None) is None and hh_epoch("") is None and hh_epoch("вчера") is None and hh_epoch(5) is None
