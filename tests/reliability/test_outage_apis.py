"""Bitrix24 and HeadHunter answering 503 for two minutes during an import: nothing lost, duplicated or failed,
and the app says what it waits for (issue 15). See outages.py."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.harness import Driver
from tests.reliability.helpers import b24_knobs, hh_knobs
from tests.reliability.outages import OUTAGE_ENV, import_through

OUTAGE_S = 120.0


@pytest.mark.timeout(900)
@pytest.mark.stack_env(OUTAGE_ENV)
async def test_bitrix24_answers_503_for_two_minutes(driver: Driver) -> None:
    async def outage() -> None:
        await b24_knobs(driver, error_rate_503=1.0)
        await asyncio.sleep(OUTAGE_S)  # the outage is the subject: it lasts this long by definition
        await b24_knobs(driver, error_rate_503=0.0)

    figures = await import_through(driver, "Bitrix24 503 for 120 s", outage, lambda: asyncio.sleep(0))
    assert any("Битрикс24" in w for w in figures["waiting_shown"]), figures


@pytest.mark.timeout(900)
@pytest.mark.stack_env(OUTAGE_ENV)
async def test_headhunter_answers_503_for_two_minutes(driver: Driver) -> None:
    async def outage() -> None:
        await hh_knobs(driver, error_rate_503=1.0)
        await asyncio.sleep(OUTAGE_S)
        await hh_knobs(driver, error_rate_503=0.0)

    figures = await import_through(driver, "HeadHunter 503 for 120 s", outage, lambda: asyncio.sleep(0))
    assert any("rabota.by" in w for w in figures["waiting_shown"]), figures
