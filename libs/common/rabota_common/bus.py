"""The one NATS helper: broker construction, JetStream layout, durable publishing, dead letters."""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from types import TracebackType
from typing import Any

import nats
from faststream.middlewares import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.nats.prometheus import NatsPrometheusMiddleware
from faststream.nats.security import NatsCredentials, NatsSecurity, NatsUserPassword
from faststream.security import BaseSecurity
from nats.aio.client import DEFAULT_INBOX_PREFIX
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NoStreamResponseError, ServiceUnavailableError
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import REGISTRY
from pydantic import BaseModel

from rabota_common import nats_auth, subjects
from rabota_common.chats import ChatReply
from rabota_common.crypto import Crypto
from rabota_common.ids import is_member_id
from rabota_common.metrics import DEAD_LETTERS
from rabota_common.models import AppEvent, CrmCommand, DeadLetter, HhWebhookEvent, NegotiationFound
from rabota_common.settings import Settings
from rabota_common.subjects import stream_of

log = logging.getLogger(__name__)


def _fetch_times_out_as_nats() -> None:
    """Make every pull `fetch` timeout a nats.errors.TimeoutError, as nats-py documents it.

    nats-py 2.16 raises a plain asyncio.TimeoutError from `fetch` of more than one message when its first
    (no-wait) request is answered at the very end of the timeout (`_fetch_n`, since nats-io/nats.py#934); its
    other paths raise nats.errors.TimeoutError. FastStream 0.7.8's pull loop suppresses only the latter, so
    on an idle consumer the loop task died every few fetches and FastStream logged an ERROR with a
    traceback («Task-N raised an exception, retrying…») before restarting it. Applied once, at import."""
    original = JetStreamContext.PullSubscription.fetch
    if getattr(original, "_nats_timeout", False):
        return

    @functools.wraps(original)
    async def fetch(self: JetStreamContext.PullSubscription, *args: Any, **kwargs: Any) -> list[Msg]:
        try:
            return await original(self, *args, **kwargs)
        except nats.errors.TimeoutError:
            raise
        except TimeoutError as exc:  # asyncio.TimeoutError is TimeoutError on 3.11
            raise nats.errors.TimeoutError from exc

    fetch._nats_timeout = True  # type: ignore[attr-defined]
    JetStreamContext.PullSubscription.fetch = fetch  # type: ignore[method-assign]


_fetch_times_out_as_nats()


def nats_servers(nats_url: str) -> list[str]:
    """NATS_URL names one server or, comma-separated, several nodes of a cluster: the client tries them all
    and reconnects to another when its node goes away."""
    return [url.strip() for url in nats_url.split(",") if url.strip()]


class Broker(NatsBroker):
    """FastStream's NATS broker, whose stop does not wait on a NATS that is gone.

    Without a connection nothing in flight can be acked or published: the handlers still running are not
    waited for (their messages come back after the ack wait), and the connection is closed, not drained
    (nats-py refuses to drain while it reconnects, and FastStream then fails the shutdown with a traceback
    before the clients are closed). Connected, it stops as FastStream does: handlers finish within
    graceful_timeout, then the connection drains."""

    @property
    def nats_up(self) -> bool:
        return self._connection is not None and bool(self._connection.is_connected)

    async def stop(self, exc_type: type[BaseException] | None = None, exc_val: BaseException | None = None,
                   exc_tb: TracebackType | None = None) -> None:
        if self._connection is not None and not self.nats_up:
            log.warning("NATS unreachable at shutdown: in-flight messages are left to come back after their ack wait")
            self.config.broker_config.graceful_timeout = None
        try:
            await super().stop(exc_type, exc_val, exc_tb)
        except (nats.errors.ConnectionReconnectingError, nats.errors.ConnectionClosedError):
            if self._connection is not None:
                try:
                    await self._connection.close()
                except Exception as exc:  # nats-py flushing its buffer into the transport that went away
                    log.warning("NATS connection closed uncleanly: %r", exc)
                self._connection = None
            self.config.disconnect()


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    if not (settings.NATS_TLS_CA or settings.NATS_TLS_CERT):
        return None
    context = ssl.create_default_context(cafile=settings.NATS_TLS_CA)
    if settings.NATS_TLS_CERT:
        context.load_cert_chain(settings.NATS_TLS_CERT, settings.NATS_TLS_KEY)
    return context


