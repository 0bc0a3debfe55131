"""Wiring of the mapper."""

from __future__ import annotations

from faststream import FastStream
from faststream.nats import NatsMessage
from opentelemetry import trace
from rabota_common.bus import durable_subscriber
from rabota_common.consume import Delivery, InFlight, settle
from rabota_common.models import NegotiationFound
from rabota_common.runtime import Runtime, build_runtime, service_app
from rabota_common.settings import Settings
from rabota_common.telemetry import negotiation_attributes

from rabota_mapper.handlers import map_negotiation

# Negotiations mapped at once: each mostly waits on HeadHunter (resume, PDF), whose shared bucket paces them.
IN_FLIGHT = 16


def build(settings: Settings) -> tuple[FastStream, Runtime]:
    rt = build_runtime("mapper", settings)
    broker = rt.broker

    in_flight = InFlight(IN_FLIGHT, "mapper map")

    @durable_subscriber(broker, settings, "hh.negotiation.*", "HH_NEGOTIATION", "mapper", batch_size=IN_FLIGHT)
    async def on_negotiation(found: NegotiationFound, msg: NatsMessage) -> None:
        # Set while the consumer span is still open: the work below runs after this handler returns.
        trace.get_current_span().set_attributes({
            **negotiation_attributes(found.portal, found.negotiation_id, found.vacancy_id),
            "rabota.attempt": Delivery(msg).attempt})
        await in_flight.start(settle(rt, "mapper", msg, found.model_dump(mode="json"),
                                     lambda: map_negotiation(rt, found)))

    return service_app(rt, loops=[in_flight.drain_on]), rt
