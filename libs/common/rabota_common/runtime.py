"""What every service builds at start: settings, telemetry, broker, store, HTTP clients, token broker client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import nats.errors
from faststream import FastStream
from opentelemetry.sdk.trace import TracerProvider
from pydantic import BaseModel

from rabota_common import subjects
from rabota_common.b24_client import B24Client
from rabota_common.budget import AdaptiveBucket, AdaptiveRate, SharedBucket
from rabota_common.bus import Broker, ensure_jetstream, make_broker
from rabota_common.crypto import Crypto
from rabota_common.errors import TransientError
from rabota_common.hh_client import HhClient
from rabota_common.http import Http, make_http
from rabota_common.metrics import OpsServer
from rabota_common.models import B24Token, HhToken, TokenRequest
from rabota_common.settings import Settings
from rabota_common.store import Store
from rabota_common.telemetry import setup_logging, setup_telemetry
from rabota_common.transience import AUTH_DOWN, NATS_ERRORS, classify

R = TypeVar("R", bound=BaseModel)
REQUEST_ERRORS: tuple[type[BaseException], ...] = (*NATS_ERRORS, TimeoutError)
NO_RESPONDER_ERRORS: tuple[type[BaseException], ...] = (nats.errors.NoRespondersError,
                                                        nats.errors.ConnectionReconnectingError)
AUTH_RESTART_WAIT_S = 15.0


@dataclass
class Runtime:
    service: str
    settings: Settings
    tracer_provider: TracerProvider
    broker: Broker
    store: Store
    http: Http
    hh: HhClient
    b24: B24Client
    crypto: Crypto
    log: logging.Logger

    async def close(self) -> None:
        await self.http.aclose()
        await self.store.close()

    async def _request(self, subject_name: str, body: BaseModel, reply: type[R]) -> R:
        """A request to the token broker; the broker being down (no responders, no answer, NATS itself
        reconnecting) is a transient cause that names the broker, not Bitrix24 or rabota.by."""
        deadline = asyncio.get_running_loop().time() + AUTH_RESTART_WAIT_S
        pause = 0.1
        while True:
            try:
                response = await self.broker.request(body, subject_name, timeout=30.0)
                return reply.model_validate_json(response.body)
            except NO_RESPONDER_ERRORS as exc:
                # A broker restarting (or its replicas rolling) answers again within seconds: wait here, with the
                # message held, rather than hand every message of the moment back to JetStream.
                if asyncio.get_running_loop().time() + pause > deadline:
                    raise TransientError(f"token broker unreachable: {type(exc).__name__}", cause=AUTH_DOWN) from exc
                await asyncio.sleep(pause)
                pause = min(2.0, pause * 2)
            except REQUEST_ERRORS as exc:  # no answer in 30 s: waited long enough here
                raise TransientError(f"token broker unreachable: {type(exc).__name__}", cause=AUTH_DOWN) from exc

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


def connect_store(settings: Settings, crypto: Crypto) -> Store:
    """The process's store on REDIS_URL, or, with REDIS_SENTINELS, on whatever primary the Sentinels name for
    REDIS_SENTINEL_MASTER (it follows a failover; REDIS_URL then gives the credentials, database and TLS). With
    Sentinels, what Bitrix24 or JetStream is told about is confirmed by REDIS_WAIT_REPLICAS replicas."""
    secret = settings.REDIS_SENTINEL_PASSWORD
    return Store.connect(url=settings.REDIS_URL, crypto=crypto, sentinels=settings.redis_sentinels,
                         sentinel_master=settings.REDIS_SENTINEL_MASTER,
                         sentinel_password=secret.get_secret_value() if secret is not None else None,
                         wait_replicas=settings.REDIS_WAIT_REPLICAS, wait_ms=settings.REDIS_WAIT_MS)


def build_runtime(service: str, settings: Settings) -> Runtime:
    log = setup_logging(service, settings.LOG_LEVEL)
    provider = setup_telemetry(service, settings)
    crypto = Crypto(settings.APP_SECRET_KEY.get_secret_value(), settings.old_secret_keys)
    store = connect_store(settings, crypto)
    http = make_http(settings)
    hh_budget = AdaptiveBucket(store, AdaptiveRate(floor=min(settings.HH_RATE_MIN, settings.HH_RATE),
                                                   ceiling=settings.HH_RATE), burst=settings.HH_BURST,
                               name=f"hh:{settings.HH_EGRESS}" if settings.HH_EGRESS else "hh")
    return Runtime(
        service=service,
        settings=settings,
        tracer_provider=provider,
        broker=make_broker(settings, provider),
        store=store,
        http=http,
        hh=HhClient(http, settings, throttle=hh_budget.take, refused=hh_budget.refused),
        b24=B24Client(http, settings, throttle=SharedBucket(store, settings.B24_RATE, settings.B24_BURST).take),
        crypto=crypto,
        log=log,
    )


Loop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]

# A loop's work in flight settles through NATS (acks, publishes): once NATS has been unreachable this long
# during shutdown, the loops are cancelled instead of waited for, and their messages come back after the ack
# wait. Enough to ride out a client reconnecting to another cluster node.
NATS_GONE_S = 2.0


async def drain(rt: Runtime, tasks: Sequence[asyncio.Task[None]], limit_s: float) -> None:
    """Wait for the loops (asked to stop) to finish their work, up to `limit_s` and while NATS is there; cancel
    the rest."""
    clock = asyncio.get_running_loop().time
    deadline = clock() + limit_s
    gone_since: float | None = None
    pending = {task for task in tasks if not task.done()}
    while pending and clock() < deadline:
        if rt.broker.nats_up:
            gone_since = None
        elif gone_since is None:
            gone_since = clock()
        if gone_since is not None and clock() - gone_since >= NATS_GONE_S:
            rt.log.warning("NATS unreachable: %d loop(s) stopped without finishing their work", len(pending))
            break
        _, pending = await asyncio.wait(pending, timeout=min(0.25, deadline - clock()))
    for task in pending:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=5.0)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            rt.log.warning("a loop ended with %r", task.exception())


LOOP_RESTART_MAX_S = 10.0


async def supervised(rt: Runtime, loop: Loop, stop: asyncio.Event) -> None:
    """Run a background loop until asked to stop, starting it again (after a short, growing pause) whenever
    it dies: a pull loop whose consumer lost its leader subscribes afresh instead of leaving the service up
    and idle while its messages wait (issue 15, liveness)."""
    pause = 0.5
    name = getattr(loop, "__qualname__", repr(loop))
    while True:
        started = asyncio.get_running_loop().time()
        try:
            await loop(stop)
            return
        except Exception as exc:
            if stop.is_set():
                raise
            kind = classify(exc).kind
            log = rt.log.warning if kind == "transient" else rt.log.error
            log("loop %s ended with %r; starting it again in %.1fs", name, exc, pause,
                exc_info=kind != "transient")
        if asyncio.get_running_loop().time() - started > 60.0:
            pause = 0.5  # it had run a while: a new trouble, not the same one again
        try:
            await asyncio.wait_for(stop.wait(), timeout=pause)
            return
        except TimeoutError:
            pass
        pause = min(LOOP_RESTART_MAX_S, pause * 2)


def service_app(rt: Runtime, loops: Sequence[Loop] = (), drain_s: float = 60.0) -> FastStream:
    """The FastStream app of a service: health and metrics endpoint (METRICS_PORT) and JetStream layout before
    consumers start, background loops started after them and drained (asked to stop, then awaited: see
    `drain`) on SIGTERM, clients closed last."""
    app = FastStream(rt.broker, logger=rt.log)
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    ops = OpsServer(rt.broker, rt.store, rt.settings.METRICS_PORT) if rt.settings.METRICS_PORT else None

    @app.on_startup
    async def _layout() -> None:
        if ops is not None:  # up first: /healthz answers, /readyz says 503 until connected
            await ops.start()
        await ensure_jetstream(rt.settings.NATS_URL, replicas=rt.settings.NATS_STREAM_REPLICAS,
                               settings=rt.settings)

    @app.after_startup
    async def _start_loops() -> None:
        tasks.extend(asyncio.create_task(supervised(rt, loop, stop)) for loop in loops)

    @app.on_shutdown
    async def _drain() -> None:
        stop.set()
        await drain(rt, tasks, drain_s)

    @app.after_shutdown
    async def _close() -> None:
        if ops is not None:
            await ops.stop()
        await rt.close()

    return app
