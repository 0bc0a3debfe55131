"""Issue 15: a healthy stack with nothing to do is quiet. An ERROR line, or a traceback, is something an
operator must look at, so an idle minute logs none in any service."""

from __future__ import annotations

import asyncio
import re
import time

from rabota_stack.processes import SERVICES

from tests.e2e.harness import Driver

IDLE_S = 60.0
NOISE = re.compile(r"\bERROR\b|Traceback")


def noise(driver: Driver) -> dict[str, list[str]]:
    """The ERROR and traceback lines of each service's log so far."""
    found = {}
    for name in SERVICES:
        text = driver.stack.group.get(name).log_path.read_text(errors="replace")
        lines = [line for line in text.splitlines() if NOISE.search(line)]
        if lines:
            found[name] = lines
    return found


async def test_an_idle_stack_logs_no_error_and_no_traceback(driver: Driver) -> None:
    # A portal installed, HeadHunter connected, settings saved: the poller polls it, the consumers wait.
    await driver.install("demo")
    await driver.open_app("demo")
    assert (await driver.connect_hh()).status_code == 200
    await driver.save_lead_settings()
    deadline = time.monotonic() + IDLE_S
    while True:
        found = noise(driver)
        assert not found, f"an idle stack logged errors: {found}"
        assert not driver.stack.group.dead(), driver.stack.group.dead()
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(1.0)  # the next look at the logs
