"""Construction of the shared httpx client."""

from __future__ import annotations

import httpx

from rabota_common.settings import Settings


def make_http(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.HTTP_TIMEOUT_S, connect=10.0),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        follow_redirects=False,
    )
