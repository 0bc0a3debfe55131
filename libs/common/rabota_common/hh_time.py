"""HeadHunter's timestamps (`2026-11-01T10:00:00+0300`, or with `Z`) as epoch seconds."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def hh_epoch(stamp: Any) -> float | None:
    """Epoch seconds of a HeadHunter timestamp; None when there is none or it is not one."""
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
