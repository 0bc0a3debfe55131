"""Fixtures of the integration tests that talk to Bitrix24: the emulator served over HTTP on a free port, and a
runtime with the real Bitrix24 client, a real Redis and that portal's token."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uvicorn
from rabota_common import hh_session
from rabota_common.b24_client import B24Client, encode_command
from rabota_common.bus import ensure_jetstream
from rabota_common.crypto import Crypto
from rabota_common.http import Http
from rabota_common.models import B24Token
from rabota_common.runtime import Runtime, build_runtime
from rabota_common.settings import Settings
from rabota_common.store import Store
from rabota_sandbox.b24 import B24SandboxConfig, create_app
from rabota_stack.processes import free_port
from rabota_ui.b24_routes import screening_commands, userfield_commands


@dataclass
class Sandbox:
    url: str
    http: httpx.AsyncClient
    token: str

    @property
    def endpoint(self) -> str:
        return f"{self.url}/portal/demo/rest/"

    async def rest(self, method: str, params: dict[str, Any]) -> Any:
        r = await self.http.post(f"{self.endpoint}{method}", json={**params, "auth": self.token})
        assert r.status_code == 200, r.text
        return r.json()["result"]

    async def entities(self, etid: int) -> list[dict[str, Any]]:
        r = await self.http.get(f"{self.url}/_sandbox/portals/demo/entities", params={"entity_type_id": etid})
        r.raise_for_status()
        return list(r.json())

    async def methods(self) -> set[str]:
        """Every REST method called so far, alone or inside a batch."""
        r = await self.http.get(f"{self.url}/_sandbox/stats", params={"portal": "demo"})
        r.raise_for_status()
        return set(r.json()["by_method"]) | set(r.json()["batched_commands"])


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(B24SandboxConfig(port=port, public_url=url, deliver_events=False,
                                      knobs={"rate": 100.0, "burst": 1000}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(1500):  # up to 30 s for the server to listen
            if server.started:
                break
            await asyncio.sleep(0.02)
        assert server.started, "the Bitrix24 sandbox did not start"
        async with httpx.AsyncClient(timeout=30) as http:
            r = await http.post(f"{url}/_sandbox/portals/demo/frame", json={"user_id": 1, "target": "install"})
            assert r.status_code == 200, r.text
            sb = Sandbox(url, http, r.json()["form"]["AUTH_ID"])
            cmds = {**userfield_commands(), **screening_commands()}  # the installer's fields, source, badge
            r = await http.post(f"{sb.endpoint}batch", json={"auth": sb.token, "cmd": {
                k: encode_command(m, p) for k, (m, p) in cmds.items()}})
            assert r.status_code == 200 and not r.json()["result"]["result_error"], r.text
            yield sb
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def rt(sandbox: Sandbox, redis_client: Any) -> AsyncIterator[Any]:
    """The writer's runtime: real Redis, the real Bitrix24 client, the sandbox portal's token."""
    settings = Settings(SANDBOX=True, B24_ALLOWED_HOSTS=sandbox.url.removeprefix("http://"))
    http = Http(settings)

    async def b24_token(portal: str, stale_token: str | None = None) -> B24Token:
        return B24Token(ok=True, access_token=sandbox.token, client_endpoint=sandbox.endpoint)

    yield SimpleNamespace(settings=settings, store=Store(redis_client, Crypto("k")),
                          b24=B24Client(http, settings), b24_token=b24_token, log=logging.getLogger("test"),
                          broker=None)
    await http.aclose()


@pytest.fixture
async def bus_rt(nats_url: str, redis_url: str) -> AsyncIterator[Runtime]:
    """A service runtime on a real NATS (streams laid out) and a real Redis, its broker connected."""
    await ensure_jetstream(nats_url)
    runtime = build_runtime("unit-test", Settings(SANDBOX=True, NATS_URL=nats_url, REDIS_URL=redis_url,
                                                  METRICS_PORT=0, MAX_DELIVER=3))
    await runtime.broker.connect()
    try:
        yield runtime
    finally:
        await runtime.broker.stop()
        await runtime.close()


@pytest.fixture(autouse=True)
def no_remembered_hh_token() -> Iterator[None]:
    """hh_session remembers each portal's HeadHunter token for a while, per process: a test starts without the
    token another test's scripted broker handed out for the same portal id."""
    hh_session._RECENT.clear()
    yield
    hh_session._RECENT.clear()
