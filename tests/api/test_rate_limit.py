"""Public endpoints are rate-limited per client IP: over its budget a client gets 429 `{"error","message"}`
with Retry-After, while another client (another loopback address) and the session API are not affected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rabota_stack.stack import Stack, StackConfig

from tests.api.test_api_contract import assert_error

BURST = 5
PUBLIC = [("POST", "/hh/webhook/some-secret"), ("POST", "/b24/install"), ("POST", "/b24/app"),
          ("POST", "/b24/events"), ("GET", "/hh/callback")]


@pytest.fixture
def ui_only(tmp_path: Path) -> Iterator[Stack]:
    env = {"PUBLIC_RATE_PER_IP": "0.5", "PUBLIC_BURST_PER_IP": str(BURST)}
    stack = Stack(StackConfig.ephemeral(tmp_path / "stack", extra_env=env, services=("ui",)))
    stack.start()
    yield stack
    stack.stop()


async def test_public_endpoints_limited_per_client(ui_only: Stack) -> None:
    async with httpx.AsyncClient(base_url=ui_only.public_url) as first, httpx.AsyncClient(
            base_url=ui_only.public_url, transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2")) as second:
        for method, path in PUBLIC:
            answers = [await first.request(method, path) for _ in range(BURST + 2)]
            assert all(r.status_code != 429 for r in answers[:BURST]), [r.status_code for r in answers]
            for r in answers[BURST:]:
                assert_error(r, 429, "rate_limited")
                assert int(r.headers["Retry-After"]) >= 1
            # Another client has its own budget.
            r = await second.request(method, path)
            assert r.status_code != 429, (path, r.text)
        # The session API is not a public endpoint: it answers 401, not 429.
        for _ in range(BURST + 2):
            assert (await first.get("/api/status")).status_code == 401
