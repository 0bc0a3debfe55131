"""Wiring of the ui: the one public HTTP surface (DESIGN §7)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from rabota_common.bus import ensure_jetstream
from rabota_common.runtime import build_runtime
from rabota_common.settings import Settings

from rabota_ui import api, b24_routes, hh_routes
from rabota_ui.errors import install_handlers


def create_app(settings: Settings) -> FastAPI:
    rt = build_runtime("ui", settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_jetstream(settings.NATS_URL, replicas=settings.NATS_STREAM_REPLICAS)
        await rt.broker.connect()
        yield
        await rt.broker.stop()
        await rt.close()

    app = FastAPI(title="rabota-sync ui", version="0.1.0", lifespan=lifespan)
    app.state.rt = rt
    install_handlers(app)
    app.include_router(b24_routes.router)
    app.include_router(hh_routes.router)
    app.include_router(api.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    return app