def inbox_prefix(settings: Settings) -> str | None:
    """The reply inboxes of this connection: its user may subscribe to no other (rabota_common.nats_auth)."""
    if settings.NATS_INBOX_PREFIX:
        return settings.NATS_INBOX_PREFIX
    return nats_auth.inbox_prefix(settings.NATS_USER) if settings.NATS_USER else None


def nats_options(settings: Settings) -> dict[str, Any]:
    """nats.connect() keyword arguments for the credentials, TLS and inbox prefix in the settings: every NATS
    connection of the product (the broker, ensure_jetstream) is made with them."""
    options: dict[str, Any] = {}
    if settings.NATS_USER:
        options["user"] = settings.NATS_USER
        options["password"] = settings.NATS_PASSWORD.get_secret_value() if settings.NATS_PASSWORD else ""
    if settings.NATS_CREDS:
        options["user_credentials"] = settings.NATS_CREDS
    if (tls := _tls_context(settings)) is not None:
        options["tls"] = tls
    if (prefix := inbox_prefix(settings)) is not None:
        options["inbox_prefix"] = prefix
    return options


def _security(settings: Settings) -> BaseSecurity | None:
    tls = _tls_context(settings)
    if settings.NATS_CREDS:
        return NatsCredentials(settings.NATS_CREDS, ssl_context=tls)
    if settings.NATS_USER:
        password = settings.NATS_PASSWORD.get_secret_value() if settings.NATS_PASSWORD else ""
        return NatsUserPassword(settings.NATS_USER, password, ssl_context=tls)
    return NatsSecurity(ssl_context=tls, use_ssl=True) if tls is not None else None


def make_broker(settings: Settings, tracer_provider: TracerProvider) -> Broker:
    return Broker(
        nats_servers(settings.NATS_URL),
        security=_security(settings),
        inbox_prefix=inbox_prefix(settings) or DEFAULT_INBOX_PREFIX,
        middlewares=[NatsTelemetryMiddleware(tracer_provider=tracer_provider),
                     NatsPrometheusMiddleware(registry=REGISTRY)],
        graceful_timeout=30.0,
        drain_timeout=5,  # the drain at shutdown: pending acks and publishes are flushed within a round trip
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,  # a cluster node that went away: the next one is tried within a second
        logger=logging.getLogger("faststream"),
    )


def stream(name: str) -> JStream:
    """Reference to a stream that `ensure_jetstream` created (FastStream must not redeclare it)."""
    return JStream(name, declare=False)


# JetStream never gives up on a message by itself: a transient cause may hold one for hours (issue 15), and
# consume.fail decides when a failing one is dead-lettered (MAX_DELIVER tries of an unforeseen error).
UNLIMITED_DELIVERIES = -1


def consumer_config(settings: Settings, ack_wait_s: float = 60.0) -> ConsumerConfig:
    return ConsumerConfig(ack_wait=ack_wait_s, max_deliver=UNLIMITED_DELIVERIES, max_ack_pending=1000)


def durable_subscriber(broker: NatsBroker, settings: Settings, subject_filter: str, durable: str, *,
                       batch_size: int = 1, ack_wait_s: float = 60.0) -> Any:
    """A durable pull consumer with explicit (manual) acks: the only kind of JetStream consumer we use. Its
    stream is the one the filter's subjects land in (subjects.stream_of)."""
    prefix = inbox_prefix(settings)  # FastStream's pull inboxes are `_INBOX.` unless told
    return broker.subscriber(
        subject_filter, stream=stream(stream_of(subject_filter)), durable=durable,
        inbox_prefix=f"{prefix}.".encode() if prefix else f"{DEFAULT_INBOX_PREFIX.decode()}.".encode(),
        pull_sub=PullSub(batch_size=batch_size, timeout=1.0), ack_policy=AckPolicy.MANUAL,
        config=consumer_config(settings, ack_wait_s=ack_wait_s),
    )


async def ensure_jetstream(nats_url: str, replicas: int = 1, settings: Settings | None = None) -> None:
    """Create the streams and the `resumes` object store; safe to run from every replica at start. `settings`
    gives the connection's credentials and TLS (nats_options)."""
    nc = await nats.connect(nats_servers(nats_url), connect_timeout=5, max_reconnect_attempts=3,
                            **(nats_options(settings) if settings is not None else {}))
    try:
        js = nc.jetstream()
        for spec in subjects.STREAMS:
            config = StreamConfig(
                name=spec.name,
                subjects=list(spec.subjects),
                max_age=spec.max_age_s,
                max_bytes=spec.max_bytes,
                max_msgs=spec.max_msgs,
                max_msg_size=spec.max_msg_size,
                discard=DiscardPolicy.OLD,
                storage=StorageType.FILE,
                num_replicas=replicas,
                duplicate_window=120.0,
            )
            try:
                await js.add_stream(config)
            except BadRequestError:
                await js.update_stream(config)
        try:
            await js.object_store(subjects.RESUMES_BUCKET)
        except Exception:
            from nats.js.api import ObjectStoreConfig

            await js.create_object_store(
                subjects.RESUMES_BUCKET,
                config=ObjectStoreConfig(ttl=subjects.RESUMES_TTL_S, storage=StorageType.FILE,
                                         replicas=replicas),
            )
    finally:
        await nc.close()


