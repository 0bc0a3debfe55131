"""Cheap idle portals (issue 17): a portal whose webhooks are trusted is reconciled every RECONCILE_INTERVAL_S
with its vacancy lists only; a response whose webhook the sandbox dropped still arrives within that interval,
and the portal then falls back to polling every POLL_INTERVAL_S until a webhook is seen again."""

from __future__ import annotations

import time
from collections.abc import Awaitable

import pytest
import redis.asyncio as aioredis
from rabota_common.store import Store

from tests.e2e.harness import Driver, read_spans
from tests.e2e.test_hh_side import _hh, _one_lead_each, _start, _until

RECONCILE_S = 8.0
IDLE = pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20", "POLL_INTERVAL_S": "1",
                              "RECONCILE_INTERVAL_S": str(RECONCILE_S)})
FAST = pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20"})
LIST_ROUTES = {"GET /employers/{employer_id}/vacancies/active", "GET /employers/{employer_id}/managers"}


@IDLE
async def test_trusted_webhooks_make_idle_polls_cheap_and_a_dropped_webhook_still_arrives(driver: Driver) -> None:
    await _start(driver, negotiations=12)
    await driver.save_lead_settings()
    assert (await driver.api("POST", "/import")).status_code == 202
    await driver.wait_import()
    await _one_lead_each(driver)
    portal = (await driver.api("GET", "/status")).json()["portal"]["member_id"]
    redis = aioredis.Redis.from_url(driver.stack.redis_url)
    try:
        async def polls() -> int:
            return int(await redis.get(Store.key(portal, "poll", "count")) or 0)

        # A response by webhook: delivery works, the portal's webhooks are trusted.
        await _hh(driver, "POST", "/negotiations", json={"kind": "response", "resume": "normal"})
        await _one_lead_each(driver, 30)
        # (A poll may find the response before its webhook is handled and count it missed: the webhook, seen
        # after that, makes them trusted again, as poll.webhooks_trusted reads it.)
        await _until("the webhooks to be trusted", lambda: _trusted(redis, portal), 30)

        # Idle: reconciliations an interval apart ask HeadHunter for the vacancy lists only.
        # (The first poll after the webhook walks its vacancy once: its counters moved.)
        moved = await polls()
        await _until("a poll after the webhook", lambda: _above(polls, moved), 3 * RECONCILE_S)
        await _until("it to finish", lambda: _not(redis.exists(Store.key(portal, "poll", "running"))), 30)
        await _hh(driver, "POST", "/stats/reset")
        first = await polls()
        await _until("a poll after it", lambda: _above(polls, first), 3 * RECONCILE_S)
        started = time.monotonic()
        await _until("one more poll", lambda: _above(polls, first + 1), 3 * RECONCILE_S)
        # Not the fallback's one-second polling: the slot of a RECONCILE_S interval (at least half of it apart).
        assert time.monotonic() - started >= RECONCILE_S / 2 - 1.5
        stats = await _hh(driver, "GET", "/stats")
        assert set(stats["by_route"]) <= LIST_ROUTES, stats["by_route"]

        # Webhooks dropped at the sandbox: the new response still arrives within the reconciliation interval.
        await _hh(driver, "PUT", "/knobs", json={"webhooks": False})
        created = await _hh(driver, "POST", "/negotiations", json={"kind": "response", "resume": "normal"})
        leads = await _one_lead_each(driver, 2 * RECONCILE_S + 30)
        assert str(created["id"]) in {lead["ORIGIN_ID"] for lead in leads}
        deliveries = (await _hh(driver, "GET", "/webhooks"))["deliveries"]
        assert all(str(d["payload"].get("topic_id")) != str(created["id"]) for d in deliveries)
        # ... and the portal falls back to polling every POLL_INTERVAL_S.
        await _until("the miss to be recorded", lambda: redis.exists(Store.key(portal, "webhook", "missed")), 30)
        fallback = await polls()
        await _until("fallback polls", lambda: _above(polls, fallback + 2), RECONCILE_S)
    finally:
        await redis.aclose()


async def _trusted(redis: aioredis.Redis, portal: str) -> bool:
    seen, missed = await redis.mget([Store.key(portal, "webhook", "seen"), Store.key(portal, "webhook", "missed")])
    return seen is not None and (missed is None or float(seen) > float(missed))


async def _above(count: object, value: int) -> bool:
    return await count() > value  # type: ignore[operator]


async def _not(value: Awaitable[int]) -> bool:
    return not await value


@FAST
async def test_a_new_response_by_webhook_fetches_its_resume_once_alongside_its_negotiation(driver: Driver) -> None:
    """The webhook names the negotiation and the resume: the poller fetches both at once and the mapper finds
    the resume in the shared cache (it asks HeadHunter only for the PDF)."""
    await _start(driver, negotiations=6)
    await driver.save_lead_settings()
    assert (await driver.api("POST", "/import")).status_code == 202
    await driver.wait_import()
    await _one_lead_each(driver)
    await _hh(driver, "POST", "/stats/reset")
    await _hh(driver, "PUT", "/knobs", json={"latency_ms": 300})  # long enough to see two requests overlap
    created = await _hh(driver, "POST", "/negotiations", json={"kind": "response", "resume": "normal"})

    async def with_activity() -> bool:
        leads = [lead for lead in await driver.entities("demo", 1) if lead["ORIGIN_ID"] == str(created["id"])]
        acts = (await driver.http.get(f"{driver.stack.b24_url}/_sandbox/portals/demo/activities")).json()
        return bool(leads) and any(str(a["ownerId"]) == str(leads[0]["ID"]) for a in acts)

    await _until("the lead with its activity", with_activity, 60)
    routes = (await _hh(driver, "GET", "/stats"))["by_route"]
    resume_gets = {r: n for r, n in routes.items() if r.startswith("GET /resumes/") and "download" not in r}
    assert sum(resume_gets.values()) == 1, routes
    assert sum(n for r, n in routes.items() if "download" in r) == 1, routes
    assert routes.get("GET /negotiations/{id}", 0) == 1, routes
    spans = [s for s in read_spans(driver.stack.trace_dir) if s["name"] == "HeadHunter GET"]
    [negotiation] = [s for s in spans if s["attributes"]["url.path"] == f"/negotiations/{created['id']}"]
    # The import's resumes were the mapper's; the new response's is the poller's, and the only one it asked.
    [resume] = [s for s in spans if s["attributes"]["url.path"].startswith("/resumes/")
                and "download" not in s["attributes"]["url.path"] and s["service"] == "rabota-sync-poller"]
    assert negotiation["service"] == "rabota-sync-poller"
    # At the same time: each started before the other ended.
    assert resume["start"] < negotiation["end"] and negotiation["start"] < resume["end"], (negotiation, resume)
