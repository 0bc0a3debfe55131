"""The two limits of the cloud REST API: the per-portal leaky bucket (QUERY_LIMIT_EXCEEDED) and the
per-method operating-time budget over 10 minutes (OPERATION_TIME_LIMIT)."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from .portal import Portal, RestError

WINDOW_S = 600.0


def bucket_admit(portal: Portal, knobs: dict[str, Any], now: float | None = None) -> None:
    """+1 per HTTP request, drains `rate`/s; once the counter exceeds `burst` the request is refused
    (refused requests do not add)."""
    now = time.monotonic() if now is None else now
    rate = float(knobs.get("rate", 2.0))
    burst = float(knobs.get("burst", 50))
    elapsed = max(0.0, now - portal.bucket_at)
    portal.bucket_level = max(0.0, portal.bucket_level - elapsed * rate)
    portal.bucket_at = now
    if portal.bucket_level > burst:
        portal.stats.bucket_refused += 1
        raise RestError("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)
    portal.bucket_level += 1.0
    portal.stats.max_bucket_level = max(portal.stats.max_bucket_level, portal.bucket_level)


def _entries(portal: Portal, method: str, now: float) -> deque[tuple[float, float]]:
    """The method's calls of the last WINDOW_S; their summed cost is kept in `portal.optime_used` as calls
    enter and leave the window (summing the window on every call costs O(calls) per call: an import of
    10 000 responses made the sandbox the bench's busiest process)."""
    q = portal.optime.setdefault(method, deque())
    used = portal.optime_used.get(method, 0.0)
    while q and q[0][0] <= now - WINDOW_S:
        used -= q.popleft()[1]
    portal.optime_used[method] = used if q else 0.0  # an empty window is exactly 0, whatever rounding left
    return q


def optime_check(portal: Portal, method: str, knobs: dict[str, Any], now: float | None = None) -> None:
    now = time.time() if now is None else now
    _entries(portal, method, now)
    used = portal.optime_used[method]
    if used > float(knobs.get("operation_time_limit_s", 480.0)):
        # limits.md: per app and per method; `operating_reset_at` is when the oldest basket drops.
        q = portal.optime[method]
        raise RestError("OPERATION_TIME_LIMIT", f"Method {method} is blocked due to operation time limit.", 429,
                        {"time": {"operating": used, "operating_reset_at": q[0][0] + WINDOW_S if q else now}})


def optime_add(portal: Portal, method: str, cost: float, now: float | None = None) -> tuple[float, float]:
    """Record a call; returns (operating, operating_reset_at)."""
    now = time.time() if now is None else now
    q = _entries(portal, method, now)
    q.append((now, cost))
    used = portal.optime_used[method] = portal.optime_used[method] + cost
    return used, q[0][0] + WINDOW_S


def call_cost(knobs: dict[str, Any]) -> float:
    return float(knobs.get("operation_cost_s", 0.01)) + float(knobs.get("latency_ms", 0)) / 1000.0
