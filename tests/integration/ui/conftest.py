"""The ui in process: its real FastAPI app (routes, middlewares, error handlers) on the `bus_rt` runtime (a real
NATS and Redis), served through httpx's ASGI transport, with an installed portal and sessions of its users."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from rabota_common.runtime import Runtime
from rabota_common.store import PortalRecord
from rabota_ui.app import create_app
from rabota_ui.deps import new_session

PORTAL = "b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7"  # a member_id


@dataclass
class Ui:
    http: httpx.AsyncClient
    rt: Runtime
    portal: str
    generation: str

    def session(self, user_id: int = 1, is_admin: bool = True, generation: str | None = None, **kw: object) -> str:
        token = new_session(self.rt, self.portal, user_id, is_admin, generation or self.generation, **kw)  # type: ignore[arg-type]
        return f"Bearer {token}"


@pytest.fixture
async def ui(bus_rt: Runtime) -> AsyncIterator[Ui]:
    app = create_app(bus_rt.settings)
    await app.state.rt.close()  # the app's own runtime is replaced by the connected one (no lifespan here)
    app.state.rt = bus_rt
    await bus_rt.store.save_portal(PortalRecord(
        member_id=PORTAL, domain="demo.bitrix24.by", client_endpoint="https://demo.bitrix24.by/rest/",
        access_token="a", refresh_token="r", expires_at=time.time() + 3600, generation="g1", installed_by=1))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://ui") as http:
        yield Ui(http, bus_rt, PORTAL, "g1")
