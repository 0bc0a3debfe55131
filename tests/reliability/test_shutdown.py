"""Graceful shutdown under load: SIGTERM to the writer, the mapper and the poller mid-import. Each exits
cleanly and soon; in-flight work is finished or returned to the stream, never acked before it is durable,
so the import still ends with exactly one deal, contact and activity each and exact counts."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.e2e.harness import Driver
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
