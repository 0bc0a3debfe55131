"""Wiring of the crm-writer: pulls commands in batches and writes each portal's share together."""

from __future__ import annotations

from collections import defaultdict

from faststream import FastStream
from faststream.middlewares import AckPolicy
from faststream.nats import NatsMessage, PullSub
from nats.aio.msg import Msg
from rabota_common.bus import consumer_config, ensure_jetstream, stream
from rabota_common.consume import Delivery, fail
from rabota_common.models import CrmCommand
from rabota_common.runtime import Runtime, build_runtime
from rabota_common.settings import Settings

from rabota_crm_writer.writer import report, write_group

BATCH = 25


def build(settings: Settings) -> tuple[FastStream, Runtime]:
    rt = build_runtime("crm-writer", settings)
    broker = rt.broker

    @broker.subscriber(
        "crm.command.*", stream=stream("CRM_COMMAND"), durable="crm-writer",
        pull_sub=PullSub(batch_size=BATCH, timeout=0.3, batch=True), ack_policy=AckPolicy.MANUAL,
        config=consumer_config(settings, ack_wait_s=120.0),
    )
    async def on_commands(body: list[CrmCommand], msg: NatsMessage) -> None:
        raws: list[Msg] = list(msg.raw_message)  # type: ignore[call-overload]  # a batch delivers a list
        by_portal: dict[str, list[int]] = defaultdict(list)
        for i, cmd in enumerate(body):
            by_portal[cmd.portal].append(i)
        for portal, idx in by_portal.items():
            deliveries = [Delivery(raws[i]) for i in idx]
            group = [(body[i], d.attempt) for i, d in zip(idx, deliveries, strict=True)]
            try:
                outcomes = await write_group(rt, portal, group)
            except Exception as exc:
                for i, d in zip(idx, deliveries, strict=True):
                    await fail(rt, "crm-writer", d, body[i].model_dump(mode="json"), exc)
                continue
            for i, d, outcome in zip(idx, deliveries, outcomes, strict=True):
                await report(rt, body[i], outcome)
                if outcome.error is None:
                    await d.ack()
                else:
                    await fail(rt, "crm-writer", d, body[i].model_dump(mode="json"), outcome.error)

    app = FastStream(broker, logger=rt.log)

    @app.on_startup
    async def _startup() -> None:
        await ensure_jetstream(settings.NATS_URL)

    @app.after_shutdown
    async def _shutdown() -> None:
        await rt.close()

    return app, rt
