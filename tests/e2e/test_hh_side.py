"""The HeadHunter side, complete: re-login after a password change mid-import, the reconciliation poll
with webhooks off, extended-mode status sync, the resume view limit and the new-responses count."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest

from tests.e2e.harness import Driver

# Both intervals short: a portal whose webhooks are trusted is reconciled every RECONCILE_INTERVAL_S.
FAST_POLL = pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20", "POLL_INTERVAL_S": "2",
                                   "RECONCILE_INTERVAL_S": "2"})
FAST = pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20"})


async def _hh(driver: Driver, method: str, path: str, **kw: Any) -> Any:
    r = await driver.http.request(method, f"{driver.stack.hh_url}/_sandbox{path}", **kw)
    assert r.status_code < 300, r.text
    return r.json()


async def _start(driver: Driver, negotiations: int | None = None, fast: bool = True) -> None:
    if negotiations is not None:
        await _hh(driver, "POST", "/reset", json={"negotiations": negotiations})
    if fast:
        await _hh(driver, "PUT", "/knobs", json={"rate_limit_rps": None})
    await driver.install("demo")
    await driver.open_app("demo")
    assert (await driver.connect_hh()).status_code == 200


async def _until(what: str, check: Any, limit_s: float = 60.0, pause_s: float = 0.3) -> Any:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(pause_s)
    raise AssertionError(f"timed out waiting for {what}")


async def _one_lead_each(driver: Driver, limit_s: float = 90.0) -> list[dict[str, Any]]:
    async def done() -> list[dict[str, Any]] | None:
        ids = {str(n["id"]) for n in await driver.hh_negotiations()}
        leads = await driver.entities("demo", 1)
        return leads if {lead["ORIGIN_ID"] for lead in leads} >= ids else None

    leads = await _until("a lead for every negotiation", done, limit_s, 1.0)
    counts = Counter(lead["ORIGIN_ID"] for lead in leads)
    assert all(c == 1 for c in counts.values()), f"duplicates: {[k for k, c in counts.items() if c > 1]}"
    return list(leads)


async def test_password_change_mid_import_then_relogin_loses_nothing(driver: Driver) -> None:
    """Default HeadHunter limits (rate_limit_rps 10, HH_RATE 6)."""
    await _start(driver, fast=False)
    await driver.save_lead_settings()
    assert (await driver.api("POST", "/import")).status_code == 202

    async def some_imported() -> bool:
        return bool((await driver.api("GET", "/import")).json()["imported"] >= 3)

    await _until("the import to be under way", some_imported)
    await _hh(driver, "POST", "/users/admin@sandbox.by/password-change")

    async def relogin_shown() -> bool:
        return bool((await driver.api("GET", "/status")).json()["hh"]["relogin_required"])

    await _until("relogin_required", relogin_shown, 30)
    status = (await driver.api("GET", "/status")).json()
    assert status["sync_active"] is False
    middle = (await driver.api("GET", "/import")).json()
    assert middle["state"] == "running" and middle["imported"] < 60, middle

    # Responses arriving while the account is cut off: no webhook can reach us (subscriptions dropped).
    created = [await _hh(driver, "POST", "/negotiations", json={"kind": "response", "resume": "normal"})
               for _ in range(2)]

    async def notified() -> list[Any]:
        r = await driver.http.get(f"{driver.stack.b24_url}/_sandbox/requests",
                                  params={"portal": "demo", "method": "im.notify.system.add"})
        return list(r.json())

    calls = await _until("the re-login notification", notified, 30)
    notes = (await driver.http.get(f"{driver.stack.b24_url}/_sandbox/portals/demo/notifications")).json()
    mine = [n for n in notes if n["tag"] == "rabota-sync:hh-relogin"]
    assert len(mine) == 1 and mine[0]["user_id"] == 1 and "Войти" in mine[0]["message"]
    await asyncio.sleep(3)
    assert len(await notified()) == len(calls) == 1, "one notification per lost connection"

    assert (await driver.connect_hh()).status_code == 200
    status = (await driver.api("GET", "/status")).json()
    assert status["hh"]["connected"] and not status["hh"]["relogin_required"]
    result = await driver.wait_import(120)
    assert result["failed"] == 0 and result["failures"] == [], result
    leads = await _one_lead_each(driver)
    origins = {lead["ORIGIN_ID"] for lead in leads}
    assert {str(c["id"]) for c in created} <= origins
    hooks = await _hh(driver, "GET", "/webhooks")
    assert len(hooks["subscriptions"]) == 1, "the webhook subscription is renewed after re-login"
    dead = (await driver.http.get(f"{driver.stack.hh_url}/_sandbox/stats")).json()
    print(f"HH requests total {dead['requests_total']} for {len(leads)} leads")


@FAST_POLL
async def test_poll_brings_new_response_when_webhooks_are_off(driver: Driver) -> None:
    await _start(driver, negotiations=40)
    await _hh(driver, "PUT", "/knobs", json={"webhooks": False})
    await driver.save_lead_settings()
    assert (await driver.api("POST", "/import")).status_code == 202
    await driver.wait_import()
    await _one_lead_each(driver)
    await asyncio.sleep(3)  # a first (full) poll has walked everything: fingerprints are stored
    await _hh(driver, "POST", "/stats/reset")
    created = await _hh(driver, "POST", "/negotiations", json={"kind": "response", "resume": "normal"})
    leads = await _one_lead_each(driver, 30)
    assert str(created["id"]) in {lead["ORIGIN_ID"] for lead in leads}
    deliveries = (await _hh(driver, "GET", "/webhooks"))["deliveries"]
    assert not deliveries, "webhooks were off: the poll brought it"
    # Idle vacancies are skipped: later polls list vacancies only, not every collection.
    await asyncio.sleep(4)
    stats = await _hh(driver, "GET", "/stats")
    pages = stats["by_route"].get("GET /negotiations/{collection}", 0)
    assert pages <= 12 and stats["by_route"].get("GET /negotiations", 0) <= 2, stats["by_route"]

    # Watchdog: a subscription lost on HeadHunter's side is re-created by the poll that finds what the
    # webhooks did not bring (an idle poll, which finds nothing, checks it only with its full walks).
    token = await _own_hh_token(driver)
    hooks = await _hh(driver, "GET", "/webhooks")
    sub_id = hooks["subscriptions"][0]["id"]
    r = await driver.http.delete(f"{driver.stack.hh_url}/webhook/subscriptions/{sub_id}",
                                 headers={"Authorization": f"Bearer {token}", "HH-User-Agent": "e2e-test"})
    assert r.status_code in (200, 204), r.text
    assert not (await _hh(driver, "GET", "/webhooks"))["subscriptions"]
    created = await _hh(driver, "POST", "/negotiations", json={"kind": "response", "resume": "normal"})

    async def recreated() -> bool:
        return bool((await _hh(driver, "GET", "/webhooks"))["subscriptions"])

    await _until("the watchdog to re-create the subscription", recreated, 20)
    leads = await _one_lead_each(driver, 30)
    assert str(created["id"]) in {lead["ORIGIN_ID"] for lead in leads}


async def _own_hh_token(driver: Driver) -> str:
    """A second token of admin@sandbox.by (the test's own login through the app's OAuth client)."""
    hh = driver.stack.hh_url
    redirect = f"{driver.stack.public_url}/hh/callback"
    query = {"response_type": "code", "client_id": "sandbox-hh-client", "state": "x", "redirect_uri": redirect}
    r = await driver.http.post(f"{hh}/oauth/authorize", params=query, headers={"User-Agent": "e2e-test"},
                               data={"login": "admin@sandbox.by", "decision": "approve"})
    assert r.status_code == 302, r.text
    code = r.headers["location"].split("code=")[1].split("&")[0]
    r = await driver.http.post(f"{hh}/token", headers={"User-Agent": "e2e-test"}, data={
        "grant_type": "authorization_code", "client_id": "sandbox-hh-client", "client_secret": "sandbox-hh-secret",
        "code": code, "redirect_uri": redirect})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@FAST
async def test_extended_mode_moves_the_lead_and_new_responses_count(driver: Driver) -> None:
    await _start(driver, negotiations=30)
    options = (await driver.api("GET", "/options")).json()
    stage_map = {"response": "NEW", "consider": "IN_PROCESS", "phone_interview": "IN_PROCESS",
                 "assessment": "IN_PROCESS", "interview": "PROCESSED", "offer": "PROCESSED",
                 "hired": "CONVERTED", "discard": "JUNK"}
    assert {s["id"] for s in options["lead_stages"]} >= set(stage_map.values())
    body = {"responsible_id": 2, "entity_type": "lead", "extended": True, "stage_map": stage_map}
    assert (await driver.api("PUT", "/settings", json=body)).status_code == 200

    await _hh(driver, "POST", "/stats/reset")
    r = await driver.api("GET", "/new-responses")
    assert r.status_code == 200, r.text
    negotiations = await driver.hh_negotiations()
    assert r.json() == {"count": len(negotiations)}
    routes = (await _hh(driver, "GET", "/stats"))["by_route"]
    assert not [k for k in routes if "resumes" in k or "download" in k], routes

    assert (await driver.api("POST", "/import")).status_code == 202
    await driver.wait_import()
    await _one_lead_each(driver)
    assert (await driver.api("GET", "/new-responses")).json() == {"count": 0}

    target = next(n for n in negotiations if n["employer_state"] == "response" and n["kind"] == "response")
    await _hh(driver, "POST", f"/negotiations/{target['id']}/state", json={"employer_state": "interview"})

    async def moved() -> dict[str, Any] | None:
        for lead in await driver.entities("demo", 1):
            if lead["ORIGIN_ID"] == str(target["id"]) and lead["STATUS_ID"] == "PROCESSED":
                return dict(lead)
        return None

    lead = await _until("the lead to move to the interview stage", moved, 30)
    assert lead["UF_CRM_RABOTABY_STATUS"] == "Интервью"
    await _one_lead_each(driver)


@FAST
async def test_view_limit_postpones_and_is_shown(driver: Driver) -> None:
    await _start(driver, negotiations=30)
    await _hh(driver, "PUT", "/knobs", json={"resume_view_limit": 1})
    await driver.save_lead_settings()
    assert (await driver.api("POST", "/import")).status_code == 202

    async def limited() -> dict[str, Any] | None:
        body = (await driver.api("GET", "/import")).json()
        return dict(body) if body["view_limit_reached"] else None

    body = await _until("view_limit_reached", limited, 60)
    await asyncio.sleep(3)
    body = (await driver.api("GET", "/import")).json()
    assert body["state"] == "running" and body["failed"] == 0, body
    assert body["imported"] < body["found"]
