"""A service process before it serves: a SIGTERM then (nothing started, nothing in flight) ends it with exit
code 0, not Python's default death by the signal (-15). The service's own handler (its loop's, which drains
in-flight work) replaces this one once it runs."""

from __future__ import annotations

import signal
from types import FrameType


def exit_cleanly_until_served() -> None:
    signal.signal(signal.SIGTERM, _exit)


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
