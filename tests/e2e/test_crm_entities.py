"""The Bitrix24 side, complete: deals and smart-process items with one contact per applicant, failures
that are listed, notified and retried, no duplicates after a lost ledger or a killed writer, and a
token that expires mid-import."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from rabota_common.bus import nats_servers

from tests.e2e.harness import Driver

LOSE_LEDGER = """
local n = 0
for _, pattern in ipairs({'rs:*:ledger:*', 'rs:lock:*', 'rs:budget:*'}) do
  for _, key in ipairs(redis.call('KEYS', pattern)) do n = n + redis.call('DEL', key) end
end
return n
"""
FAST = pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20"})
SPA_ETID = 1032


async def _fast_hh(driver: Driver) -> None:
    r = await driver.http.put(f"{driver.stack.hh_url}/_sandbox/knobs", json={"rate_limit_rps": None})
    assert r.status_code == 200, r.text


async def _connect(driver: Driver) -> dict[str, Any]:
    await driver.install("demo")
    await driver.open_app("demo")
    assert (await driver.connect_hh()).status_code == 200
    return dict((await driver.api("GET", "/options")).json())


async def _save(driver: Driver, body: dict[str, Any]) -> None:
    r = await driver.api("PUT", "/settings", json=body)
    assert r.status_code == 200, r.text


def _deal_settings(options: dict[str, Any], category: int = 1) -> dict[str, Any]:
    cat = next(c for c in options["deal_categories"] if c["id"] == category)
    stages = [s["id"] for s in cat["stages"]]
    return {"responsible_id": options["users"][1]["id"], "entity_type": "deal", "smart_process_type_id": None,
            "category_id": category, "extended": False,
            "stage_map": {"response": stages[0], "invitation": stages[1]}}


def _spa_settings(options: dict[str, Any]) -> dict[str, Any]:
    spa = next(s for s in options["smart_processes"] if s["id"] == SPA_ETID)
    cat = spa["categories"][0]
    stages = [s["id"] for s in cat["stages"]]
    return {"responsible_id": options["users"][0]["id"], "entity_type": "smart_process",
            "smart_process_type_id": SPA_ETID, "category_id": cat["id"], "extended": False,
            "stage_map": {"response": stages[0], "invitation": stages[1]}}


async def _activities(driver: Driver) -> list[dict[str, Any]]:
    r = await driver.http.get(f"{driver.stack.b24_url}/_sandbox/portals/demo/activities")
    r.raise_for_status()
    return list(r.json())


def _owner(a: dict[str, Any]) -> tuple[int, int]:
    return int(a.get("ownerTypeId", a.get("OWNER_TYPE_ID", 0))), int(a.get("ownerId", a.get("OWNER_ID", 0)))


def _get(row: dict[str, Any], *names: str) -> Any:
    for n in names:
        if n in row and row[n] not in (None, ""):
            return row[n]
    return None


async def _b24_stats(driver: Driver) -> dict[str, Any]:
    return dict((await driver.http.get(f"{driver.stack.b24_url}/_sandbox/stats", params={"portal": "demo"})).json())


async def _assert_one_each(driver: Driver, etid: int, key: str = "ORIGIN_ID") -> list[dict[str, Any]]:
    negotiations = await driver.hh_negotiations()
    entities = await driver.entities("demo", etid)
    origins = Counter(str(_get(e, key, "xmlId", "XML_ID")).removeprefix("rabota.by:") for e in entities)
    dupes = {k: v for k, v in origins.items() if v > 1}
    assert not dupes, f"duplicated entities: {dupes}"
    assert set(origins) == {str(n["id"]) for n in negotiations}
    per_owner = Counter(_owner(a) for a in await _activities(driver))
    ids = {int(_get(e, "ID", "id")) for e in entities}
    assert {o for o in per_owner if o[0] == etid} == {(etid, i) for i in ids}, "an entity lacks its activity"
    assert all(per_owner[(etid, i)] == 1 for i in ids), "an entity got two activities"
    return entities


@FAST
async def test_deal_mode_links_one_contact_per_applicant(driver: Driver) -> None:
    await _fast_hh(driver)
    options = await _connect(driver)
    settings = _deal_settings(options, category=1)
    await _save(driver, settings)
    started = time.monotonic()
    assert (await driver.api("POST", "/import")).status_code == 202
    result = await driver.wait_import()
    took = time.monotonic() - started
    assert result["failed"] == 0 and result["imported"] == result["found"], result
    deals = await _assert_one_each(driver, 2)
    negotiations = {str(n["id"]): n for n in await driver.hh_negotiations()}
    contacts = {str(c["ID"]): c for c in await driver.entities("demo", 3)}
    repeat = (await driver.http.get(f"{driver.stack.hh_url}/_sandbox/state")).json()["repeat_resume_id"]
    by_resume: dict[str, set[str]] = defaultdict(set)
    for deal in deals:
        n = negotiations[deal["ORIGIN_ID"]]
        assert str(deal["CATEGORY_ID"]) == "1" and deal["STAGE_ID"] in settings["stage_map"].values()
        assert deal["UF_CRM_RABOTABY_STATUS"] in ("Отклик", "Приглашение")
        assert deal["UF_CRM_RABOTABY_VACANCIES"] and deal["UF_CRM_RABOTABY_CREATED_AT"].count("-") == 2
        assert str(deal["ASSIGNED_BY_ID"]) == str(settings["responsible_id"])
        contact_id = str(deal.get("CONTACT_ID") or "")
        assert contact_id in contacts, f"deal {deal['ID']} has no contact"
        if n["resume"] == "normal":
            assert deal["UF_CRM_RABOTABY_RESUME"], "no resume PDF on the deal"
            by_resume[n["resume_id"]].add(contact_id)
            contact = contacts[contact_id]
            assert contact["NAME"] and contact["ORIGIN_ID"] == n["resume_id"]
            if "phones" not in n.get("hidden_fields", []):
                assert contact.get("PHONE"), contact
    assert all(len(v) == 1 for v in by_resume.values()), "one applicant got several contacts"
    repeat_deals = [d for d in deals if negotiations[d["ORIGIN_ID"]]["resume_id"] == repeat]
    assert len(repeat_deals) >= 2 and len({d["CONTACT_ID"] for d in repeat_deals}) == 1
    assert len({c["ORIGIN_ID"] for c in contacts.values()}) == len(contacts), "duplicate contacts"
    stats = await _b24_stats(driver)
    print(f"deal import: {len(deals)} deals in {took:.1f}s, b24 requests {stats['requests_total']}"
          f" = {stats['requests_total'] / len(deals):.3f}/response, by method {stats['by_method']}")


@FAST
async def test_smart_process_mode_creates_fields_items_and_activities(driver: Driver) -> None:
    await _fast_hh(driver)
    options = await _connect(driver)
    settings = _spa_settings(options)
    await _save(driver, settings)
    assert (await driver.api("POST", "/import")).status_code == 202
    result = await driver.wait_import()
    assert result["failed"] == 0 and result["imported"] == result["found"], result
    items = await _assert_one_each(driver, SPA_ETID, key="xmlId")
    fields = (await driver.http.get(f"{driver.stack.b24_url}/_sandbox/portals/demo/userfields")).json()
    names = str(fields)
    for name in ("UF_CRM_1_RABOTABY_CREATED_AT", "UF_CRM_1_RABOTABY_STATUS", "UF_CRM_1_RABOTABY_VACANCIES",
                 "UF_CRM_1_RABOTABY_RESUME"):
        assert names.count(name) == 1, f"{name} missing or created twice"
    negotiations = {str(n["id"]): n for n in await driver.hh_negotiations()}
    contacts = {int(c["ID"]) for c in await driver.entities("demo", 3)}
    for item in items:
        nid = str(_get(item, "xmlId", "XML_ID")).removeprefix("rabota.by:")
        assert str(_get(item, "STAGE_ID", "stageId")) in settings["stage_map"].values()
        assert _get(item, "UF_CRM_1_RABOTABY_STATUS", "ufCrm1RabotabyStatus") in ("Отклик", "Приглашение")
        assert _get(item, "UF_CRM_1_RABOTABY_VACANCIES", "ufCrm1RabotabyVacancies")
        assert int(_get(item, "CONTACT_ID", "contactId") or 0) in contacts
        if negotiations[nid]["resume"] == "normal":
            assert _get(item, "UF_CRM_1_RABOTABY_RESUME", "ufCrm1RabotabyResume"), item


@FAST
async def test_mandatory_field_failure_is_listed_notified_and_retried(driver: Driver) -> None:
    await _fast_hh(driver)
    await _connect(driver)
    r = await driver.http.put(f"{driver.stack.b24_url}/_sandbox/knobs", params={"portal": "demo"},
                              json={"mandatory_fields": {"CRM_LEAD": ["UF_CRM_X"]}})
    assert r.status_code == 200, r.text
    await driver.save_lead_settings()
    assert (await driver.api("POST", "/import")).status_code == 202
    result = await driver.wait_import()
    assert result["imported"] == 0 and result["failed"] == result["found"] > 0, result
    assert len(result["failures"]) == result["found"]
    assert all("обязательное поле" in f["reason"] for f in result["failures"]), result["failures"][:2]
    assert not await driver.entities("demo", 1)
    notes = (await driver.http.get(f"{driver.stack.b24_url}/_sandbox/portals/demo/notifications")).json()
    mine = [n for n in notes if "rabota.by" in str(n)]
    assert len(mine) == 1, notes
    assert await _dlq_count(driver) == result["found"]

    r = await driver.http.put(f"{driver.stack.b24_url}/_sandbox/knobs", params={"portal": "demo"},
                              json={"mandatory_fields": {}})
    assert r.status_code == 200, r.text
    for failure in result["failures"]:
        r = await driver.api("POST", f"/failures/{failure['id']}/retry")
        assert r.status_code == 202, r.text
    await _wait_some(driver, 1, result["found"])
    await _wait_writer_idle(driver)
    body = (await driver.api("GET", "/import")).json()
    assert not body["failures"], body["failures"][:3]
    await _assert_one_each(driver, 1)
    # The failure records kept the resume PDFs (moved from the command to the object store): retried leads
    # carry them like first-time ones.
    negotiations = {str(n["id"]): n for n in await driver.hh_negotiations()}
    leads = await driver.entities("demo", 1)
    normal = [lead for lead in leads if negotiations[lead["ORIGIN_ID"]]["resume"] == "normal"]
    assert normal and all(lead["UF_CRM_RABOTABY_RESUME"] for lead in normal), normal[:1]


async def _dlq_count(driver: Driver) -> int:
    import nats

    nc = await nats.connect(nats_servers(driver.stack.nats_url))
    try:
        info = await nc.jetstream().stream_info("DLQ")
        return int(info.state.messages)
    finally:
        await nc.close()


async def _wait_some(driver: Driver, etid: int, at_least: int, limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if len(await driver.entities("demo", etid)) >= at_least:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("import did not start writing")


async def _stored_commands(driver: Driver) -> list[tuple[str, bytes]]:
    """Every command the CRM_COMMAND stream still holds, as (subject, body), read by an ephemeral consumer
    (the writer's is untouched)."""
    import nats

    nc = await nats.connect(nats_servers(driver.stack.nats_url))
    try:
        js = nc.jetstream()
        total = int((await js.stream_info("CRM_COMMAND")).state.messages)
        sub = await js.pull_subscribe("crm.command.*", durable=None, stream="CRM_COMMAND")
        held: list[tuple[str, bytes]] = []
        while len(held) < total:
            try:
                msgs = await sub.fetch(batch=min(100, total - len(held)), timeout=2.0)
            except TimeoutError:
                break
            for m in msgs:
                held.append((m.subject, m.data))
                await m.ack()
        return held
    finally:
        await nc.close()


async def _replay_commands(driver: Driver) -> int:
    """Publish every command of the CRM_COMMAND stream again, as a replay after a lost ledger would."""
    import nats

    held = await _stored_commands(driver)  # read first, so the reader never sees its own copies
    nc = await nats.connect(nats_servers(driver.stack.nats_url))
    try:
        js = nc.jetstream()
        for subject, data in held:
            await js.publish(subject, data)
    finally:
        await nc.close()
    return len(held)


async def _wait_writer_idle(driver: Driver, limit_s: float = 90.0) -> None:
    import nats

    nc = await nats.connect(nats_servers(driver.stack.nats_url))
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            info = await js.consumer_info("CRM_COMMAND", "crm-writer")
            if info.num_pending == 0 and info.num_ack_pending == 0:
                return
            await asyncio.sleep(0.3)
        raise AssertionError(f"crm-writer still busy: {info}")
    finally:
        await nc.close()


@FAST
async def test_lost_ledger_mid_import_creates_no_duplicates(driver: Driver) -> None:
    await _fast_hh(driver)
    options = await _connect(driver)
    await _save(driver, _deal_settings(options, category=0))
    # Slow Bitrix24 a little so that the flush lands while commands are still being written.
    await driver.http.put(f"{driver.stack.b24_url}/_sandbox/knobs", params={"portal": "demo"},
                          json={"latency_ms": 150})
    assert (await driver.api("POST", "/import")).status_code == 202
    await _wait_some(driver, 2, 5)
    r = aioredis.Redis.from_url(driver.stack.redis_url)
    # The writer's ledger, locks and budgets vanish at one instant, as with FLUSHALL and a restore of a
    # backup taken before the import (atomic, so that the import's own progress is not rolled back).
    await r.eval(LOSE_LEDGER, 0)
    await r.aclose()
    await driver.http.put(f"{driver.stack.b24_url}/_sandbox/knobs", params={"portal": "demo"},
                          json={"latency_ms": 0})
    await driver.wait_import()
    await _wait_writer_idle(driver)
    # Lose the ledger again and replay every command: all are found by ORIGIN_ID, none created twice.
    r = aioredis.Redis.from_url(driver.stack.redis_url)
    async for key in r.scan_iter(match="rs:*:ledger:*", count=1000):
        await r.delete(key)
    await r.aclose()
    assert await _replay_commands(driver) > 0
    await asyncio.sleep(1.0)
    await _wait_writer_idle(driver)
    deals = await _assert_one_each(driver, 2)
    contacts = await driver.entities("demo", 3)
    assert {str(d["CONTACT_ID"]) for d in deals} <= {str(c["ID"]) for c in contacts}
    dup = [c for c in contacts if sum(1 for x in contacts if x["ORIGIN_ID"] == c["ORIGIN_ID"]) > 1]
    assert not dup, f"duplicate contacts {[(c['ID'], c['ORIGIN_ID']) for c in dup]}"


async def test_writer_killed_mid_import_creates_no_duplicates(driver: Driver) -> None:
    """Default HeadHunter limits: the import takes long enough to kill the writer in the middle."""
    await _connect(driver)
    await driver.save_lead_settings()
    await driver.http.put(f"{driver.stack.b24_url}/_sandbox/knobs", params={"portal": "demo"},
                          json={"latency_ms": 300})
    assert (await driver.api("POST", "/import")).status_code == 202
    await _wait_some(driver, 1, 3, limit_s=90)
    driver.stack.restart_service("crm_writer", hard=True)
    await _wait_some(driver, 1, 10, limit_s=90)
    driver.stack.restart_service("crm_writer", hard=True)
    await driver.http.put(f"{driver.stack.b24_url}/_sandbox/knobs", params={"portal": "demo"},
                          json={"latency_ms": 0})
    result = await driver.wait_import(limit_s=180)
    await _wait_writer_idle(driver)
    await _assert_one_each(driver, 1)
    assert result["imported"] == result["found"]


@FAST
async def test_token_expiry_mid_import_refreshes_once_and_completes(driver: Driver) -> None:
    await _connect(driver)
    await driver.save_lead_settings()
    await driver.http.put(f"{driver.stack.hh_url}/_sandbox/knobs", json={"rate_limit_rps": 30})
    await driver.http.put(f"{driver.stack.b24_url}/_sandbox/knobs", params={"portal": "demo"},
                          json={"latency_ms": 100})
    assert (await driver.api("POST", "/import")).status_code == 202
    await _wait_some(driver, 1, 3)
    r = await driver.http.post(f"{driver.stack.b24_url}/_sandbox/portals/demo/tokens/expire")
    assert r.status_code == 200, r.text
    result = await driver.wait_import()
    assert result["imported"] == result["found"] and result["failed"] == 0, result
    await _assert_one_each(driver, 1)
    log = (await driver.http.get(f"{driver.stack.b24_url}/_sandbox/requests",
                                 params={"portal": "demo", "limit": 5000})).json()
    expired = [e for e in log if e.get("error") == "expired_token"]
    assert 1 <= len(expired) <= 3, expired


@FAST
async def test_an_older_copy_never_moves_a_deal_back(driver: Driver) -> None:
    """A webhook's copy overtakes the import's (they travel on separate consumers): when the import's older
    copy arrives after it, the deal keeps the newer status."""
    from faststream.nats import NatsBroker
    from rabota_common.bus import publish
    from rabota_common.models import CrmCommand

    await _fast_hh(driver)
    options = await _connect(driver)
    settings = _deal_settings(options, category=1)
    await _save(driver, settings)
    assert (await driver.api("POST", "/import")).status_code == 202
    result = await driver.wait_import()
    assert result["failed"] == 0 and result["imported"] == result["found"], result
    await _wait_writer_idle(driver)
    old = next(cmd for cmd in (CrmCommand.model_validate_json(data) for _, data in await _stored_commands(driver))
               if cmd.hh_status == "response" and cmd.updated_at)
    stamp = datetime.fromisoformat(str(old.updated_at))
    newer = old.model_copy(update={
        "hh_status": "invitation", "kind": "invitation", "stage_id": settings["stage_map"]["invitation"],
        "status_name": "Приглашение", "import_id": None,
        "updated_at": (stamp + timedelta(minutes=5)).isoformat()})
    deal_of = {d["ORIGIN_ID"]: d for d in await driver.entities("demo", 2)}
    assert deal_of[old.negotiation_id]["STAGE_ID"] == settings["stage_map"]["response"]

    broker = NatsBroker(nats_servers(driver.stack.nats_url))
    await broker.connect()
    try:
        subject = f"crm.command.{old.portal}"
        await publish(broker, subject, newer, msg_id=f"test-newer-{old.negotiation_id}")
        await _wait_writer_idle(driver)
        deal = {d["ORIGIN_ID"]: d for d in await driver.entities("demo", 2)}[old.negotiation_id]
        assert deal["STAGE_ID"] == settings["stage_map"]["invitation"]
        await publish(broker, subject, old.model_copy(update={"import_id": None}),
                      msg_id=f"test-older-{old.negotiation_id}")
        await _wait_writer_idle(driver)
        deal = {d["ORIGIN_ID"]: d for d in await driver.entities("demo", 2)}[old.negotiation_id]
        assert deal["STAGE_ID"] == settings["stage_map"]["invitation"], "an older copy moved the deal back"
        assert deal["UF_CRM_RABOTABY_STATUS"] == "Приглашение"
    finally:
        await broker.stop()
