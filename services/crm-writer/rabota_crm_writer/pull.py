"""The crm-writer's pull engine: pulls commands in batches and writes each portal's share together.

A fetched batch is split into portal groups at once. Each portal's groups are written in fetch order, one at a
time; a group holds one of the writer's MAX_BATCHES slots only while it is being written, never while it waits
for its portal's turn, so one portal's slow or huge groups never hold the slots other portals' groups need, and
portals' groups are written concurrently (DESIGN §9, fairness). MAX_IN_FLIGHT bounds the fetched, unsettled
messages (each has its heartbeat).

The batch pull loop is ours, not FastStream's: FastStream 0.7.8 loses a partially fetched batch when
nats-py raises a plain asyncio.TimeoutError (it only catches nats.errors.TimeoutError), stranding
those messages until their ack wait ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from typing import Any

from nats.aio.msg import Msg
from nats.errors import ConnectionReconnectingError
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import ServiceUnavailableError
from opentelemetry import propagate, trace
from pydantic import ValidationError
from rabota_common import subjects
from rabota_common.bus import UNLIMITED_DELIVERIES, dead_letter, retry_delay
from rabota_common.consume import Delivery, beat, fail, heartbeat, wait_out
from rabota_common.metrics import CRM_WRITES
from rabota_common.models import CrmCommand
from rabota_common.runtime import Runtime
from rabota_common.subjects import portal_of
from rabota_common.telemetry import negotiation_attributes
from rabota_common.transience import classify

from rabota_crm_writer.writer import Outcome, failure_data, report, write_group

COMMANDS = subjects.pattern(subjects.CRM_COMMAND)
BATCH = 25
FETCH_WAIT_S = 0.3
# During an import, wait this long to fill a batch of up to IMPORT_BATCH (a backlog fills it at once; at
# HeadHunter's pace, ~3-5 responses a second, 15 s gathers a full one): fewer, fuller Bitrix24 requests per
# response (issue 19: ≤ 0.1). The gathered commands beat "in progress" like written ones, and the ack wait is short,
# so a writer killed while it gathers gives them back within ACK_WAIT_S (at 30 s without a beat while gathering,
# 15 s groups cut the chaos test's pace by a third).
# Live traffic (webhooks, polls: no import id) is written at once.
IMPORT_BATCH = 50
IMPORT_LINGER_S = 15.0
# ...but only while commands keep coming: this long without one ends the wait.
IMPORT_IDLE_S = 2.5
# Unacked messages of a writer that died come back after ACK_WAIT_S; a live writer says "in progress"
# every HEARTBEAT_S while it gathers and works.
ACK_WAIT_S = 12.0
HEARTBEAT_S = 4.0
# Portal groups written at once (a slot is held only while writing, not while waiting for the portal's turn).
MAX_BATCHES = 8
# Fetched messages not yet settled (written, waiting for their turn): below the consumer's max_ack_pending.
MAX_IN_FLIGHT = 400


def _from_import(msg: Msg) -> bool:
    return b'"import_id":"' in msg.data


async def _fill(sub: Any, msgs: list[Msg], stop: asyncio.Event, room: int = IMPORT_BATCH) -> list[Msg]:
    deadline = asyncio.get_running_loop().time() + IMPORT_LINGER_S
    target = max(len(msgs), min(IMPORT_BATCH, room))
    async with heartbeat(msgs, HEARTBEAT_S):  # the gathered ones are held too (read anew at each beat)
        while len(msgs) < target and all(_from_import(m) for m in msgs) and not stop.is_set():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                msgs += await sub.fetch(batch=target - len(msgs), timeout=min(remaining, IMPORT_IDLE_S))
            except TimeoutError:
                break  # nothing more is coming (the import's tail): write what we have now
    return msgs


class InFlight:
    """Fetched messages not yet settled: the pull loop fetches only while there is room."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self._changed = asyncio.Condition()

    async def room(self, stop: asyncio.Event) -> int:
        async with self._changed:
            while self.count >= self.limit and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 1.0)
            return max(1, self.limit - self.count)

    def add(self, n: int) -> None:
        self.count += n

    async def done(self, n: int) -> None:
        async with self._changed:
            self.count -= n
            self._changed.notify_all()


