"""The one way a JetStream handler settles a message: ack after the effect, nak with delay, or dead-letter."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from faststream.message import StreamMessage
from faststream.nats import NatsMessage
from nats.aio.msg import Msg
from opentelemetry import trace
from pydantic import BaseModel

from rabota_common.b24_client import B24Error
from rabota_common.bus import dead_letter, retry_delay
from rabota_common.errors import HhAuthLost, PermanentError, TransientError
from rabota_common.hh_client import HhError
from rabota_common.metrics import DELIVERIES_FAILED, DELIVERIES_PARKED, DELIVERIES_RETRIED
from rabota_common.runtime import Runtime
from rabota_common.subjects import portal_of

_tracer = trace.get_tracer(__name__)


class Delivery:
    """One JetStream delivery, whether FastStream wrapped it or it came raw inside a batch."""

    def __init__(self, msg: NatsMessage | Msg) -> None:
        self.raw: Msg = msg.raw_message if isinstance(msg, StreamMessage) else msg

    @property
    def subject(self) -> str:
        return str(self.raw.subject)

    @property
    def attempt(self) -> int:
        return int(self.raw.metadata.num_delivered)

    async def ack(self) -> None:
        await self.raw.ack()

    async def nack(self, delay: float) -> None:
        await self.raw.nak(delay=delay)

    async def in_progress(self) -> None:
        await self.raw.in_progress()


class CountedDelivery(Delivery):
    """A delivery whose attempt is the number of times its work failed, not of deliveries: a long task
    (an import listing) cut short by crashes and restarts is not used up by them."""

    def __init__(self, msg: NatsMessage | Msg, failures: int) -> None:
        super().__init__(msg)
        self.failures = failures

    @property
    def attempt(self) -> int:
        return self.failures


async def fail(rt: Runtime, stage: str, delivery: Delivery, data: dict[str, Any], exc: BaseException) -> None:
    """Settle a delivery whose work raised: dead-letter permanent errors, retry the rest until the last try."""
    DELIVERIES_FAILED.labels(stage).inc()
    if isinstance(exc, PermanentError):
        await dead_letter(rt.broker, stage, delivery.subject, delivery.attempt, exc.reason, data, crypto=rt.crypto)
        await delivery.ack()
        return
    if isinstance(exc, HhAuthLost):
        # Nothing is lost while the user logs in again: the poller republishes it on hh_connected.
        try:
            await rt.store.park(portal_of(delivery.subject), delivery.subject, data)
        except Exception:
            rt.log.exception("%s: parking failed, waiting instead", stage)
            await delivery.nack(exc.delay_s or 600.0)
            return
        rt.log.warning("%s: %s; parked until re-login", stage, exc)
        DELIVERIES_PARKED.labels(stage).inc()
        await delivery.ack()
        return
    attempt = delivery.attempt
    delay = exc.delay_s if isinstance(exc, TransientError) and exc.delay_s else retry_delay(attempt)
    if isinstance(exc, TransientError | HhError | B24Error):
        rt.log.warning("%s: %s (delivery %s, retry in %.1fs)", stage, exc, attempt, delay)
    else:
        rt.log.error("%s failed on %s (delivery %s)", stage, delivery.subject, attempt, exc_info=exc)
    if attempt >= rt.settings.MAX_DELIVER:
        await dead_letter(rt.broker, stage, delivery.subject, attempt, f"{type(exc).__name__}: {exc}", data,
                          crypto=rt.crypto)
        await delivery.ack()
    else:
        await delivery.nack(delay)
        DELIVERIES_RETRIED.labels(stage).inc()


async def settle(rt: Runtime, stage: str, msg: NatsMessage, data: BaseModel | dict[str, Any],
                 work: Callable[[], Awaitable[None]], failures: tuple[str, str] | None = None) -> None:
    """Run the work, then ack, retry or dead-letter. With `failures` (a Redis hash and field) the retries
    count failures of the work instead of deliveries (the consumer's max_deliver must then be higher).
    A model is dumped only if the work fails (a dump per message was ~5 % of the mapper's CPU)."""
    delivery = Delivery(msg)
    # FastStream's consumer span: the delivery count is what tells a retry in a trace.
    trace.get_current_span().set_attributes({"rabota.attempt": delivery.attempt,
                                             "rabota.portal": portal_of(delivery.subject)})
    try:
        await work()
    except Exception as exc:
        if failures is not None:
            delivery = CountedDelivery(msg, int(await rt.redis.hincrby(failures[0], failures[1], 1)))
        await fail(rt, stage, delivery, data.model_dump(mode="json") if isinstance(data, BaseModel) else data, exc)
        return
    await delivery.ack()


class InFlight:
    """Handle up to `limit` deliveries at once: the subscriber returns as soon as its work is started (so
    the pull loop fetches more) and waits only while `limit` are running. The pull loop of FastStream
    otherwise handles a batch one message at a time, and a handler that mostly waits on HeadHunter then
    caps the whole service at one request round trip per message."""

    def __init__(self, limit: int, span_name: str) -> None:
        self._gate = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task[None]] = set()
        self._span_name = span_name

    async def start(self, work: Awaitable[None]) -> None:
        await self._gate.acquire()
        task = asyncio.create_task(self._run(work))  # copies the context: the consumer span is the parent
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, work: Awaitable[None]) -> None:
        # The consumer's span ends when the subscriber returns, so the work gets a span of its own.
        try:
            with _tracer.start_as_current_span(self._span_name):
                await work
        finally:
            self._gate.release()

    async def drain_on(self, stop: asyncio.Event) -> None:
        """A service loop: on SIGTERM, let the started work settle its messages before the broker closes."""
        await stop.wait()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=30.0)


