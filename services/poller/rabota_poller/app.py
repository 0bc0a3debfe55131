"""Wiring of the poller: import requests and webhook events in, negotiations out."""

from __future__ import annotations

from faststream import FastStream
from faststream.middlewares import AckPolicy
from faststream.nats import NatsMessage, PullSub
from rabota_common.bus import consumer_config, ensure_jetstream, stream
from rabota_common.consume import settle
from rabota_common.models import AppEvent, HhWebhookEvent
from rabota_common.runtime import Runtime, build_runtime
from rabota_common.settings import Settings
from rabota_common.subjects import portal_of

from rabota_poller import handlers


def build(settings: Settings) -> tuple[FastStream, Runtime]:
    rt = build_runtime("poller", settings)
    broker = rt.broker

    @broker.subscriber(
        "app.import_requested.*", stream=stream("APP"), durable="poller-import",
        pull_sub=PullSub(batch_size=1, timeout=1.0), ack_policy=AckPolicy.MANUAL,
        config=consumer_config(settings, ack_wait_s=120.0),
    )
    async def on_import(event: AppEvent, msg: NatsMessage) -> None:
        await settle(rt, "poller", msg, event.model_dump(mode="json"),
                     lambda: handlers.run_import(rt, event, msg))

    @broker.subscriber(
        "hh.webhook.*", stream=stream("HH_WEBHOOK"), durable="poller-webhook",
        pull_sub=PullSub(batch_size=10, timeout=1.0), ack_policy=AckPolicy.MANUAL,
        config=consumer_config(settings),
    )
    async def on_webhook(event: HhWebhookEvent, msg: NatsMessage) -> None:
        portal = portal_of(msg.raw_message.subject)
        await settle(rt, "poller", msg, event.model_dump(mode="json"),
                     lambda: handlers.expand_webhook(rt, portal, event))

    @broker.subscriber(
        "app.hh_connected.*", stream=stream("APP"), durable="poller-connected",
        pull_sub=PullSub(batch_size=1, timeout=1.0), ack_policy=AckPolicy.MANUAL,
        config=consumer_config(settings),
    )
    async def on_connected(event: AppEvent, msg: NatsMessage) -> None:
        await settle(rt, "poller", msg, event.model_dump(mode="json"),
                     lambda: handlers.ensure_subscription(rt, event.portal))

    app = FastStream(broker, logger=rt.log)

    @app.on_startup
    async def _startup() -> None:
        await ensure_jetstream(settings.NATS_URL)

    @app.after_shutdown
    async def _shutdown() -> None:
        await rt.close()

    return app, rt
