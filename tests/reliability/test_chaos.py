"""Chaos import: responses imported while a random service is SIGKILLed and restarted every few seconds and
both sandboxes inject 5xx, 503 (QUERY_LIMIT_EXCEEDED on Bitrix24), latency spikes and token expiries.

End state: exactly one deal and one activity per response and one contact per applicant, an import summary
that adds up, nothing in the DLQ. CHAOS_N sets the size: 150 locally, the issue's 2 000 when CI=true
(about 5 minutes on the 2-core machine: 98 kills, ~500 HeadHunter faults, 32 token expiries)."""

from __future__ import annotations

import asyncio
import os
import random
import time
from typing import Any

import pytest

from tests.e2e.harness import Driver
from tests.e2e.test_crm_entities import _wait_writer_idle
from tests.reliability.helpers import b24_knobs, dead_letters, deal_mode, exactly_one_each, hh_knobs

N = int(os.environ.get("CHAOS_N") or (2000 if os.environ.get("CI") == "true" else 150))
KILL_EVERY_S = float(os.environ.get("CHAOS_KILL_EVERY_S", "3"))
VICTIMS = ("poller", "mapper", "crm_writer", "auth")
B24_FAULTS = {"error_rate_5xx": 0.05, "error_rate_503": 0.05, "latency_spike_rate": 0.05, "latency_spike_ms": 2000}
HH_FAULTS = {"error_rate_5xx": 0.05, "error_rate_503": 0.05}
CALM = {"error_rate_5xx": 0.0, "error_rate_503": 0.0}


class Chaos:
    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.kills: list[str] = []
        self.expiries = 0
        self.hh_spikes = 0
        self.rng = random.Random(int(os.environ.get("CHAOS_SEED", "8")))

    async def run(self, stop: asyncio.Event) -> None:
        tick = 0
        while not stop.is_set():
            await asyncio.sleep(KILL_EVERY_S)
            if stop.is_set():
                return
            tick += 1
            victim = self.rng.choice(VICTIMS)
            await asyncio.to_thread(self.driver.stack.restart_service, victim, True)
            self.kills.append(victim)
            if tick % 3 == 0:  # both sides' tokens expire at once
                await self.driver.http.post(f"{self.driver.stack.b24_url}/_sandbox/portals/demo/tokens/expire")
                await self.driver.http.post(f"{self.driver.stack.hh_url}/_sandbox/tokens/expire", json={})
                self.expiries += 1
            spike = tick % 4 == 1  # HeadHunter slows down for one period now and then
            await hh_knobs(self.driver, latency_ms=800 if spike else 0)
            self.hh_spikes += spike


@pytest.mark.timeout(float(os.environ.get("CHAOS_LIMIT_S", "600")) + 300)
@pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20", "B24_RATE": "50", "B24_BURST": "200",
                        "HH_SANDBOX_NEGOTIATIONS": str(N)})
async def test_chaos_import_ends_with_exactly_one_of_everything(driver: Driver) -> None:
    await b24_knobs(driver, rate=50.0, burst=200)  # this test is about correctness, not the budget
    await deal_mode(driver)
    await b24_knobs(driver, **B24_FAULTS)
    await hh_knobs(driver, **HH_FAULTS)
    chaos = Chaos(driver)
    stop = asyncio.Event()
    started = time.monotonic()
    assert (await driver.api("POST", "/import")).status_code == 202
    task = asyncio.create_task(chaos.run(stop))
    body: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + float(os.environ.get("CHAOS_LIMIT_S", "600"))
        while time.monotonic() < deadline:
            r = await driver.api("GET", "/import")
            body = r.json() if r.status_code == 200 else body
            if body.get("state") == "done":
                break
            await asyncio.sleep(1.0)
    finally:
        stop.set()
        await task
    took = time.monotonic() - started
    await b24_knobs(driver, **CALM, latency_spike_rate=0.0)
    await hh_knobs(driver, **CALM, latency_ms=0)
    b24 = (await driver.http.get(f"{driver.stack.b24_url}/_sandbox/stats", params={"portal": "demo"})).json()
    hh = (await driver.http.get(f"{driver.stack.hh_url}/_sandbox/stats")).json()
    letters = await dead_letters(driver)
    faults = {"b24": b24["injected"], "hh_5xx": hh["status"].get("500", 0), "hh_503": hh["status"].get("503", 0),
              "token_expiries": chaos.expiries, "hh_latency_periods": chaos.hh_spikes}
    kills = {v: chaos.kills.count(v) for v in VICTIMS}
    print(f"chaos: {N} responses in {took:.0f}s, kills {len(chaos.kills)} {kills}, faults {faults}"
          f", summary {({k: body.get(k) for k in ('state', 'found', 'imported', 'failed', 'listing_done')})}"
          f", dead letters {len(letters)} {[(x['subject'], x['reason']) for x in letters[:3]]}")
    assert body.get("state") == "done", f"import did not finish under chaos: {body}"
    await _wait_writer_idle(driver, limit_s=120)
    found = await exactly_one_each(driver)
    print(f"chaos: found {found}")
    assert found["duplicates"] == 0 and found["losses"] == 0, found
    assert found["deals"] == N
    assert body["found"] == N and body["imported"] + body["failed"] == N and body["failed"] == 0, body
    assert not letters, [(x["subject"], x["reason"]) for x in letters[:5]]
