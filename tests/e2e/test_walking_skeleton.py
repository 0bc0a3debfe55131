"""Issue 2: one response travels from the HeadHunter sandbox to a Bitrix24 lead through all five services."""

from __future__ import annotations

from collections import defaultdict

from tests.e2e.harness import Driver, read_spans


async def test_import_creates_one_lead_per_negotiation_with_one_trace(driver: Driver) -> None:
    await driver.install("demo")
    await driver.open_app("demo")
    callback = await driver.connect_hh("admin@sandbox.by")
    assert callback.status_code == 200, callback.text
    status = (await driver.api("GET", "/status")).json()
    assert status["hh"]["connected"] and status["hh"]["is_admin"]

    await driver.save_lead_settings()
    r = await driver.api("POST", "/import")
    assert r.status_code == 202, r.text
    result = await driver.wait_import()

    negotiations = await driver.hh_negotiations()
    leads = await driver.entities("demo", 1)
    assert result["found"] == len(negotiations)
    assert result["imported"] + result["failed"] == result["found"]
    by_origin = defaultdict(list)
    for lead in leads:
        assert lead["ORIGINATOR_ID"] == "rabota.by"
        by_origin[lead["ORIGIN_ID"]].append(lead)
    assert all(len(v) == 1 for v in by_origin.values()), "a negotiation got two leads"
    assert set(by_origin) == {str(n["id"]) for n in negotiations}
    assert len(leads) == result["imported"] == len(negotiations)

    normal = [n for n in negotiations if n["resume"] == "normal"]
    assert normal
    for n in normal:
        lead = by_origin[str(n["id"])][0]
        assert lead["NAME"] and "скрыл" not in lead["NAME"]
        assert any(p["VALUE_TYPE"] == "MOBILE" and p["VALUE"] for p in lead.get("PHONE", []))
        assert any("@" in e["VALUE"] for e in lead.get("EMAIL", []))
    for n in negotiations:
        lead = by_origin[str(n["id"])][0]
        if "names_and_photo" in n.get("hidden_fields", []):
            assert lead["NAME"] == f"Соискатель {n['resume_id']} скрыл ФИО"
        if "phones" in n.get("hidden_fields", []):
            assert not lead.get("PHONE")
        if n["resume"] == "deleted":
            assert "удалил резюме" in lead["COMMENTS"]

    status = (await driver.api("GET", "/status")).json()
    assert status["sync_active"] is True

    spans = read_spans(driver.stack.trace_dir)
    services_by_trace: dict[str, set[str]] = defaultdict(set)
    for span in spans:
        services_by_trace[span["trace_id"]].add(str(span["service"]))
    full = [t for t, s in services_by_trace.items()
            if {"rabota-sync-poller", "rabota-sync-mapper", "rabota-sync-crm-writer"} <= s]
    assert full, f"no trace spans poller → mapper → crm-writer: {dict(list(services_by_trace.items())[:5])}"
