"""Wiring of the poller: import requests and webhook events in, negotiations out."""

from __future__ import annotations

import asyncio
import contextlib

from faststream import FastStream
from faststream.middlewares import AckPolicy
from faststream.nats import NatsMessage, PullSub
from rabota_common import subjects
from rabota_common.bus import consumer_config, ensure_jetstream, stream
from rabota_common.consume import settle
from rabota_common.errors import HhAuthLost
from rabota_common.models import AppEvent, HhWebhookEvent, NewResponsesReply, TokenRequest
from rabota_common.runtime import Runtime, build_runtime
from rabota_common.settings import Settings
from rabota_common.subjects import portal_of

from rabota_poller import handlers
from rabota_poller.poll import poll_loop
from rabota_poller.reconcile import count_new
from rabota_poller.relogin import notify_relogin


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
                     lambda: handlers.connected(rt, event, msg))

    @broker.subscriber(
        "app.hh_revoked.*", stream=stream("APP"), durable="poller-revoked",
        pull_sub=PullSub(batch_size=1, timeout=1.0), ack_policy=AckPolicy.MANUAL,
        config=consumer_config(settings),
    )
    async def on_revoked(event: AppEvent, msg: NatsMessage) -> None:
        async def work() -> None:
            await notify_relogin(rt, event.portal)

        await settle(rt, "poller", msg, event.model_dump(mode="json"), work)

    @broker.subscriber(subjects.POLLER_NEW_RESPONSES, queue="poller")
    async def on_new_responses(req: TokenRequest) -> NewResponsesReply:
        try:
            return NewResponsesReply(ok=True, count=await count_new(rt, req.portal))
        except HhAuthLost:
            return NewResponsesReply(ok=False, error="relogin_required")
        except Exception as exc:
            rt.log.warning("new responses count of %s failed: %s", req.portal, exc)
            return NewResponsesReply(ok=False, error="unavailable")

    app = FastStream(broker, logger=rt.log)
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    @app.on_startup
    async def _startup() -> None:
        await ensure_jetstream(settings.NATS_URL)

    @app.after_startup
    async def _start_poll() -> None:
        tasks.append(asyncio.create_task(poll_loop(rt, stop)))

    @app.on_shutdown
    async def _stop_poll() -> None:
        stop.set()
        for task in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, timeout=30.0)

    @app.after_shutdown
    async def _shutdown() -> None:
        await rt.close()

    return app, rt
