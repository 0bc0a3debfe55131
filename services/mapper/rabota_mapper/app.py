"""Wiring of the mapper."""

from __future__ import annotations

from faststream import FastStream
from faststream.nats import NatsMessage
from rabota_common.bus import durable_subscriber
from rabota_common.consume import settle
from rabota_common.models import NegotiationFound
from rabota_common.runtime import Runtime, build_runtime, service_app
from rabota_common.settings import Settings

from rabota_mapper.handlers import map_negotiation


def build(settings: Settings) -> tuple[FastStream, Runtime]:
    rt = build_runtime("mapper", settings)
    broker = rt.broker

    @durable_subscriber(broker, settings, "hh.negotiation.*", "HH_NEGOTIATION", "mapper", batch_size=10)
    async def on_negotiation(found: NegotiationFound, msg: NatsMessage) -> None:
        await settle(rt, "mapper", msg, found.model_dump(mode="json"), lambda: map_negotiation(rt, found))

    return service_app(rt), rt