class PortalTurns:
    """Each portal's groups are written in the order they were fetched, one at a time (a chain of tasks per
    portal), other portals' groups meanwhile. Across replicas the portal's writer lock does the same."""

    def __init__(self, slots: asyncio.Semaphore, in_flight: InFlight) -> None:
        self._last: dict[str, asyncio.Task[None]] = {}
        self._slots = slots
        self._in_flight = in_flight

    def start(self, rt: Runtime, raws: list[Msg]) -> list[asyncio.Task[None]]:
        """Queue a batch's portal groups (synchronously, so a later batch cannot overtake it)."""
        by_portal: dict[str, list[Msg]] = defaultdict(list)
        for raw in raws:
            by_portal[portal_of(raw.subject)].append(raw)
        tasks = []
        for portal, group in by_portal.items():
            task = asyncio.create_task(self._after(self._last.get(portal), rt, portal, group))
            self._last[portal] = task
            tasks.append(task)
        return tasks

    async def _after(self, before: asyncio.Task[None] | None, rt: Runtime, portal: str, raws: list[Msg]) -> None:
        beating = asyncio.create_task(beat(raws, HEARTBEAT_S))  # the batch is being worked on
        try:
            if before is not None:
                await asyncio.wait([before])  # only its end matters: its outcome is its messages'
            async with self._slots:  # held while writing only: a group waiting for its turn holds none
                await _write_portal(rt, raws)
        except Exception:
            rt.log.exception("writing portal %s failed; its messages come back after the ack wait", portal)
        finally:
            beating.cancel()
            if self._last.get(portal) is asyncio.current_task():
                del self._last[portal]  # nothing queued behind: forget the portal
            await self._in_flight.done(len(raws))


async def _write_portal(rt: Runtime, raws: list[Msg]) -> None:
    tracer = rt.tracer_provider.get_tracer("rabota_crm_writer")
    body: list[CrmCommand] = []
    kept: list[Msg] = []
    for raw in raws:
        try:
            cmd = CrmCommand.model_validate_json(raw.data)
        except ValidationError as exc:  # a message that can never be read goes to the DLQ at once
            await dead_letter(rt.broker, "crm-writer", raw.subject, int(raw.metadata.num_delivered),
                              f"unreadable command: {exc.errors(include_input=False, include_url=False)[:3]}",
                              {"raw": raw.data.decode(errors="replace")}, crypto=rt.crypto)
            await raw.ack()
            continue
        if cmd.portal != portal_of(raw.subject):  # one portal's subject never writes into another portal
            await dead_letter(rt.broker, "crm-writer", raw.subject, int(raw.metadata.num_delivered),
                              f"command for portal {cmd.portal} on {raw.subject}", cmd.model_dump(mode="json"),
                              crypto=rt.crypto)
            await raw.ack()
            continue
        body.append(cmd)
        kept.append(raw)
    by_portal: dict[str, list[int]] = defaultdict(list)
    for i, cmd in enumerate(body):
        by_portal[cmd.portal].append(i)
    for portal, idx in by_portal.items():
        deliveries = [Delivery(kept[i]) for i in idx]
        group = [(body[i], d.attempt) for i, d in zip(idx, deliveries, strict=True)]
        # A batch mixes negotiations: each gets its own span in the trace its message carries. The Bitrix24
        # requests serve them all; they are children of the first one's span, which the others link to.
        spans: list[trace.Span] = []
        for i, d in zip(idx, deliveries, strict=True):
            attributes = negotiation_attributes(portal, body[i].negotiation_id, body[i].vacancy_id)
            attributes.update({"rabota.entity_type": body[i].entity_type, "rabota.attempt": d.attempt})
            links = [trace.Link(spans[0].get_span_context(), {"rabota.link": "same Bitrix24 requests"})] if spans \
                else []
            spans.append(tracer.start_span(
                "crm-writer write", context=propagate.extract(kept[i].headers or {}), kind=trace.SpanKind.CONSUMER,
                attributes=attributes, links=links))
        try:
            since = await rt.store.replication_id()  # see _settle
            with trace.use_span(spans[0], end_on_exit=False):
                outcomes = await write_group(rt, portal, group)
        except Exception as exc:
            since = ""
            outcomes = [Outcome(error=exc) for _ in group]
        for outcome, span in zip(outcomes, spans, strict=True):
            if outcome.entity_id is not None:
                span.set_attribute("rabota.entity_id", outcome.entity_id)
            if outcome.error is not None:
                span.record_exception(outcome.error)
                span.set_status(trace.StatusCode.ERROR, type(outcome.error).__name__)
        # Settled together: each is a few round trips (Redis, the result, the ack) that need not wait in line.
        await asyncio.gather(*(_settle(rt, body[i], d, outcome, since)
                               for i, d, outcome in zip(idx, deliveries, outcomes, strict=True)))
        for span in spans:
            span.end()


