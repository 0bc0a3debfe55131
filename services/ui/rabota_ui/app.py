"""Wiring of the ui: the one public HTTP surface (DESIGN §7)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from rabota_common.bus import ensure_jetstream
from rabota_common.metrics import OpsServer, readiness
from rabota_common.runtime import Runtime, build_runtime
from rabota_common.settings import Settings
from rabota_common.telemetry import scrub_access_log

from rabota_ui import api, b24_routes, card_actions, card_chat, hh_routes
from rabota_ui.bodylimit import BodyLimit
from rabota_ui.errors import install_handlers

OPS_PATHS = ("/healthz", "/readyz")


async def migrate_feedback(rt: Runtime) -> None:
    """An older version's global feedback list moves into the portals' encrypted lists (once; Redis away: next
    start)."""
    try:
        moved = await rt.store.migrate_legacy_feedback()
    except Exception:
        rt.log.warning("feedback of an older version not moved yet (Redis unavailable)", exc_info=True)
        return
    if moved:
        rt.log.info("moved %s feedback entries of an older version into their portals' encrypted lists", moved)


def create_app(settings: Settings) -> FastAPI:
    rt = build_runtime("ui", settings)
    # /metrics is not on the public port: it is served, with /healthz and /readyz, on METRICS_PORT.
    ops = OpsServer(rt.broker, rt.store, settings.METRICS_PORT) if settings.METRICS_PORT else None
    scrub_access_log()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scrub_access_log()  # uvicorn configures its loggers before the app starts
        if ops is not None:
            await ops.start()
        await ensure_jetstream(settings.NATS_URL, replicas=settings.NATS_STREAM_REPLICAS, settings=settings)
        await rt.broker.connect()
        await migrate_feedback(rt)
        yield
        await rt.broker.stop()
        if ops is not None:
            await ops.stop()
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
    app.include_router(card_actions.router)
    app.include_router(card_chat.router)

    # Probes also on the public port (the ops port serves them too, with /metrics).
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        state = await readiness(rt.broker, rt.store)
        ok = all(state.values())
        return JSONResponse({"ok": ok, **state}, status_code=200 if ok else 503)

    return app
