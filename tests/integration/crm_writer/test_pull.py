"""The crm-writer's pull engine against a real NATS and Redis: a fetched batch is split into portal groups, each
portal's commands are written in the order they came, unreadable or misaddressed commands are dead-lettered at once,
and every message is settled (the Bitrix24 write itself, `write_group`, is replaced by a recorder here)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from rabota_common import subjects
from rabota_common.dlq import list_letters
from rabota_common.errors import TransientError
from rabota_common.models import ActivityContent, ContactData, CrmCommand
from rabota_common.runtime import Runtime
from rabota_crm_writer import pull
from rabota_crm_writer.writer import Outcome

P1 = "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1"  # member_ids
P2 = "e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2"


def command(portal: str, nid: str) -> CrmCommand:
    return CrmCommand(
        portal=portal, negotiation_id=nid, vacancy_id="100", kind="response", hh_status="response",
        entity_type="lead", entity_type_id=1, responsible_id=1, title="Отклик: Иван Петров", comments="",
        contact=ContactData(name="Иван", last_name="Петров"), created_date="01-12-2026", status_name="Отклик",
        vacancy_name="Повар", applicant_key=f"r{nid}",
        activity=ActivityContent(title="Отклик", vacancy="Повар", full_name="Иван Петров", applicant_key=f"r{nid}"))


class Recorder:
    """Stands in for the Bitrix24 write: remembers each group, fails the first `failures` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.groups: list[tuple[str, list[str]]] = []
        self.failures = failures

    async def __call__(self, rt: Runtime, portal: str, group: list[tuple[CrmCommand, int]]) -> list[Outcome]:
        if self.failures:
            self.failures -= 1
            raise TransientError("Bitrix24 503", delay_s=0.05, cause="Битрикс24 временно не отвечает (503)")
        self.groups.append((portal, [cmd.negotiation_id for cmd, _ in group]))
        return [Outcome(ok=True, entity_id=int(cmd.negotiation_id), created=True) for cmd, _ in group]

    def written(self, portal: str) -> list[str]:
        return [nid for p, nids in self.groups if p == portal for nid in nids]


async def settled(rt: Runtime, limit_s: float = 20.0) -> None:
    """Until the writer's consumer holds nothing pending or unacknowledged."""
    js = rt.broker.connection.jetstream()
    stream = subjects.stream_of(pull.COMMANDS)
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            info = await js.consumer_info(stream, "crm-writer")
            if info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.consumer_seq > 0:
                return
        except Exception:  # the consumer is not there yet
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("the writer's messages were not settled in time")


async def write_all(rt: Runtime, recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the writer's pull loop (writing with `recorder`) until every command is settled, then stop it."""
    monkeypatch.setattr(pull, "write_group", recorder)
    monkeypatch.setattr(pull, "IMPORT_LINGER_S", 0.5)
    stop = asyncio.Event()
    task = asyncio.create_task(pull.pull_loop(rt, stop))
    try:
        await settled(rt)  # a retried command is pending again while its retry waits
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def publish_raw(rt: Runtime, portal: str, data: bytes) -> None:
    await rt.broker.connection.jetstream().publish(subjects.subject(subjects.CRM_COMMAND, portal=portal), data)


async def test_each_portals_commands_are_written_in_order_and_settled(bus_rt: Runtime,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(1, 31):
        portal = P1 if i % 3 else P2
        await publish_raw(bus_rt, portal, command(portal, str(i)).model_dump_json().encode())
    recorder = Recorder()
    await write_all(bus_rt, recorder, monkeypatch)
    assert recorder.written(P1) == [str(i) for i in range(1, 31) if i % 3]
    assert recorder.written(P2) == [str(i) for i in range(1, 31) if not i % 3]
    assert all(len({p for p, _ in [g]}) == 1 for g in recorder.groups)  # a group never mixes portals
    assert await bus_rt.store.failures(P1) == [] and await list_letters(
        bus_rt.broker.connection.jetstream(), crypto=bus_rt.crypto) == []


async def test_unreadable_and_misaddressed_commands_are_dead_lettered_at_once(bus_rt: Runtime,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    await publish_raw(bus_rt, P1, b'{"portal": "not a command"}')
    await publish_raw(bus_rt, P1, command(P2, "7").model_dump_json().encode())  # P2's command on P1's subject
    await publish_raw(bus_rt, P1, command(P1, "8").model_dump_json().encode())
    recorder = Recorder()
    await write_all(bus_rt, recorder, monkeypatch)
    assert recorder.groups == [(P1, ["8"])]
    letters = await list_letters(bus_rt.broker.connection.jetstream(), crypto=bus_rt.crypto)
    reasons = sorted(x.letter.reason for x in letters)
    assert len(reasons) == 2 and reasons[0].startswith("command for portal " + P2) and \
        reasons[1].startswith("unreadable command"), reasons
    assert all(x.letter.deliveries == 1 for x in letters)


async def test_a_transient_failure_of_the_write_is_retried_until_written(bus_rt: Runtime,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    await publish_raw(bus_rt, P1, command(P1, "9").model_dump_json().encode())
    recorder = Recorder(failures=2)
    await write_all(bus_rt, recorder, monkeypatch)
    assert recorder.groups == [(P1, ["9"])] and recorder.failures == 0
    assert await bus_rt.store.failures(P1) == []


async def test_in_flight_waits_for_room_and_a_stop_ends_the_wait() -> None:
    in_flight = pull.InFlight(2)
    stop = asyncio.Event()
    assert await in_flight.room(stop) == 2
    in_flight.add(2)
    waiting: Any = asyncio.create_task(in_flight.room(stop))
    await asyncio.sleep(0)
    assert not waiting.done()
    await in_flight.done(1)
    assert await asyncio.wait_for(waiting, 5) == 1
    in_flight.add(1)
    waiting = asyncio.create_task(in_flight.room(stop))
    stop.set()
    assert await asyncio.wait_for(waiting, 5) == 1  # at least one, even when stopping