async def _settle(rt: Runtime, cmd: CrmCommand, d: Delivery, outcome: Outcome, since: str = "") -> None:
    """Report, then ack (written) or fail (retry or dead-letter). Acked only after the effect and its record
    are durable: when Redis or NATS cannot take the report, the message comes back instead. With Redis replicas,
    durable means on a replica and written to the primary of `since` (Store.replicated): a group that straddled
    a failover comes back, and its next delivery looks its entities up instead of trusting the ledger."""
    try:
        final = outcome.error is not None and d.attempt >= rt.settings.MAX_DELIVER \
            and classify(outcome.error).kind == "unknown"
        await report(rt, cmd, outcome, final=final)
        await rt.store.replicated(since)
        if outcome.error is None:
            await d.ack()
            CRM_WRITES.labels(cmd.portal, "created" if outcome.created else "updated").inc()
        else:
            await fail(rt, "crm-writer", d, await failure_data(rt, cmd), outcome.error)
    except Exception as exc:
        cause = classify(exc)
        if cause.kind == "transient":  # Redis (or its replica) unavailable: the command waits, never fails
            with contextlib.suppress(Exception):
                await wait_out(rt, "crm-writer", d, exc, cause)
            return
        rt.log.exception("could not settle %s (delivery %s); it comes back", cmd.negotiation_id, d.attempt)
        with contextlib.suppress(Exception):
            await d.nack(retry_delay(d.attempt))


async def pull_loop(rt: Runtime, stop: asyncio.Event) -> None:
    js = rt.broker.connection.jetstream()
    stream = subjects.stream_of(COMMANDS)
    # Created, or updated when an older deployment made it with another ack wait (pull_subscribe alone would
    # keep an existing consumer's config).
    await js.add_consumer(stream, ConsumerConfig(
        name="crm-writer", durable_name="crm-writer", filter_subject=COMMANDS, ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ACK_WAIT_S, max_deliver=UNLIMITED_DELIVERIES, max_ack_pending=1000))
    sub = await js.pull_subscribe(COMMANDS, durable="crm-writer", stream=stream)
    in_flight = InFlight(MAX_IN_FLIGHT)
    turns = PortalTurns(asyncio.Semaphore(MAX_BATCHES), in_flight)
    batches: set[asyncio.Task[None]] = set()
    try:
        while not stop.is_set():
            room = await in_flight.room(stop)
            if stop.is_set():
                break
            msgs: list[Msg] = []
            try:
                msgs = await sub.fetch(batch=min(BATCH, room), timeout=FETCH_WAIT_S)
            except TimeoutError:  # asyncio.TimeoutError and nats' subclass alike
                pass
            except (ServiceUnavailableError, ConnectionReconnectingError) as exc:
                # A cluster node went away: the consumer's leader is being elected or the client reconnects.
                rt.log.warning("fetch failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1.0)
            except Exception:
                rt.log.exception("fetch failed; retrying")
                await asyncio.sleep(1.0)
            if not msgs:
                continue
            first = len(msgs)
            in_flight.add(first)
            msgs = await _fill(sub, msgs, stop, room)
            in_flight.add(len(msgs) - first)
            # Queued synchronously (a later batch never overtakes); finished even if asked to stop meanwhile.
            for task in turns.start(rt, msgs):
                batches.add(task)
                task.add_done_callback(batches.discard)
    except asyncio.CancelledError:  # shutdown without NATS: what the batches hold cannot be settled now
        for batch in batches:
            batch.cancel()
        raise
    finally:
        if batches:
            await asyncio.wait(set(batches))
        # An open pull subscription would hold the connection's drain until its timeout on SIGTERM.
        await sub.unsubscribe()
