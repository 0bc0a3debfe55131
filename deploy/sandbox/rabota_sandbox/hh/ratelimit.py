"""Per-client-IP sliding one-second window (the maintainers' "about 10 req/s per IP")."""

from __future__ import annotations

import time
from collections import deque


class SlidingWindowLimiter:
    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}

    def reset(self) -> None:
        self._hits.clear()

    def allow(self, key: str, rps: float | None, now: float | None = None) -> bool:
        """Record a request from `key`; False when more than `rps` requests fell in the last second."""
        if rps is None or rps <= 0:
            return True
        t = time.monotonic() if now is None else now
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= t - 1.0:
            hits.popleft()
        if len(hits) >= rps:
            return False
        hits.append(t)
        return True
