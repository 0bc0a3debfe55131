"""Back-sync (F10): a lead moved in Bitrix24 moves its negotiation on HeadHunter through the action URL,
only with the setting on, and the app's own writes do not bounce back. Also: the new-responses count
after an import walks no collection again."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.e2e.harness import Driver
from tests.e2e.test_hh_side import FAST, _hh, _one_lead_each, _start, _until

STAGE_MAP = {"response": "NEW", "consider": "IN_PROCESS", "phone_interview": "IN_PROCESS",
             "assessment": "IN_PROCESS", "interview": "PROCESSED", "offer": "PROCESSED",
             "hired": "CONVERTED", "discard": "JUNK"}
ACTION_ROUTE = "PUT /negotiations/{collection}/{nid}"


async def _move_lead(driver: Driver, lead_id: int, stage: str) -> None:
    r = await driver.http.post(f"{driver.stack.b24_url}/_sandbox/portals/demo/entities/1/{lead_id}",
                               json={"fields": {"STATUS_ID": stage}, "user_id": 1})
    assert r.status_code == 200, r.text


async def _state_of(driver: Driver, nid: str) -> str:
    return next(str(n["employer_state"]) for n in await driver.hh_negotiations() if str(n["id"]) == nid)


async def _first_poll_done(driver: Driver, limit_s: float = 30.0) -> None:
    import redis.asyncio as aioredis
    from rabota_common.store import Store

    portal = (await driver.api("GET", "/status")).json()["portal"]["member_id"]
    client = aioredis.Redis.from_url(driver.stack.redis_url)
    try:
        async def done() -> bool:
            count = await client.get(Store.key(portal, "poll", "count"))
            return bool(count) and not await client.exists(Store.key(portal, "poll", "running"))

        await _until("the portal's first reconciliation poll", done, limit_s)
    finally:
        await client.aclose()


async def _delivered(driver: Driver, event: str, count: int) -> bool:
    r = await driver.http.get(f"{driver.stack.b24_url}/_sandbox/portals/demo/deliveries")
    return sum(1 for d in r.json() if d["event"] == event and d["status"] == 200) >= count


@FAST
async def test_back_sync_moves_the_negotiation_only_when_on(driver: Driver) -> None:
    await _start(driver, negotiations=20)
    body: dict[str, Any] = {"responsible_id": 2, "entity_type": "lead", "extended": True, "stage_map": STAGE_MAP}
    r = await driver.api("PUT", "/settings", json=body)
    assert r.status_code == 200 and r.json()["back_sync"] is False, r.text
    assert (await driver.api("POST", "/import")).status_code == 202
    await driver.wait_import()
    leads = {lead["ORIGIN_ID"]: lead for lead in await _one_lead_each(driver)}
    fresh = [str(n["id"]) for n in await driver.hh_negotiations()
             if n["employer_state"] == "response" and n["kind"] == "response"]
    off_nid, on_nid = fresh[0], fresh[1]
    # The portal's first reconciliation poll (a full walk) comes at the first tick after the import: let it
    # finish, so that the HeadHunter requests counted below are the count's own.
    await _first_poll_done(driver)
    # «Новые отклики» after the import: the import's listings answer it, only the vacancy list is read.
    await _hh(driver, "POST", "/stats/reset")
    assert (await driver.api("GET", "/new-responses")).json() == {"count": 0}
    routes = (await _hh(driver, "GET", "/stats"))["by_route"]
    assert not [r for r in routes if r.startswith("GET /negotiations") or "resumes" in r], routes
    await _hh(driver, "POST", "/stats/reset")

    # Off (the default): the move reaches the app and changes nothing on HeadHunter.
    updates_before = sum(1 for d in (await driver.http.get(
        f"{driver.stack.b24_url}/_sandbox/portals/demo/deliveries")).json() if d["event"] == "ONCRMLEADUPDATE")
    await _move_lead(driver, int(leads[off_nid]["ID"]), "JUNK")
    await _until("the update event to reach the app",
                 lambda: _delivered(driver, "ONCRMLEADUPDATE", updates_before + 1), 15)
    await asyncio.sleep(2.0)
    assert await _state_of(driver, off_nid) == "response"

    # On: a move to a stage shared by three statuses takes the first of them (consider).
    r = await driver.api("PUT", "/settings", json={**body, "back_sync": True})
    assert r.status_code == 200 and r.json()["back_sync"] is True, r.text
    await _move_lead(driver, int(leads[on_nid]["ID"]), "IN_PROCESS")

    async def moved() -> bool:
        return await _state_of(driver, on_nid) == "consider"

    await _until("the negotiation to move on HeadHunter", moved, 30)

    # The state change comes back by webhook; the writer's own update must not move anything again.
    async def status_field_updated() -> bool:
        lead = next(x for x in await driver.entities("demo", 1) if x["ORIGIN_ID"] == on_nid)
        return bool(lead["UF_CRM_RABOTABY_STATUS"] == "Подумать" and lead["STATUS_ID"] == "IN_PROCESS")

    await _until("the round trip to settle", status_field_updated, 30)
    await asyncio.sleep(3.0)
    routes = (await _hh(driver, "GET", "/stats"))["by_route"]
    assert routes.get(ACTION_ROUTE) == 1, routes
    assert await _state_of(driver, on_nid) == "consider"
    assert await _state_of(driver, off_nid) == "response"
