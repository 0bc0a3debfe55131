"""Construction of the shared httpx client and a small async rate limiter."""

from __future__ import annotations

import asyncio
import time

import httpx

from rabota_common.settings import Settings


def make_http(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.HTTP_TIMEOUT_S, connect=10.0),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        follow_redirects=False,
    )


class RateLimiter:
    """Spaces calls to at most `rate` per second within one process."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            now = time.monotonic()
            wait = self._next - now
            self._next = max(now, self._next) + self._interval
        if wait > 0:
            await asyncio.sleep(wait)
