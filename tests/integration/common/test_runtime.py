"""A service's runtime against a real NATS and Redis: token requests to the broker (answered, waited for while
the broker restarts, named as the broker's outage when it stays away), background loops started again when they
die, and loops drained on shutdown."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from rabota_common import runtime as runtime_module
from rabota_common import subjects
from rabota_common.errors import TransientError
from rabota_common.models import B24Token, HhToken, TokenRequest
from rabota_common.runtime import Runtime, drain, supervised
from rabota_common.transience import AUTH_DOWN

PORTAL = "e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7"  # a member_id


async def serve_tokens(rt: Runtime) -> asyncio.Task[None]:
    """A token broker on the same NATS: answers each request with the portal and the stale token it named."""
    nc = rt.broker.connection

    async def answer(msg: object) -> None:
        req = TokenRequest.model_validate_json(msg.data)  # type: ignore[attr-defined]
        reply = B24Token if msg.subject == subjects.AUTH_B24_TOKEN else HhToken  # type: ignore[attr-defined]
        token = reply(ok=True, access_token=f"{req.portal}:{req.stale_token}")
        await msg.respond(token.model_dump_json().encode())  # type: ignore[attr-defined]

    subs = [await nc.subscribe(s, cb=answer) for s in (subjects.AUTH_B24_TOKEN, subjects.AUTH_HH_TOKEN,
                                                       subjects.AUTH_HH_REVOKED)]

    async def hold() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            for sub in subs:
                await sub.unsubscribe()

    await nc.flush()
    return asyncio.create_task(hold())


async def test_token_requests_are_answered_by_the_broker(bus_rt: Runtime) -> None:
    broker = await serve_tokens(bus_rt)
    try:
        assert (await bus_rt.b24_token(PORTAL)).access_token == f"{PORTAL}:None"
        assert (await bus_rt.hh_token(PORTAL, "old")).access_token == f"{PORTAL}:old"
        assert (await bus_rt.hh_revoked(PORTAL, "t")).access_token == f"{PORTAL}:t"
    finally:
        broker.cancel()


async def test_a_restarting_broker_is_waited_for(bus_rt: Runtime) -> None:
    async def late_broker() -> asyncio.Task[None]:
        await asyncio.sleep(0.5)  # the broker restarting: no responders meanwhile
        return await serve_tokens(bus_rt)

    starting = asyncio.create_task(late_broker())
    try:
        assert (await bus_rt.b24_token(PORTAL)).ok
    finally:
        (await starting).cancel()


async def test_a_broker_that_stays_away_is_named(bus_rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_module, "AUTH_RESTART_WAIT_S", 0.5)
    with pytest.raises(TransientError) as caught:
        await bus_rt.b24_token(PORTAL)
    assert caught.value.cause == AUTH_DOWN


async def test_a_dying_loop_is_started_again_until_asked_to_stop(bus_rt: Runtime) -> None:
    runs: list[int] = []
    stop, third = asyncio.Event(), asyncio.Event()

    async def loop(stop_: asyncio.Event) -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise TransientError("NATS consumer lost its leader")
        third.set()
        await stop_.wait()

    task = asyncio.create_task(supervised(bus_rt, loop, stop))
    await asyncio.wait_for(third.wait(), 10)  # started again after 0.5 s, then after 1 s
    stop.set()
    await asyncio.wait_for(task, 5)
    assert runs == [0, 1, 2]

    async def always_failing(stop_: asyncio.Event) -> None:
        raise KeyError("bug")

    stop = asyncio.Event()
    task = asyncio.create_task(supervised(bus_rt, always_failing, stop))
    await asyncio.sleep(0)
    stop.set()  # asked to stop while it waits to start again: it returns
    await asyncio.wait_for(task, 5)


async def test_drain_waits_for_work_then_cancels_what_is_left(bus_rt: Runtime) -> None:
    finished: list[str] = []

    async def quick() -> None:
        await asyncio.sleep(0.1)
        finished.append("quick")

    async def stuck() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        finished.append("cancelled")

    tasks = [asyncio.create_task(quick()), asyncio.create_task(stuck())]
    started = asyncio.get_running_loop().time()
    await drain(bus_rt, tasks, limit_s=1.0)
    assert sorted(finished) == ["cancelled", "quick"] and all(t.done() for t in tasks)
    assert asyncio.get_running_loop().time() - started < 5
