"""A portal paused by PAYMENT_REQUIRED: the probe is a token request on the portal's slot once it is due, and a
resume republishes the parked work and tells the responsible user once (real NATS and Redis, the Bitrix24
emulator)."""

from __future__ import annotations

import time
from typing import Any

from rabota_common import subjects
from rabota_common.models import AppEvent, B24Token, NegotiationFound
from rabota_common.runtime import Runtime
from rabota_common.store import PortalRecord
from rabota_poller.paused import probe_paused, resumed

from tests.integration.conftest import Sandbox
from tests.integration.poller.support import P1, with_portal


async def test_the_probe_is_due_only_at_its_time(bus_rt: Runtime) -> None:
    asked: list[str] = []

    async def b24_token(portal: str, stale_token: str | None = None) -> B24Token:
        asked.append(portal)
        return B24Token(ok=False, error="paused: PAYMENT_REQUIRED")

    bus_rt.b24_token = b24_token  # type: ignore[method-assign]
    assert not await probe_paused(bus_rt, P1)  # no such portal
    await bus_rt.store.save_portal(PortalRecord(member_id=P1, domain="d", client_endpoint="https://d/rest/"))
    assert not await probe_paused(bus_rt, P1)  # not paused
    await bus_rt.store.pause_portal(P1, reason="PAYMENT_REQUIRED", probe_at=time.time() + 3600)
    assert not await probe_paused(bus_rt, P1) and asked == []
    await bus_rt.store.update_portal(P1, probe_at=time.time() - 1)
    assert await probe_paused(bus_rt, P1) and asked == [P1]


async def test_a_resume_republishes_and_tells_once(sandbox: Sandbox, rt: Any, bus_rt: Runtime) -> None:
    runtime = with_portal(bus_rt, rt)
    subject = subjects.subject(subjects.HH_NEGOTIATION, portal=P1)
    for nid in ("1", "2"):
        await runtime.store.park(P1, subject, NegotiationFound(portal=P1, negotiation_id=nid, vacancy_id="9",
                                                               source="poll").model_dump(mode="json"))
    assert await resumed(runtime, AppEvent(portal=P1, event="b24_resumed")) == 2
    r = await sandbox.http.get(f"{sandbox.url}/_sandbox/stats", params={"portal": "demo"})
    assert r.json()["by_method"].get("im.notify.system.add") == 1
