"""Wiring of the ui: the one public HTTP surface (DESIGN §7)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from rabota_common.bus import ensure_jetstream
from rabota_common.metrics import metrics_text, readiness
from rabota_common.runtime import build_runtime
from rabota_common.settings import Settings

from rabota_ui import api, b24_routes, hh_routes
from rabota_ui.bodylimit import BodyLimit
from rabota_ui.errors import install_handlers

OPS_PATHS = ("/healthz", "/readyz", "/metrics")


def create_app(settings: Settings) -> FastAPI:
    rt = build_runtime("ui", settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_jetstream(settings.NATS_URL, replicas=settings.NATS_STREAM_REPLICAS)
        await rt.broker.connect()
        yield
        await rt.broker.stop()
        await rt.close()

    # Probes come every few seconds: no spans for them.
    app = FastAPI(title="rabota-sync ui", version="0.1.0", lifespan=lifespan,
                  telemetry={"exclude": lambda scope: scope.get("path") in OPS_PATHS})
    app.state.rt = rt
    install_handlers(app)
    # Outermost but for Starlette's own error middleware: 413 before any body is parsed.
    app.add_middleware(BodyLimit, limit=settings.MAX_BODY_BYTES, webhook_limit=settings.WEBHOOK_MAX_BODY_BYTES)
    app.include_router(b24_routes.router)
    app.include_router(hh_routes.router)
    app.include_router(api.router)

    # Operations endpoints (the other services serve the same paths on METRICS_PORT).
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        state = await readiness(rt.broker, rt.redis)
        ok = all(state.values())
        return JSONResponse({"ok": ok, **state}, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(await metrics_text(rt.broker), media_type=CONTENT_TYPE_LATEST)

    return app
