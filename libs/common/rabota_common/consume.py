"""The one way a JetStream handler settles a message: ack after the effect, nak with delay, or dead-letter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.message import StreamMessage
from faststream.nats import NatsMessage
from nats.aio.msg import Msg

from rabota_common.b24_client import B24Error
from rabota_common.bus import dead_letter, retry_delay
from rabota_common.errors import HhAuthLost, PermanentError, TransientError
from rabota_common.hh_client import HhError
from rabota_common.runtime import Runtime
from rabota_common.subjects import portal_of


class Delivery:
    """One JetStream delivery, whether FastStream wrapped it or it came raw inside a batch."""

    def __init__(self, msg: NatsMessage | Msg) -> None:
        self.raw: Msg = msg.raw_message if isinstance(msg, StreamMessage) else msg

    @property
    def subject(self) -> str:
        return str(self.raw.subject)

    @property
    def attempt(self) -> int:
        return int(self.raw.metadata.num_delivered)

    async def ack(self) -> None:
        await self.raw.ack()

    async def nack(self, delay: float) -> None:
        await self.raw.nak(delay=delay)

    async def in_progress(self) -> None:
        await self.raw.in_progress()


class CountedDelivery(Delivery):
    """A delivery whose attempt is the number of times its work failed, not of deliveries: a long task
    (an import listing) cut short by crashes and restarts is not used up by them."""

    def __init__(self, msg: NatsMessage | Msg, failures: int) -> None:
        super().__init__(msg)
        self.failures = failures

    @property
    def attempt(self) -> int:
        return self.failures


async def fail(rt: Runtime, stage: str, delivery: Delivery, data: dict[str, Any], exc: BaseException) -> None:
    """Settle a delivery whose work raised: dead-letter permanent errors, retry the rest until the last try."""
    if isinstance(exc, PermanentError):
        await dead_letter(rt.broker, stage, delivery.subject, delivery.attempt, exc.reason, data)
        await delivery.ack()
        return
    if isinstance(exc, HhAuthLost):
        # Nothing is lost while the user logs in again: the poller republishes it on hh_connected.
        try:
            await rt.store.park(portal_of(delivery.subject), delivery.subject, data)
        except Exception:
            rt.log.exception("%s: parking failed, waiting instead", stage)
            await delivery.nack(exc.delay_s or 600.0)
            return
        rt.log.warning("%s: %s; parked until re-login", stage, exc)
        await delivery.ack()
        return
    attempt = delivery.attempt
    delay = exc.delay_s if isinstance(exc, TransientError) and exc.delay_s else retry_delay(attempt)
    if isinstance(exc, TransientError | HhError | B24Error):
        rt.log.warning("%s: %s (delivery %s, retry in %.1fs)", stage, exc, attempt, delay)
    else:
        rt.log.error("%s failed on %s (delivery %s)", stage, delivery.subject, attempt, exc_info=exc)
    if attempt >= rt.settings.MAX_DELIVER:
        await dead_letter(rt.broker, stage, delivery.subject, attempt, f"{type(exc).__name__}: {exc}", data)
        await delivery.ack()
    else:
        await delivery.nack(delay)


async def settle(rt: Runtime, stage: str, msg: NatsMessage, data: dict[str, Any],
                 work: Callable[[], Awaitable[None]], failures: tuple[str, str] | None = None) -> None:
    """Run the work, then ack, retry or dead-letter. With `failures` (a Redis hash and field) the retries
    count failures of the work instead of deliveries (the consumer's max_deliver must then be higher)."""
    delivery = Delivery(msg)
    try:
        await work()
    except Exception as exc:
        if failures is not None:
            delivery = CountedDelivery(msg, int(await rt.redis.hincrby(failures[0], failures[1], 1)))
        await fail(rt, stage, delivery, data, exc)
        return
    await delivery.ack()
