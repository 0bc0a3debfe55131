"""Re-login (F11) against a real NATS and Redis and the Bitrix24 emulator: the responsible user is told once per
lost connection, and parked work is republished after the re-login."""

from __future__ import annotations

import time
from typing import Any

from rabota_common import subjects
from rabota_common.app_settings import SyncSettings
from rabota_common.models import NegotiationFound
from rabota_common.runtime import Runtime
from rabota_common.store import HhAccount, PortalRecord
from rabota_poller.relogin import RELOGIN_TAG, notify_relogin, responsible_of, unpark

from tests.integration.conftest import Sandbox
from tests.integration.poller.support import P1, last_found, with_portal


async def notifications(sandbox: Sandbox) -> int:
    r = await sandbox.http.get(f"{sandbox.url}/_sandbox/stats", params={"portal": "demo"})
    return int(r.json()["by_method"].get("im.notify.system.add", 0))


async def test_the_responsible_user_is_told_once_per_lost_connection(sandbox: Sandbox, rt: Any,
                                                                     bus_rt: Runtime) -> None:
    runtime = with_portal(bus_rt, rt)
    await runtime.store.save_hh(P1, HhAccount(access_token="t", relogin_required=False))
    assert not await notify_relogin(runtime, P1)  # logged in: nothing to tell
    await runtime.store.update_hh(P1, relogin_required=True)
    assert await notify_relogin(runtime, P1)
    assert not await notify_relogin(runtime, P1)
    assert await notifications(sandbox) == 1
    await runtime.store.clear_relogin_notice(portal=P1)  # logged in again, and lost again
    assert await notify_relogin(runtime, P1) and await notifications(sandbox) == 2
    assert RELOGIN_TAG.startswith("rabota-sync:")


async def test_the_responsible_is_the_settings_one_else_the_installer(bus_rt: Runtime) -> None:
    assert await responsible_of(bus_rt, P1) == 1  # nothing known
    await bus_rt.store.save_portal(PortalRecord(member_id=P1, domain="d", client_endpoint="https://d/rest/",
                                                installed_by=5, expires_at=time.time() + 60))
    assert await responsible_of(bus_rt, P1) == 5
    await bus_rt.store.put_settings(P1, SyncSettings(responsible_id=9, entity_type="lead",
                                                     stage_map={"response": "NEW", "invitation": "NEW"}))
    assert await responsible_of(bus_rt, P1) == 9


async def test_parked_work_is_republished(bus_rt: Runtime) -> None:
    assert await unpark(bus_rt, P1) == 0
    subject = subjects.subject(subjects.HH_NEGOTIATION, portal=P1)
    for nid in ("1", "2", "3"):
        found = NegotiationFound(portal=P1, negotiation_id=nid, vacancy_id="9", source="poll")
        await bus_rt.store.park(P1, subject, found.model_dump(mode="json"))
    assert await unpark(bus_rt, P1) == 3
    last = await last_found(bus_rt)
    assert last is not None and last.negotiation_id == "3"
    assert await bus_rt.store.take_parked(P1) == []
