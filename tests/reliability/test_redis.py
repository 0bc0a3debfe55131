"""Redis restarted (AOF) and Redis's ledger wiped mid-import: the services ride out the outage, the import
resumes and ends exact, and the ORIGIN_ID fallback keeps every deal, contact and activity single."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from tests.e2e.harness import Driver
from tests.e2e.test_crm_entities import LOSE_LEDGER, _wait_some
from tests.reliability.helpers import b24_knobs, deal_mode, finish_import_exactly

N = 150


@pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20", "HH_SANDBOX_NEGOTIATIONS": str(N)})
async def test_redis_killed_then_wiped_mid_import(driver: Driver) -> None:
    await deal_mode(driver)
    await b24_knobs(driver, latency_ms=300)
    started = time.monotonic()
    assert (await driver.api("POST", "/import")).status_code == 202
    await _wait_some(driver, 2, 10, limit_s=120)
    # SIGKILL: what Redis acknowledged is in its append-only file; the services see it gone for 2 s.
    await asyncio.to_thread(driver.stack.restart_service, "redis", True, 2.0)
    await _wait_some(driver, 2, 60, limit_s=120)
    r = aioredis.Redis.from_url(driver.stack.redis_url)
    wiped = await r.eval(LOSE_LEDGER, 0)  # type: ignore[misc]
    await r.aclose()
    result, found = await finish_import_exactly(driver, N, limit_s=240)
    print(f"redis: {found}, ledger keys wiped {wiped}, import {time.monotonic() - started:.1f}s, {result}")
