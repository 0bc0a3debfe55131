"""Live sync through HeadHunter webhooks, and the /api contract (auth, validation, portal scoping)."""

from __future__ import annotations

import asyncio
import json
import time

from tests.e2e.harness import Driver, read_spans


async def _wait_lead(driver: Driver, negotiation_id: str, limit_s: float = 30.0) -> dict:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        for lead in await driver.entities("demo", 1):
            if lead.get("ORIGIN_ID") == negotiation_id:
                return lead
        await asyncio.sleep(0.3)
    raise AssertionError(f"no lead for negotiation {negotiation_id}")


async def _wait_webhook_trace(driver: Driver, negotiation_id: str, lead_id: int, hooks_url: str,
                              limit_s: float = 15.0) -> None:
    """The webhook request's span starts the negotiation's trace: ui → poller → mapper → crm-writer → Bitrix24."""
    deadline = time.monotonic() + limit_s
    while True:
        spans = read_spans(driver.stack.trace_dir)
        hook = [s for s in spans if s["name"] == "HeadHunter webhook"
                and s["attributes"].get("rabota.negotiation_id") == negotiation_id]
        trace = [s for s in spans if hook and s["trace_id"] == hook[0]["trace_id"]]
        writer = [s for s in trace if s["name"] == "crm-writer write"]
        if writer or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    assert hook and hook[0]["service"] == "rabota-sync-ui"
    assert {s["service"] for s in trace if s["parent_id"] is None} == {"rabota-sync-ui"}  # the request's own span
    found = [s for s in trace if s["name"] == "negotiation found (webhook)"]
    assert len(found) == 1 and found[0]["parent_id"] is not None and not found[0]["links"]
    assert any(s["service"] == "rabota-sync-mapper" and s["attributes"].get("rabota.negotiation_id") == negotiation_id
               for s in trace)
    assert len(writer) == 1 and writer[0]["attributes"]["rabota.entity_id"] == lead_id
    assert any(s["name"].startswith("Bitrix24 ") and s["parent_id"] == writer[0]["span_id"] for s in trace)
    secret = hooks_url.rsplit("/", 1)[-1]
    assert secret not in json.dumps(spans), "the webhook secret reached a trace"


async def test_new_response_arrives_through_webhook(driver: Driver) -> None:
    await driver.install("demo")
    await driver.open_app("demo")
    assert (await driver.connect_hh()).status_code == 200
    await driver.save_lead_settings()
    # The poller subscribes on hh_connected; wait until HeadHunter knows our URL.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        hooks = (await driver.http.get(f"{driver.stack.hh_url}/_sandbox/webhooks")).json()
        if hooks["subscriptions"]:
            break
        await asyncio.sleep(0.2)
    assert hooks["subscriptions"], "no webhook subscription was made"
    assert hooks["subscriptions"][0]["url"].startswith(f"{driver.stack.public_url}/hh/webhook/")

    r = await driver.http.post(f"{driver.stack.hh_url}/_sandbox/negotiations",
                               json={"kind": "response", "resume": "normal"})
    assert r.status_code == 201, r.text
    created = r.json()
    started = time.monotonic()
    lead = await _wait_lead(driver, str(created["id"]))
    assert time.monotonic() - started < 15
    assert lead["ORIGINATOR_ID"] == "rabota.by" and lead["NAME"]
    activities = (await driver.http.get(f"{driver.stack.b24_url}/_sandbox/portals/demo/activities")).json()
    mine = [a for a in activities if str(a.get("ownerId", a.get("OWNER_ID"))) == str(lead["ID"])]
    assert len(mine) == 1
    await _wait_webhook_trace(driver, str(created["id"]), int(lead["ID"]), hooks["subscriptions"][0]["url"])
    # A webhook delivered twice creates nothing new.
    hooks = (await driver.http.get(f"{driver.stack.hh_url}/_sandbox/webhooks")).json()
    delivery = next(d for d in hooks["deliveries"] if d.get("status") == 200)
    assert delivery


async def test_api_requires_session_and_validates(driver: Driver) -> None:
    ui = driver.stack.public_url
    r = await driver.http.get(f"{ui}/api/status")
    assert r.status_code == 401 and r.json()["error"] == "no_session" and r.json()["message"]
    r = await driver.http.get(f"{ui}/api/status", headers={"Authorization": "Bearer forged.token"})
    assert r.status_code == 401 and r.json()["error"] == "bad_session"
    # An app page opened without Bitrix24's frame parameters explains itself in Russian, no stack trace.
    r = await driver.http.post(f"{ui}/b24/app", data={"DOMAIN": "x"})
    assert r.status_code in (400, 403) and "Битрикс24" in r.text

    await driver.install("demo")
    await driver.open_app("demo")
    r = await driver.api("PUT", "/settings", json={"responsible_id": 1, "entity_type": "lead",
                                                   "stage_map": {"response": "NEW"}})
    assert r.status_code in (409, 422) and r.json()["message"]
    r = await driver.api("POST", "/import")
    assert r.status_code == 409 and r.json()["error"] == "hh_not_connected"
    r = await driver.api("GET", "/other-responses", params={"entity_type": "lead", "entity_id": "x"})
    assert r.status_code == 422 and r.json()["error"] == "validation_error"
    status = (await driver.api("GET", "/status")).json()
    assert status["hh"]["connected"] is False and status["sync_active"] is False

    # A forged frame (wrong application token) is refused once the app is installed.
    frame = await driver.frame("demo", "app")
    frame["form"]["APPLICATION_TOKEN"] = "not-the-token"
    r = await driver.post_frame("/b24/app", frame)
    assert r.status_code == 403 and "rabota-sync-session" not in r.text

    # Sessions are bound to one portal: portal B's session never sees portal A's settings.
    await driver.connect_hh()
    await driver.save_lead_settings()
    a_settings = (await driver.api("GET", "/settings")).json()
    assert a_settings["entity_type"] == "lead"
    await driver.install("simple")
    await driver.open_app("simple")
    assert (await driver.api("GET", "/settings")).json() == {}
    assert (await driver.api("GET", "/status")).json()["hh"]["connected"] is False


async def test_uninstall_with_clean_wipes_only_that_portal(driver: Driver) -> None:
    await driver.install("demo")
    await driver.install("simple")
    await driver.open_app("demo")
    r = await driver.http.post(f"{driver.stack.b24_url}/_sandbox/portals/demo/uninstall", json={"clean": 1})
    assert r.status_code == 200
    await asyncio.sleep(0.5)
    r = await driver.api("GET", "/status")
    assert r.status_code == 401 and r.json()["error"] == "portal_unknown"
    await driver.open_app("simple")
    assert (await driver.api("GET", "/status")).status_code == 200


async def test_uninstall_without_clean_ends_sessions_until_reinstall(driver: Driver) -> None:
    await driver.install("demo")
    await driver.open_app("demo")
    assert (await driver.api("GET", "/status")).status_code == 200
    r = await driver.http.post(f"{driver.stack.b24_url}/_sandbox/portals/demo/uninstall", json={"clean": 0})
    assert r.status_code == 200
    await asyncio.sleep(0.5)
    # The data stays for a reinstall, but an already issued session authenticates nothing any more.
    r = await driver.api("GET", "/status")
    assert r.status_code == 401 and r.json()["error"] == "portal_unknown"
    await driver.install("demo")
    await driver.open_app("demo")
    assert (await driver.api("GET", "/status")).status_code == 200
