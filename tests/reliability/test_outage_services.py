"""The token broker stopped for 60 s and Redis stopped for 30 s during an import: nothing lost, duplicated or
failed (issue 15). See outages.py."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.harness import Driver
from tests.reliability.outages import OUTAGE_ENV, import_through


async def _nothing() -> None:
    return None


@pytest.mark.timeout(900)
@pytest.mark.stack_env(OUTAGE_ENV)
async def test_token_broker_stopped_for_a_minute(driver: Driver) -> None:
    async def outage() -> None:  # stopped (SIGTERM), started again 60 s later; the test's loop keeps polling
        await asyncio.to_thread(driver.stack.restart_service, "auth", False, 60.0)

    figures = await import_through(driver, "token broker stopped 60 s", outage, _nothing)
    assert any("сервис токенов" in w for w in figures["waiting_shown"]), figures


@pytest.mark.timeout(900)
@pytest.mark.stack_env(OUTAGE_ENV)
async def test_redis_stopped_for_half_a_minute(driver: Driver) -> None:
    async def outage() -> None:  # SIGKILL; what Redis acknowledged is in its append-only file
        await asyncio.to_thread(driver.stack.restart_service, "redis", True, 30.0)

    await import_through(driver, "redis stopped 30 s", outage, _nothing)
