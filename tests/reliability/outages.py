"""Outages of minutes during an import (issue 15, item 3): each ends with every response imported exactly once,
0 failures and 0 dead letters. Each run prints the outage, how long the import took after the recovery, and
what the app said meanwhile («ожидание: …»)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tests.e2e.harness import Driver
from tests.e2e.test_crm_entities import _wait_some
from tests.reliability.helpers import b24_knobs, dead_letters, deal_mode, finish_import_exactly

N = 120
OUTAGE_ENV = {"HH_RATE": "60", "HH_BURST": "20", "B24_RATE": "50", "B24_BURST": "200",
              "HH_SANDBOX_NEGOTIATIONS": str(N)}


class Watch:
    """Polls /api/import while the outage lasts: the waits it shows and that nothing turns into a failure."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.waiting: set[str] = set()
        self.failed_seen = 0
        self.unavailable = 0  # 503 answers of the app itself (Redis down)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            r = await self.driver.api("GET", "/import")
            if r.status_code == 200:
                body = r.json()
                self.waiting.update(body.get("waiting") or [])
                self.failed_seen = max(self.failed_seen, int(body["failed"]))
            else:
                self.unavailable += 1
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                pass


async def import_through(driver: Driver, name: str, outage: Callable[[], Awaitable[Any]],
                         recovered: Callable[[], Awaitable[Any]], n: int = N) -> dict[str, Any]:
    """Start an import, let some of it be written, run the `outage` (it returns when it is over, `recovered`
    returns when the party is back) and require the import to end exact; returns the figures it printed."""
    await b24_knobs(driver, rate=50.0, burst=200)
    await deal_mode(driver)
    await b24_knobs(driver, latency_ms=150)  # slow enough that the outage falls mid-import
    started = time.monotonic()
    assert (await driver.api("POST", "/import")).status_code == 202
    await _wait_some(driver, 2, n // 6, limit_s=120)
    before = len(await driver.entities("demo", 2))
    watch = Watch(driver)
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch.run(stop))
    try:
        down = time.monotonic()
        await outage()
        await recovered()
        back = time.monotonic()
        result, found = await finish_import_exactly(driver, n, limit_s=300)
    finally:
        stop.set()
        await watcher
    letters = await dead_letters(driver)
    figures = {"outage": name, "outage_s": round(back - down, 1), "written_before": before,
               "finish_after_recovery_s": round(time.monotonic() - back, 1),
               "import_s": round(time.monotonic() - started, 1), "found": result["found"],
               "imported": result["imported"], "failed": result["failed"], "duplicates": found["duplicates"],
               "losses": found["losses"], "dead_letters": len(letters), "waiting_shown": sorted(watch.waiting),
               "failed_seen": watch.failed_seen, "app_503s": watch.unavailable}
    print(f"outage: {figures}")
    assert not letters, [(x["subject"], x["reason"]) for x in letters[:5]]
    assert watch.failed_seen == 0, figures
    return figures
