"""Fairness between portals (DESIGN §9): while one portal imports under a tight HeadHunter limit, another
portal's new response reaches its CRM long before that import is done, and the import still completes
exactly. Behavioural, not a latency threshold: the latency itself is measured by `tests.bench --only fairness`."""

from __future__ import annotations

import pytest

from tests.e2e.harness import Driver, manager_vacancies, second_portal, seed_admin_only, until, wait_subscriptions
from tests.reliability.helpers import _connect, _deal_settings, _save, finish_import_exactly, hh_knobs

N = 60
# The product's HeadHunter budget, under the sandbox's limit: an import of N costs ~2N requests, ~30 s.
SLOW_HH = pytest.mark.stack_env({"HH_RATE": "4", "HH_BURST": "1"})





async def _deal_with_activity(driver: Driver, portal: str, nid: str) -> bool:
    deals = [d for d in await driver.entities(portal, 2) if str(d.get("ORIGIN_ID")) == nid]
    if not deals:
        return False
    r = await driver.http.get(f"{driver.stack.b24_url}/_sandbox/portals/{portal}/activities")
    r.raise_for_status()
    return any(int(a["ownerTypeId"]) == 2 and str(a["ownerId"]) == str(deals[0]["ID"]) for a in r.json())


@SLOW_HH
async def test_new_response_of_one_portal_overtakes_another_portals_import(driver: Driver) -> None:
    r = await driver.http.post(f"{driver.stack.hh_url}/_sandbox/reset", json={"negotiations": 0})
    assert r.status_code == 200, r.text
    # One vacancy, two listing pages: the walk queues the whole import ahead of B's response at once.
    await seed_admin_only(driver, N, vacancies=1)
    await _save(driver, _deal_settings(await _connect(driver), category=1))  # portal A: "demo", the admin
    b = await second_portal(driver)
    await hh_knobs(driver, rate_limit_rps=5)  # after the logins: the test's own browser counts too

    await wait_subscriptions(driver, 2)
    vacancy = (await manager_vacancies(driver))[0][0]

    assert (await driver.api("POST", "/import")).status_code == 202

    async def underway() -> bool:
        return int((await driver.api("GET", "/import")).json()["processed"]) >= 5

    await until("portal A's import under way", 45, underway)
    created = await driver.http.post(f"{driver.stack.hh_url}/_sandbox/negotiations",
                                     json={"vacancy_id": vacancy, "kind": "response"})
    assert created.status_code == 201, created.text
    nid = str(created.json()["id"])
    await until("portal B's new response in its CRM", 45, lambda: _deal_with_activity(driver, "simple", nid))
    progress = (await driver.api("GET", "/import")).json()
    print(f"portal B's response arrived while portal A's import was at {progress['processed']} / {N}")
    assert progress["state"] != "done" and progress["processed"] <= N // 2, progress

    # A's walk lists the new response too unless it had walked its vacancy already (A's webhook brings it then).
    found = (await driver.wait_import(limit_s=120))["found"]
    assert found in (N, N + 1)
    await finish_import_exactly(driver, found, limit_s=30)
    assert [str(d["ORIGIN_ID"]) for d in await b.entities("simple", 2)] == [nid]
    assert await _deal_with_activity(driver, "demo", nid)  # A's own webhook copy, written once
