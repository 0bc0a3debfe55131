"""Wiring of the mapper."""

from __future__ import annotations

from faststream import FastStream
from faststream.middlewares import AckPolicy
from faststream.nats import NatsMessage, PullSub
from rabota_common.bus import consumer_config, ensure_jetstream, stream
from rabota_common.consume import settle
from rabota_common.models import NegotiationFound
from rabota_common.runtime import Runtime, build_runtime
from rabota_common.settings import Settings

from rabota_mapper.handlers import map_negotiation


def build(settings: Settings) -> tuple[FastStream, Runtime]:
    rt = build_runtime("mapper", settings)
    broker = rt.broker

    @broker.subscriber(
        "hh.negotiation.*", stream=stream("HH_NEGOTIATION"), durable="mapper",
        pull_sub=PullSub(batch_size=10, timeout=1.0), ack_policy=AckPolicy.MANUAL,
        config=consumer_config(settings),
    )
    async def on_negotiation(found: NegotiationFound, msg: NatsMessage) -> None:
        await settle(rt, "mapper", msg, found.model_dump(mode="json"), lambda: map_negotiation(rt, found))

    app = FastStream(broker, logger=rt.log)

    @app.on_startup
    async def _startup() -> None:
        await ensure_jetstream(settings.NATS_URL)

    @app.after_shutdown
    async def _shutdown() -> None:
        await rt.close()

    return app, rt
