"""Wiring of the poller: import requests and webhook events in, negotiations out."""

from __future__ import annotations

from faststream import FastStream
from faststream.nats import NatsMessage
from rabota_common import subjects
from rabota_common.bus import durable_subscriber
from rabota_common.chats import ChatOpenReply, ChatOpenRequest, ChatReply
from rabota_common.consume import Delivery, PortalInFlight, heartbeat, settle
from rabota_common.errors import HhAuthLost
from rabota_common.models import (
    AppEvent,
    HhWebhookEvent,
    NegotiationActionReply,
    NegotiationActionRequest,
    NewResponsesReply,
    TokenRequest,
)
from rabota_common.runtime import Runtime, build_runtime, service_app
from rabota_common.settings import Settings
from rabota_common.subjects import portal_of

from rabota_poller import actions, chats, handlers, paused
from rabota_poller.backsync import back_sync
from rabota_poller.listing import count_new
from rabota_poller.poll import poll_loop
from rabota_poller.relogin import notify_relogin


def build(settings: Settings) -> tuple[FastStream, Runtime]:
    rt = build_runtime("poller", settings)
    broker = rt.broker

    # The listing resumes where it stopped, so a crash mid-walk costs no retry: failures are counted apart.
    @durable_subscriber(broker, settings, subjects.app_events("import_requested"), "poller-import",
                        ack_wait_s=handlers.IMPORT_ACK_WAIT_S)
    async def on_import(event: AppEvent, msg: NatsMessage) -> None:
        await settle(rt, "poller", msg, event, lambda: handlers.run_import(rt, event, msg),
                     failures=lambda: rt.store.count_listing_failure(portal=event.portal))

    # Portals are served side by side, each with a few webhooks in flight: one portal's flood waits behind
    # its own cap, never ahead of another portal's new response.
    webhooks = PortalInFlight(settings.WEBHOOK_IN_FLIGHT, settings.WEBHOOK_IN_FLIGHT_PER_PORTAL, "poller webhook")

    @durable_subscriber(broker, settings, subjects.pattern(subjects.HH_WEBHOOK), "poller-webhook", batch_size=10)
    async def on_webhook(event: HhWebhookEvent, msg: NatsMessage) -> None:
        portal = portal_of(msg.raw_message.subject)

        async def work() -> None:
            try:
                await settle(rt, "poller", msg, event, lambda: handlers.expand_webhook(rt, portal, event))
            finally:
                await handlers.webhook_settled(rt, portal, event)

        webhooks.start(portal, Delivery(msg), work)

    # Operators' replies in the Open Line (F15): their own stream, served side by side per portal like webhooks.
    replies = PortalInFlight(settings.WEBHOOK_IN_FLIGHT, settings.WEBHOOK_IN_FLIGHT_PER_PORTAL, "poller chat reply")

    @durable_subscriber(broker, settings, subjects.pattern(subjects.CHAT_REPLY), "poller-chat-reply", batch_size=10,
                        ack_wait_s=chats.REPLY_ACK_WAIT_S)
    async def on_chat_reply(reply: ChatReply, msg: NatsMessage) -> None:
        if reply.portal != portal_of(msg.raw_message.subject):
            rt.log.warning("chat reply names another portal than its subject: dropped")
            await msg.ack()
            return
        replies.start(reply.portal, Delivery(msg),
                      lambda: settle(rt, "poller", msg, reply, lambda: chats.outbound(rt, reply)))

    @durable_subscriber(broker, settings, subjects.app_events("hh_connected"), "poller-connected")
    async def on_connected(event: AppEvent, msg: NatsMessage) -> None:
        await settle(rt, "poller", msg, event,
                     lambda: handlers.connected(rt, event, msg))

    @durable_subscriber(broker, settings, subjects.app_events("b24_resumed"), "poller-b24-resumed")
    async def on_b24_resumed(event: AppEvent, msg: NatsMessage) -> None:
        async def work() -> None:
            moved = await paused.resumed(rt, event)
            rt.log.info("portal %s usable again: %d parked messages republished", event.portal, moved)

        await settle(rt, "poller", msg, event, work)

    # A reinstall rotates the portal's webhook secret: a connected account's subscription follows it.
    @durable_subscriber(broker, settings, subjects.app_events("installed"), "poller-installed")
    async def on_installed(event: AppEvent, msg: NatsMessage) -> None:
        await settle(rt, "poller", msg, event, lambda: handlers.repoint_subscription(rt, event.portal))

    @durable_subscriber(broker, settings, subjects.app_events("reimport_requested"), "poller-reimport",
                        ack_wait_s=120.0)
    async def on_reimport(event: AppEvent, msg: NatsMessage) -> None:
        await settle(rt, "poller", msg, event, lambda: handlers.reimport(rt, event, msg))

    @durable_subscriber(broker, settings, subjects.app_events("hh_revoked"), "poller-revoked")
    async def on_revoked(event: AppEvent, msg: NatsMessage) -> None:
        async def work() -> None:
            await notify_relogin(rt, event.portal)

        await settle(rt, "poller", msg, event, work)

    @durable_subscriber(broker, settings, subjects.app_events("crm_entity_updated"), "poller-backsync")
    async def on_entity_updated(event: AppEvent, msg: NatsMessage) -> None:
        async def work() -> None:
            outcome = await back_sync(rt, event)
            rt.log.debug("back-sync of %s: %s", event.data, outcome)

        await settle(rt, "poller", msg, event, work)

    # Several at once: one portal's walk never holds another portal's count (each portal has its own lock).
    @broker.subscriber(subjects.POLLER_NEW_RESPONSES, queue="poller", max_workers=8)
    async def on_new_responses(req: TokenRequest) -> NewResponsesReply:
        try:
            return NewResponsesReply(ok=True, count=await count_new(rt, req.portal))
        except HhAuthLost:
            return NewResponsesReply(ok=False, error="relogin_required")
        except Exception as exc:
            rt.log.warning("new responses count of %s failed: %s", req.portal, exc)
            return NewResponsesReply(ok=False, error="unavailable")

    # The negotiation's actions from the CRM card (F16): listed with their texts, or one performed (idempotent).
    @broker.subscriber(subjects.POLLER_ACTIONS, queue="poller", max_workers=8)
    async def on_actions(req: NegotiationActionRequest) -> NegotiationActionReply:
        return await actions.answer(rt, req)

    # The card's «Написать» (issue 18 item 6): the negotiation's dialogue in the Open Line, opened with the chat's
    # messages when the line has none yet.
    @broker.subscriber(subjects.POLLER_CHATS, queue="poller", max_workers=8)
    async def on_chat_open(req: ChatOpenRequest) -> ChatOpenReply:
        return await chats.answer_open(rt, req)

    # A bulk rejection confirmed in the app (F16): HeadHunter calls at bulk priority, counted as they go.
    @durable_subscriber(broker, settings, subjects.app_events("bulk_reject_requested"), "poller-bulk-reject",
                        ack_wait_s=handlers.IMPORT_ACK_WAIT_S)
    async def on_bulk_reject(event: AppEvent, msg: NatsMessage) -> None:
        async def work() -> None:
            async with heartbeat([msg], handlers.IMPORT_HEARTBEAT_S):
                progress = await actions.bulk_reject(rt, event)
            rt.log.info("portal %s: bulk rejection %s: %s", event.portal, event.data.get("run_id"), progress)

        await settle(rt, "poller", msg, event, work)

    return service_app(rt, loops=[lambda stop: poll_loop(rt, stop), webhooks.drain_on, replies.drain_on]), rt
