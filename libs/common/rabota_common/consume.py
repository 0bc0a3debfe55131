"""The one way a JetStream handler settles a message: ack after the effect, nak with delay, or dead-letter;
and the one heartbeat that keeps a message being worked on from coming back.

The consumption shapes (every consumer is a durable pull consumer with explicit acks):
- one message, one handler call: a FastStream subscriber whose handler runs `settle` (the poller's app events);
- a long, resumable task: `settle(..., failures=...)` counts failures of the work instead of deliveries, and
  `heartbeat` keeps the message while it runs (the poller's import listing, a vacancy's re-import);
- many messages at once: `InFlight` runs up to `limit` handlers concurrently (the mapper);
- many portals side by side: `PortalInFlight` caps each portal's share (the poller's webhooks);
- batches per portal: the crm-writer's own pull loop writes each portal's group together, `fail` settling
  what failed and `heartbeat` keeping the batch.
Each shape that holds a message longer than the ack wait uses `heartbeat` (or `beat`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from typing import Any, Protocol

from faststream.message import StreamMessage
from faststream.nats import NatsMessage
from nats.aio.msg import Msg
from opentelemetry import trace
from pydantic import BaseModel

from rabota_common.bus import dead_letter, retry_delay
from rabota_common.errors import Parkable, TransientError
from rabota_common.metrics import DELIVERIES_FAILED, DELIVERIES_PARKED, DELIVERIES_RETRIED, DELIVERIES_WAITING
from rabota_common.runtime import Runtime
from rabota_common.subjects import portal_of
from rabota_common.transience import BACKOFF_CAP_S, Cause, backoff_s, classify

_tracer = trace.get_tracer(__name__)
RESUMABLE_CAP_S = 10.0


class Beating(Protocol):
    """Anything JetStream can be told is in progress: a FastStream message, a raw Msg, a `Delivery`."""

    async def in_progress(self) -> Any: ...


async def beat(deliveries: Collection[Beating], every_s: float) -> None:
    """Every `every_s`, tell JetStream that each delivery in `deliveries` is still being worked on, so the
    consumer's ack wait can stay short and a killed service's messages come back within it. The collection is
    read anew at each beat (a set of held deliveries may change); a delivery settled meanwhile, or NATS away,
    is skipped: the ack wait decides."""
    while True:
        await asyncio.sleep(every_s)
        for delivery in list(deliveries):
            with contextlib.suppress(Exception):
                await delivery.in_progress()


@contextlib.asynccontextmanager
async def heartbeat(deliveries: Collection[Beating], every_s: float) -> AsyncIterator[None]:
    """`beat` while the body runs."""
    task = asyncio.create_task(beat(deliveries, every_s))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class Delivery:
    """One JetStream delivery, whether FastStream wrapped it or it came raw inside a batch."""

    def __init__(self, msg: NatsMessage | Msg) -> None:
        self.raw: Msg = msg.raw_message if isinstance(msg, StreamMessage) else msg

    @property
    def subject(self) -> str:
        return str(self.raw.subject)

    @property
    def deliveries(self) -> int:
        return int(self.raw.metadata.num_delivered)

    @property
    def attempt(self) -> int:
        return self.deliveries

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


async def fail(rt: Runtime, stage: str, delivery: Delivery, data: dict[str, Any], exc: BaseException,
               cap_s: float = BACKOFF_CAP_S) -> None:
    """Settle a delivery whose work raised (issue 15): dead-letter permanent errors; a transient cause waits
    with capped backoff however long it lasts and never becomes a failure; anything else (a bug, a cause
    nobody foresaw) gets MAX_DELIVER tries, then a dead letter that names it."""
    DELIVERIES_FAILED.labels(stage).inc()
    cause = classify(exc)
    if cause.kind == "permanent":
        await dead_letter(rt.broker, stage, delivery.subject, delivery.attempt, cause.reason, data, crypto=rt.crypto)
        await delivery.ack()
        return
    if isinstance(exc, Parkable):
        await _park(rt, stage, delivery, data, exc)
        return
    if cause.kind == "transient":
        await wait_out(rt, stage, delivery, exc, cause, cap_s)
        return
    attempt = delivery.attempt
    delay = retry_delay(attempt)
    rt.log.error("%s failed on %s (delivery %s)", stage, delivery.subject, attempt, exc_info=exc)
    if attempt >= rt.settings.MAX_DELIVER:
        await dead_letter(rt.broker, stage, delivery.subject, attempt, cause.reason, data, crypto=rt.crypto)
        await delivery.ack()
    else:
        await delivery.nack(delay)
        DELIVERIES_RETRIED.labels(stage).inc()


async def wait_out(rt: Runtime, stage: str, delivery: Delivery, exc: BaseException, cause: Cause,
                   cap_s: float = BACKOFF_CAP_S) -> None:
    """Hand a delivery back to wait on a transient cause, and say so where /api/import shows it."""
    if isinstance(exc, TransientError) and exc.cap_s:
        cap_s = min(cap_s, exc.cap_s)
    delay = exc.delay_s if isinstance(exc, TransientError) and exc.delay_s else \
        backoff_s(delivery.deliveries, cap_s=cap_s)
    rt.log.warning("%s: waiting %.1fs on %s (%s, delivery %s)", stage, delay, cause.reason, exc, delivery.deliveries)
    DELIVERIES_WAITING.labels(stage, cause.key).inc()
    with contextlib.suppress(Exception):  # Redis may be the cause itself
        await rt.store.note_waiting(portal_of(delivery.subject), cause.reason)
    await delivery.nack(delay)


async def _park(rt: Runtime, stage: str, delivery: Delivery, data: dict[str, Any], exc: Parkable) -> None:
    """Nothing is lost while a person acts: the poller republishes it on hh_connected (a re-login) and when a
    paused portal is usable again."""
    try:
        await rt.store.park(portal_of(delivery.subject), delivery.subject, data)
    except Exception:
        rt.log.warning("%s: parking failed, waiting instead", stage, exc_info=True)
        await delivery.nack(exc.delay_s or 600.0)
        return
    rt.log.warning("%s: %s; parked until a person acts", stage, exc)
    DELIVERIES_PARKED.labels(stage).inc()
    await delivery.ack()


async def settle(rt: Runtime, stage: str, msg: NatsMessage, data: BaseModel | dict[str, Any],
                 work: Callable[[], Awaitable[None]], failures: Callable[[], Awaitable[int]] | None = None) -> None:
    """Run the work, then ack, retry or dead-letter. With `failures` (counts one more failure of the work in
    the store and answers the count) the retries
    count failures of the work instead of deliveries (a long task cut short by restarts is not used up by
    them); transient causes are never counted. A model is dumped only if the work fails (a dump per
    message was ~5 % of the mapper's CPU)."""
    delivery = Delivery(msg)
    # FastStream's consumer span: the delivery count is what tells a retry in a trace.
    trace.get_current_span().set_attributes({"rabota.attempt": delivery.attempt,
                                             "rabota.portal": portal_of(delivery.subject)})
    try:
        # What the work wrote is on a Redis replica before the message goes, and on the same primary throughout:
        # work that straddled a failover is done again (it is idempotent), since some of its writes may be gone.
        since = await rt.store.replication_id()
        await work()
        await rt.store.replicated(since)
    except Exception as exc:
        if failures is not None and classify(exc).kind != "transient":
            try:
                delivery = CountedDelivery(msg, await failures())
            except Exception as store_exc:  # Redis is down: the work waits for it
                exc = store_exc
        # A resumable task (failures counted) is redelivered by every restart and picks up where it stopped:
        # its deliveries say nothing of how long the cause has lasted, so its waits stay short.
        await fail(rt, stage, delivery, data.model_dump(mode="json") if isinstance(data, BaseModel) else data, exc,
                   cap_s=RESUMABLE_CAP_S if failures is not None else BACKOFF_CAP_S)
        return
    await delivery.ack()


class InFlight:
    """Handle up to `limit` deliveries at once: the subscriber returns as soon as its work is started (so
    the pull loop fetches more) and waits only while `limit` are running. The pull loop of FastStream
    otherwise handles a batch one message at a time, and a handler that mostly waits on HeadHunter then
    caps the whole service at one request round trip per message.

    Every delivery it holds (running, or waiting for a slot) is told "in progress" every HEARTBEAT_S, so the
    consumer's ack wait can be short: a killed service's messages come back within it, not after a minute."""

    HEARTBEAT_S = 5.0

    def __init__(self, limit: int, span_name: str) -> None:
        self._gate = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task[None]] = set()
        self._span_name = span_name
        self._held: set[Delivery] = set()
        self._ticker: asyncio.Task[None] | None = None

    async def start(self, work: Awaitable[None], delivery: Delivery | None = None) -> None:
        if delivery is not None:
            self._held.add(delivery)
            if self._ticker is None:
                self._ticker = asyncio.create_task(beat(self._held, self.HEARTBEAT_S))
        try:
            await self._gate.acquire()
        except BaseException:
            if delivery is not None:
                self._held.discard(delivery)
            raise
        task = asyncio.create_task(self._run(work, delivery))  # copies the context: the consumer span is the parent
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, work: Awaitable[None], delivery: Delivery | None) -> None:
        # The consumer's span ends when the subscriber returns, so the work gets a span of its own.
        try:
            with _tracer.start_as_current_span(self._span_name):
                await work
        finally:
            self._gate.release()
            if delivery is not None:
                self._held.discard(delivery)

    async def drain_on(self, stop: asyncio.Event) -> None:
        """A service loop: on SIGTERM, let the started work settle its messages before the broker closes."""
        await stop.wait()
        try:
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=30.0)
        finally:  # late, or cancelled (NATS gone): unsettled, its messages come back after the ack wait
            for task in set(self._tasks):
                task.cancel()
            if self._ticker is not None:
                self._ticker.cancel()


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
        waiting = asyncio.create_task(beat([delivery], self.HEARTBEAT_S))  # queued work says it is in progress
        try:
            async with self._portals[portal]:
                async with self._gate:
                    waiting.cancel()
                    with _tracer.start_as_current_span(self._span_name):
                        await work()
        finally:
            waiting.cancel()
            self._waiting[portal] -= 1
            if not self._waiting[portal]:  # no state kept for idle portals
                del self._waiting[portal], self._portals[portal]

    async def drain_on(self, stop: asyncio.Event) -> None:
        """A service loop: on SIGTERM, let the started work settle its messages before the broker closes."""
        await stop.wait()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=30.0)
