"""The mapper's handlers: the view-limit wait."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rabota_mapper.handlers import until_view_limit_reset


def test_view_limit_waits_until_minsk_midnight() -> None:
    minsk = timezone(timedelta(hours=3))
    assert until_view_limit_reset(datetime(2025, 1, 1, 12, 0, tzinfo=minsk)) == 12 * 3600 + 120
    assert until_view_limit_reset(datetime(2025, 1, 1, 23, 50, tzinfo=minsk)) == 3600.0
