"""What every service builds at start: settings, telemetry, broker, store, HTTP clients, token broker client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from faststream import FastStream
from faststream.nats import NatsBroker
from opentelemetry.sdk.trace import TracerProvider
from pydantic import BaseModel
from redis.asyncio import Redis

from rabota_common import subjects
from rabota_common.b24_client import B24Client
from rabota_common.budget import SharedBucket
from rabota_common.bus import ensure_jetstream, make_broker
from rabota_common.crypto import Crypto
from rabota_common.hh_client import HhClient
from rabota_common.http import Http, make_http
from rabota_common.metrics import OpsServer
from rabota_common.models import B24Token, HhToken, TokenRequest
from rabota_common.settings import Settings
from rabota_common.store import Store
from rabota_common.telemetry import setup_logging, setup_telemetry

R = TypeVar("R", bound=BaseModel)


@dataclass
class Runtime:
    service: str
    settings: Settings
    tracer_provider: TracerProvider
    broker: NatsBroker
    redis: Redis
    store: Store
    http: Http
    hh: HhClient
    b24: B24Client
    crypto: Crypto
    log: logging.Logger

    async def close(self) -> None:
        await self.http.aclose()
        await self.redis.aclose()

    async def _request(self, subject_name: str, body: BaseModel, reply: type[R]) -> R:
        response = await self.broker.request(body, subject_name, timeout=30.0)
        return reply.model_validate_json(response.body)

    async def b24_token(self, portal: str, stale_token: str | None = None) -> B24Token:
        """A valid Bitrix24 access token for the portal from the auth service."""
        return await self._request(subjects.AUTH_B24_TOKEN, TokenRequest(portal=portal, stale_token=stale_token),
                                   B24Token)

    async def hh_token(self, portal: str, stale_token: str | None = None) -> HhToken:
        return await self._request(subjects.AUTH_HH_TOKEN, TokenRequest(portal=portal, stale_token=stale_token),
                                   HhToken)

    async def hh_revoked(self, portal: str, token: str | None) -> HhToken:
        """Report that HeadHunter refused `token` as revoked; the broker verifies and marks the account."""
        return await self._request(subjects.AUTH_HH_REVOKED, TokenRequest(portal=portal, stale_token=token), HhToken)


def build_runtime(service: str, settings: Settings) -> Runtime:
    log = setup_logging(service, settings.LOG_LEVEL)
    provider = setup_telemetry(service, settings)
    crypto = Crypto(settings.APP_SECRET_KEY.get_secret_value(), settings.old_secret_keys)
    redis = Redis.from_url(settings.REDIS_URL)
    http = make_http(settings)
    return Runtime(
        service=service,
        settings=settings,
        tracer_provider=provider,
        broker=make_broker(settings, provider),
        redis=redis,
        store=Store(redis, crypto),
        http=http,
        hh=HhClient(http, settings, throttle=SharedBucket(redis, settings.HH_RATE, settings.HH_BURST, margin=0,
                                                                  api="hh").take),
        b24=B24Client(http, settings, throttle=SharedBucket(redis, settings.B24_RATE, settings.B24_BURST).take),
        crypto=crypto,
        log=log,
    )


Loop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def service_app(rt: Runtime, loops: Sequence[Loop] = (), drain_s: float = 60.0) -> FastStream:
    """The FastStream app of a service: health and metrics endpoint (METRICS_PORT) and JetStream layout before
    consumers start, background loops started after them and drained (asked to stop, then awaited) on SIGTERM,
    clients closed last."""
    app = FastStream(rt.broker, logger=rt.log)
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    ops = OpsServer(rt.broker, rt.redis, rt.settings.METRICS_PORT) if rt.settings.METRICS_PORT else None

    @app.on_startup
    async def _layout() -> None:
        if ops is not None:  # up first: /healthz answers, /readyz says 503 until connected
            await ops.start()
        await ensure_jetstream(rt.settings.NATS_URL, replicas=rt.settings.NATS_STREAM_REPLICAS,
                               settings=rt.settings)

    @app.after_startup
    async def _start_loops() -> None:
        tasks.extend(asyncio.create_task(loop(stop)) for loop in loops)

    @app.on_shutdown
    async def _drain() -> None:
        stop.set()
        for task in tasks:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=drain_s)

    @app.after_shutdown
    async def _close() -> None:
        if ops is not None:
            await ops.stop()
        await rt.close()

    return app