class PortalInFlight:
    """Deliveries of many portals, each portal's at most `per_portal` at a time and all at most `limit`: the
    subscriber only queues the work and returns, so the pull loop keeps fetching and a portal with a flood
    waits behind its own cap while the others' work goes on (how many a portal can queue at all is capped by
    the receiver, WEBHOOK_PENDING_PER_PORTAL). Queued work tells JetStream it is in progress while it waits."""

    HEARTBEAT_S = 15.0

    def __init__(self, limit: int, per_portal: int, span_name: str) -> None:
        self._gate = asyncio.Semaphore(limit)
        self._per_portal = per_portal
        self._portals: dict[str, asyncio.Semaphore] = {}
        self._waiting: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._span_name = span_name

    def start(self, portal: str, delivery: Delivery, work: Callable[[], Awaitable[None]]) -> None:
        if portal not in self._portals:
            self._portals[portal] = asyncio.Semaphore(self._per_portal)
            self._waiting[portal] = 0
        self._waiting[portal] += 1
        task = asyncio.create_task(self._run(portal, delivery, work))  # the consumer span is the parent
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, portal: str, delivery: Delivery, work: Callable[[], Awaitable[None]]) -> None:
        heartbeat = asyncio.create_task(self._keep_alive(delivery))
        try:
            async with self._portals[portal]:
                async with self._gate:
                    heartbeat.cancel()
                    with _tracer.start_as_current_span(self._span_name):
                        await work()
        finally:
            heartbeat.cancel()
            self._waiting[portal] -= 1
            if not self._waiting[portal]:  # no state kept for idle portals
                del self._waiting[portal], self._portals[portal]

    async def _keep_alive(self, delivery: Delivery) -> None:
        while True:
            await asyncio.sleep(self.HEARTBEAT_S)
            try:
                await delivery.in_progress()
            except Exception:
                return

    async def drain_on(self, stop: asyncio.Event) -> None:
        """A service loop: on SIGTERM, let the started work settle its messages before the broker closes."""
        await stop.wait()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=30.0)