# While a cluster node is lost the stream may have no leader for a few seconds (no responders, or no PubAck
# in time) and the client may be reconnecting: such a publish is tried again, not given up.
PUBLISH_RETRY_S = 30.0
_TRANSIENT = (NoRespondersError, nats.errors.TimeoutError, TimeoutError, ServiceUnavailableError, NoStreamResponseError,
              nats.errors.ConnectionReconnectingError, nats.errors.ConnectionClosedError)


async def publish(broker: NatsBroker, subject_name: str, message: BaseModel, msg_id: str | None = None) -> None:
    """Publish to JetStream and wait for the PubAck, so the message is durable when this returns. A retry
    after a lost PubAck can store the message twice unless it has a msg_id (JetStream dedupes on it); the
    consumers are idempotent either way."""
    headers = {"Nats-Msg-Id": msg_id} if msg_id else None
    await _publish_retrying(broker, subject_name, message, headers, 5.0)


async def _publish_retrying(broker: NatsBroker, subject_name: str, body: BaseModel | dict[str, Any],
                            headers: dict[str, str] | None, ack_wait_s: float) -> None:
    """Retry through a stream leader election or a reconnect (PUBLISH_RETRY_S), then give up loudly."""
    deadline = asyncio.get_running_loop().time() + PUBLISH_RETRY_S
    attempt = 0
    while True:
        attempt += 1
        try:
            await broker.publish(body, subject_name, headers=headers, stream=stream_of(subject_name),
                                 timeout=ack_wait_s)
            return
        except _TRANSIENT as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.warning("publish to %s failed (%s), retrying", subject_name, type(exc).__name__)
            await asyncio.sleep(min(2.0, 0.25 * attempt))


# The model of each stream's messages that can be published again (parked work, dead letters replayed).
MODELS: dict[str, type[BaseModel]] = {"HH_WEBHOOK": HhWebhookEvent, "HH_NEGOTIATION": NegotiationFound,
                                      "CRM_COMMAND": CrmCommand, "CHAT": ChatReply,
                                      "APP": AppEvent}


async def republish(broker: NatsBroker, subject_name: str, data: dict[str, Any]) -> None:
    """Publish a stored body (parked or dead-lettered) to its subject again, validated by its model when the
    subject has one. No Nats-Msg-Id: its first copy's id may still be in the dedupe window."""
    try:
        model = MODELS.get(stream_of(subject_name))
    except KeyError:
        model = None
    body: BaseModel | dict[str, Any] = model.model_validate(data) if model is not None else data
    await _publish_retrying(broker, subject_name, body, None, 10.0)


NO_PORTAL = "invalid"  # the DLQ subject's portal token of a dead letter whose subject named no member_id


async def dead_letter(broker: NatsBroker, stage: str, subject_name: str, delivered: int, reason: str,
                      data: dict[str, Any], *, crypto: Crypto) -> None:
    """Move a message to the DLQ stream (kept 30 days): its body, personal data, is sealed; the reason is not."""
    portal = subjects.portal_of(subject_name)
    if not is_member_id(portal):
        # A message on a subject whose portal token is no member_id (only a foreign publisher makes one) still
        # leaves its stream: under a DLQ subject of no portal, never into one.
        portal = NO_PORTAL
    letter = DeadLetter(stage=stage, subject=subject_name, reason=reason, deliveries=delivered,
                        sealed=crypto.seal_json(data))
    await publish(broker, subjects.DLQ.format(stage=stage, portal=portal), letter)
    DEAD_LETTERS.labels(stage, portal).inc()
    log.warning("dead letter stage=%s subject=%s reason=%s", stage, subject_name, reason)


def retry_delay(attempt: int, base_s: float = 1.0, cap_s: float = 60.0) -> float:
    return float(min(cap_s, base_s * 2 ** max(0, attempt - 1)))
