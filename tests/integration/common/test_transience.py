"""Issue 15: only permanent causes become failures. Against a real NATS and Redis: a transient cause waits through
more deliveries than MAX_DELIVER and then completes, with «ожидание: …» noted and no dead letter; a permanent one
is dead-lettered at once; an unforeseen one after MAX_DELIVER tries, with its real cause; the token broker being
down is a transient cause that names the broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import nats.errors
import pytest
from nats.js.errors import ServiceUnavailableError
from rabota_common.b24_client import B24Error
from rabota_common.b24_session import THROTTLE_CAP_S, call_problem
from rabota_common.bus import consumer_config, ensure_jetstream, publish
from rabota_common.consume import settle, wait_out
from rabota_common.dlq import list_letters
from rabota_common.errors import PermanentError, TransientError
from rabota_common.hh_client import HhError
from rabota_common.models import NegotiationFound
from rabota_common.runtime import Runtime, build_runtime
from rabota_common.settings import Settings
from rabota_common.transience import AUTH_DOWN, BACKOFF_CAP_S, backoff_s, classify
from redis import exceptions as redis_errors

PORTAL = "0123456789abcdef0123456789abcdef"
MAX_DELIVER = 3


@pytest.fixture
async def rt(nats_url: str, redis_url: str) -> AsyncIterator[Runtime]:
    await ensure_jetstream(nats_url)
    runtime = build_runtime("transience-test", Settings(SANDBOX=True, NATS_URL=nats_url, REDIS_URL=redis_url,
                                                        METRICS_PORT=0, MAX_DELIVER=MAX_DELIVER))
    await runtime.broker.connect()
    try:
        yield runtime
    finally:
        await runtime.broker.stop()
        await runtime.close()


def test_classification_names_the_party() -> None:
    transient = [TransientError("x", cause="сервис токенов недоступен"), nats.errors.NoRespondersError(),
                 ServiceUnavailableError(), redis_errors.ConnectionError("gone"), TimeoutError(),
                 B24Error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"), B24Error(500, "INTERNAL_SERVER_ERROR", ""),
                 B24Error(599, "NETWORK", "refused"), B24Error(400, "OPERATION_TIME_LIMIT", ""),
                 HhError(503, [], None), HhError(429, [], None), HhError(599, [{"type": "network"}], None)]
    for exc in transient:
        assert classify(exc).kind == "transient", exc
    assert classify(nats.errors.NoRespondersError()).reason.startswith("шина сообщений NATS")
    assert "Redis" in classify(redis_errors.ConnectionError()).reason
    assert "Битрикс24" in classify(B24Error(503, "QUERY_LIMIT_EXCEEDED", "")).reason
    assert "rabota.by" in classify(HhError(502, [], None)).reason
    assert classify(PermanentError("Битрикс24 отклонил запись: поле обязательно")).kind == "permanent"
    assert classify(KeyError("bug")).kind == "unknown"
    assert classify(B24Error(400, "SOMETHING_NEW", "")).kind == "unknown"


def test_backoff_is_capped_and_jittered() -> None:
    delays = [backoff_s(n) for n in range(1, 40)]
    assert all(0 < d <= BACKOFF_CAP_S for d in delays)
    assert max(delays) > BACKOFF_CAP_S / 2  # reaches the cap's range
    assert len({round(backoff_s(12), 3) for _ in range(20)}) > 1  # two messages of one outage part ways


async def _drive(rt: Runtime, subject: str, work: Callable[[int], Awaitable[None]], limit_s: float = 30.0) -> int:
    """Deliver the one message on `subject` until it is settled for good; returns the deliveries it took."""
    js = rt.broker.connection.jetstream()
    sub = await js.pull_subscribe(subject, durable=f"t-{subject.replace('.', '-')}", stream="HH_NEGOTIATION",
                                  config=consumer_config(rt.settings, ack_wait_s=5.0))
    deliveries = 0
    deadline = time.monotonic() + limit_s
    try:
        while time.monotonic() < deadline:
            try:
                msgs = await sub.fetch(1, timeout=1.0)
            except TimeoutError:
                info = await sub.consumer_info()
                if info.num_pending == 0 and info.num_ack_pending == 0 and deliveries:
                    return deliveries
                continue
            for msg in msgs:
                deliveries += 1
                found = NegotiationFound.model_validate_json(msg.data)
                await settle(rt, "mapper", msg, found, lambda n=deliveries: work(n))  # type: ignore[arg-type]
        raise AssertionError(f"not settled in {limit_s}s after {deliveries} deliveries")
    finally:
        await sub.unsubscribe()


async def _one(rt: Runtime, nid: str) -> str:
    subject = f"hh.negotiation.{PORTAL}"
    await publish(rt.broker, subject, NegotiationFound(portal=PORTAL, negotiation_id=nid, vacancy_id="1",
                                                       source="poll"))
    return subject


async def _letters(rt: Runtime) -> list[tuple[str, str, int]]:
    letters = await list_letters(rt.broker.connection.jetstream(), crypto=rt.crypto)
    return [(x.letter.data["negotiation_id"], x.letter.reason, x.letter.deliveries) for x in letters]


async def test_transient_cause_outlasts_max_deliver_then_completes(rt: Runtime) -> None:
    subject = await _one(rt, "101")
    done: list[int] = []

    async def work(n: int) -> None:
        if n <= MAX_DELIVER + 3:  # an outage longer than the failure budget
            raise TransientError("Bitrix24 503", delay_s=0.05, cause="Битрикс24 временно не отвечает (503)")
        done.append(n)

    took = await _drive(rt, subject, work)
    assert done == [MAX_DELIVER + 4] and took == MAX_DELIVER + 4
    assert await _letters(rt) == []
    assert await rt.store.waiting(PORTAL) == ["Битрикс24 временно не отвечает (503)"]
    assert await rt.store.failures(PORTAL) == []


async def test_permanent_cause_dead_letters_at_once(rt: Runtime) -> None:
    subject = await _one(rt, "102")

    async def work(n: int) -> None:
        raise PermanentError("Битрикс24 отклонил запись: не заполнено обязательное поле")

    assert await _drive(rt, subject, work) == 1
    assert await _letters(rt) == [("102", "Битрикс24 отклонил запись: не заполнено обязательное поле", 1)]


async def test_unforeseen_cause_gets_max_deliver_tries_and_is_named(rt: Runtime) -> None:
    subject = await _one(rt, "103")

    async def work(n: int) -> None:
        raise KeyError("employer_state")

    assert await _drive(rt, subject, work, limit_s=60.0) == MAX_DELIVER
    [(nid, reason, deliveries)] = await _letters(rt)
    assert (nid, deliveries) == ("103", MAX_DELIVER) and "KeyError" in reason


async def test_token_broker_down_is_transient_and_named(rt: Runtime) -> None:
    # Nobody answers auth.* here: the request fails at once with no responders.
    with pytest.raises(TransientError) as caught:
        await asyncio.wait_for(rt.b24_token(PORTAL), timeout=40.0)
    assert caught.value.cause == AUTH_DOWN
    assert classify(caught.value).reason == AUTH_DOWN


class _Held:
    """A delivery in its 30th try, recording the delay it is handed back with (no broker needed for that)."""

    subject = f"crm.command.{PORTAL}"
    deliveries = 30

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def nack(self, delay: float) -> None:
        self.delays.append(delay)


async def test_a_throttled_bitrix24_waits_seconds_not_a_minute(rt: Runtime) -> None:
    """QUERY_LIMIT_EXCEEDED is the portal's bucket, which drains in seconds: however long it lasted, the next try
    is at most THROTTLE_CAP_S away (a 2-minute throttling ends ~5 s after it, not up to a minute); other causes keep
    the minute-long cap."""
    throttled = call_problem(B24Error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"), PORTAL, ["batch"])
    assert isinstance(throttled, TransientError) and throttled.delay_s is None
    down = TransientError("Bitrix24 500", cause="Битрикс24 временно не отвечает (500)")
    held = _Held()
    for exc in [throttled] * 20 + [down] * 20:
        await wait_out(rt, "crm-writer", held, exc, classify(exc))  # type: ignore[arg-type]
    assert all(0 < d <= THROTTLE_CAP_S for d in held.delays[:20])
    assert max(held.delays[20:]) > THROTTLE_CAP_S and max(held.delays[20:]) <= BACKOFF_CAP_S
