"""Graceful shutdown under load: SIGTERM to the writer, the mapper and the poller mid-import. Each exits
cleanly and soon; in-flight work is finished or returned to the stream, never acked before it is durable,
so the import still ends with exactly one deal, contact and activity each and exact counts."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest
from rabota_stack.processes import SERVICES

from tests.e2e.harness import Driver, until
from tests.e2e.test_crm_entities import _wait_some
from tests.reliability.helpers import b24_knobs, deal_mode, finish_import_exactly

N = 150


@pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20", "HH_SANDBOX_NEGOTIATIONS": str(N)})
async def test_sigterm_during_import_loses_and_duplicates_nothing(driver: Driver) -> None:
    await deal_mode(driver)
    await b24_knobs(driver, latency_ms=300)
    assert (await driver.api("POST", "/import")).status_code == 202
    stops: list[tuple[str, int | None, float]] = []
    for name, after in (("crm_writer", 5), ("mapper", 30), ("crm_writer", 60), ("poller", 80)):
        await _wait_some(driver, 2, after, limit_s=120)
        t0 = time.monotonic()
        code = await asyncio.to_thread(driver.stack.restart_service, name)
        stops.append((name, code, time.monotonic() - t0))
    _, found = await finish_import_exactly(driver, N, limit_s=180)
    print(f"sigterm: {found} after {[(n, c, round(s, 1)) for n, c, s in stops]} (service, exit code, restart s)")
    assert all(code == 0 for _, code, _ in stops), stops
    assert all(took < 20 for _, _, took in stops), stops


@pytest.mark.parametrize("gone", ["nats", "redis"])
@pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20", "HH_SANDBOX_NEGOTIATIONS": str(N)})
async def test_sigterm_ends_every_service_when_nats_or_redis_is_gone(driver: Driver, gone: str) -> None:
    """Mid-import (work in flight, messages unacked), NATS or Redis is killed; once every service has seen it
    (its /readyz says 503), SIGTERM ends each of them within 10 s: nothing waits on what cannot come back."""
    await deal_mode(driver)
    await b24_knobs(driver, latency_ms=300)
    assert (await driver.api("POST", "/import")).status_code == 202
    await _wait_some(driver, 2, 5, limit_s=120)
    stack = driver.stack
    stack.group.stop_one(stack.group.get(gone), sig=signal.SIGKILL)
    services = [name for name in SERVICES if name in stack.config.services]

    async def all_unready() -> bool:
        codes = []
        for name in services:
            try:
                codes.append((await driver.http.get(f"{stack.metrics_url(name)}/readyz", timeout=5.0)).status_code)
            except httpx.HTTPError:
                codes.append(0)
        return all(code == 503 for code in codes)

    await until(f"every service to see {gone} gone", 60, all_unready)
    took = await asyncio.to_thread(stack.group.terminate, services, 10.0)
    print(f"sigterm with {gone} gone: {took} (service: seconds to exit, None = still running after 10 s)")
    assert all(s is not None for s in took.values()), took
