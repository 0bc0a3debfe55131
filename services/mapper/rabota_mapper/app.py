"""Wiring of the mapper."""

from __future__ import annotations

from faststream import FastStream
from faststream.nats import NatsMessage
from opentelemetry import trace
from rabota_common import budget, subjects
from rabota_common.bus import durable_subscriber
from rabota_common.consume import Delivery, InFlight, settle
from rabota_common.models import NegotiationFound
from rabota_common.runtime import Runtime, build_runtime, service_app
from rabota_common.settings import Settings
from rabota_common.telemetry import negotiation_attributes

from rabota_mapper.handlers import map_negotiation

# Negotiations mapped at once: each mostly waits on HeadHunter (resume, PDF), whose shared bucket paces them.
IN_FLIGHT = 16
# Live negotiations (webhook, poll, one re-imported) and bulk ones (imports) have their own consumer and
# slots: a portal's thousands of imported negotiations never queue ahead of another portal's new response,
# and their HeadHunter requests yield to live ones (budget.bulk).
LIVE_FILTER = subjects.pattern(subjects.HH_NEGOTIATION)  # three tokens only: not hh.negotiation.import.{portal}
BULK_FILTER = subjects.pattern(subjects.HH_NEGOTIATION_IMPORT)
# Held messages are told "in progress" every few seconds (InFlight): a killed mapper's come back within this.
ACK_WAIT_S = 20.0


def build(settings: Settings) -> tuple[FastStream, Runtime]:
    rt = build_runtime("mapper", settings)
    broker = rt.broker

    live = InFlight(IN_FLIGHT, "mapper map")
    bulk = InFlight(IN_FLIGHT, "mapper map")

    async def map_bulk(found: NegotiationFound) -> None:
        with budget.bulk():
            await map_negotiation(rt, found)

    async def start(slots: InFlight, found: NegotiationFound, msg: NatsMessage, is_bulk: bool) -> None:
        # Set while the consumer span is still open: the work below runs after this handler returns.
        trace.get_current_span().set_attributes({
            **negotiation_attributes(found.portal, found.negotiation_id, found.vacancy_id),
            "rabota.attempt": Delivery(msg).attempt})
        await slots.start(settle(rt, "mapper", msg, found,
                                 lambda: map_bulk(found) if is_bulk else map_negotiation(rt, found)), Delivery(msg))

    @durable_subscriber(broker, settings, LIVE_FILTER, "mapper", batch_size=IN_FLIGHT,
                        ack_wait_s=ACK_WAIT_S)
    async def on_negotiation(found: NegotiationFound, msg: NatsMessage) -> None:
        await start(live, found, msg, is_bulk=False)

    @durable_subscriber(broker, settings, BULK_FILTER, "mapper-import", batch_size=IN_FLIGHT,
                        ack_wait_s=ACK_WAIT_S)
    async def on_imported(found: NegotiationFound, msg: NatsMessage) -> None:
        await start(bulk, found, msg, is_bulk=True)

    return service_app(rt, loops=[live.drain_on, bulk.drain_on]), rt
