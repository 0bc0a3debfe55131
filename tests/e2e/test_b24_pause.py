"""PAYMENT_REQUIRED (the app's subscription ended) pauses the portal: work parks with no retry loop, the app
shows the banner, and when the portal is usable again the parked work is written and the user told once."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis
from rabota_common.crypto import Crypto
from rabota_common.store import Store

from tests.e2e.harness import Driver, until

PAUSE = pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20", "B24_PAUSE_PROBE_S": "2", "POLL_INTERVAL_S": "2"})


async def _b24_knobs(driver: Driver, **values: Any) -> None:
    r = await driver.http.put(f"{driver.stack.b24_url}/_sandbox/knobs", params={"portal": "demo"}, json=values)
    assert r.status_code == 200, r.text


async def _refused(driver: Driver) -> int:
    stats = (await driver.http.get(f"{driver.stack.b24_url}/_sandbox/stats", params={"portal": "demo"})).json()
    return int(stats["errors"].get("PAYMENT_REQUIRED", 0))


@PAUSE
async def test_payment_required_parks_the_work_and_it_resumes(driver: Driver) -> None:
    r = await driver.http.put(f"{driver.stack.hh_url}/_sandbox/knobs", json={"rate_limit_rps": None})
    assert r.status_code == 200, r.text
    await driver.install("demo")
    await driver.open_app("demo")
    assert (await driver.connect_hh()).status_code == 200
    await driver.save_lead_settings()
    await _b24_knobs(driver, payment_required=True)
    assert (await driver.api("POST", "/import")).status_code == 202

    async def banner() -> Any:
        portal = (await driver.api("GET", "/status")).json()["portal"]
        return portal["paused"] and portal["notice"]

    notice = await until("the subscription banner", 90, banner)
    assert notice.startswith("Подписка на приложение закончилась")

    member = (await driver.api("GET", "/status")).json()["portal"]["member_id"]
    r = aioredis.Redis.from_url(driver.stack.redis_url)
    store = Store(r, Crypto("unused: only the key is built"))

    async def all_parked() -> Any:
        body = (await driver.api("GET", "/import")).json()
        parked = await r.llen(store.key(member, "parked"))
        return body["found"] > 0 and parked == body["found"] and body
    try:
        progress = await until("every command to park", 120, all_parked)
        assert progress["imported"] == 0 and progress["failed"] == 0, progress
        assert not await driver.entities("demo", 1)
        # No retry loop: once parked, nothing is asked of the portal but one refresh per probe period.
        requests = (await driver.http.get(f"{driver.stack.b24_url}/_sandbox/stats",
                                          params={"portal": "demo"})).json()["requests_total"]
        assert await _refused(driver) <= 3, "every command was refused on its own"
    finally:
        await r.aclose()

    await _b24_knobs(driver, payment_required=False)
    result = await driver.wait_import(limit_s=120)
    stats = (await driver.http.get(f"{driver.stack.b24_url}/_sandbox/stats", params={"portal": "demo"})).json()
    print(f"paused import: {result['found']} parked, Bitrix24 requests while paused and after: "
          f"{stats['requests_total'] - requests}, PAYMENT_REQUIRED refusals {await _refused(driver)}")
    assert result["imported"] == result["found"] > 0 and result["failed"] == 0, result
    assert not (await driver.api("GET", "/status")).json()["portal"]["notice"]
    notes = (await driver.http.get(f"{driver.stack.b24_url}/_sandbox/portals/demo/notifications")).json()
    resumed = [n for n in notes if "подписка на приложение снова действует" in str(n)]
    assert len(resumed) == 1, notes
