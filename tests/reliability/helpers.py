"""What the reliability tests check after a disturbed import: exactly one of everything, counts that add up,
nothing transient dead-lettered."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import nats
from rabota_common.bus import nats_servers

from tests.e2e.harness import Driver
from tests.e2e.test_crm_entities import _assert_one_each, _connect, _deal_settings, _fast_hh, _save, _wait_writer_idle

__all__ = ["_connect", "_deal_settings", "_fast_hh", "_save", "b24_knobs", "dead_letters", "deal_mode",
           "exactly_one_each", "first_command", "hh_knobs", "publish_raw"]


async def b24_knobs(driver: Driver, **knobs: Any) -> None:
    r = await driver.http.put(f"{driver.stack.b24_url}/_sandbox/knobs", params={"portal": "demo"}, json=knobs)
    assert r.status_code == 200, r.text


async def hh_knobs(driver: Driver, **knobs: Any) -> None:
    r = await driver.http.put(f"{driver.stack.hh_url}/_sandbox/knobs", json=knobs)
    assert r.status_code == 200, r.text


async def deal_mode(driver: Driver) -> None:
    await _fast_hh(driver)
    options = await _connect(driver)
    await _save(driver, _deal_settings(options, category=1))


async def exactly_one_each(driver: Driver) -> dict[str, int]:
    """One deal and one activity per negotiation, one contact per applicant; returns what was found."""
    deals = await _assert_one_each(driver, 2)
    contacts = await driver.entities("demo", 3)
    per_applicant = Counter(str(c["ORIGIN_ID"]) for c in contacts)
    dupes = {k: v for k, v in per_applicant.items() if v > 1}
    assert not dupes, f"duplicate contacts: {dupes}"
    ids = {str(c["ID"]) for c in contacts}
    assert all(str(d.get("CONTACT_ID") or "") in ids for d in deals), "a deal without its contact"
    negotiations = await driver.hh_negotiations()
    return {"negotiations": len(negotiations), "deals": len(deals), "contacts": len(contacts),
            "duplicates": sum(v - 1 for v in per_applicant.values()) + len(deals) - len({d["ORIGIN_ID"]
                                                                                      for d in deals}),
            "losses": len({str(n["id"]) for n in negotiations} - {str(d["ORIGIN_ID"]) for d in deals})}


async def dead_letters(driver: Driver) -> list[dict[str, Any]]:
    """Every message in the DLQ stream (read without consuming: an ordered consumer)."""
    nc = await nats.connect(nats_servers(driver.stack.nats_url))
    out: list[dict[str, Any]] = []
    try:
        js = nc.jetstream()
        total = int((await js.stream_info("DLQ")).state.messages)
        if not total:
            return out
        sub = await js.subscribe("dlq.>", stream="DLQ", ordered_consumer=True)
        while len(out) < total:
            msg = await sub.next_msg(timeout=5.0)
            out.append({**json.loads(msg.data), "dlq_subject": msg.subject})
        await sub.unsubscribe()
    finally:
        await nc.close()
    return out


async def first_command(driver: Driver) -> dict[str, Any]:
    """A real command of the import (the stream keeps what the writer acked)."""
    nc = await nats.connect(nats_servers(driver.stack.nats_url))
    try:
        sub = await nc.jetstream().subscribe("crm.command.*", stream="CRM_COMMAND", ordered_consumer=True)
        msg = await sub.next_msg(timeout=30.0)
        await sub.unsubscribe()
        return dict(json.loads(msg.data))
    finally:
        await nc.close()


async def publish_raw(driver: Driver, subject: str, data: bytes) -> None:
    nc = await nats.connect(nats_servers(driver.stack.nats_url))
    try:
        await nc.jetstream().publish(subject, data)
    finally:
        await nc.close()


async def finish_import_exactly(driver: Driver, n: int, limit_s: float) -> tuple[dict[str, Any], dict[str, int]]:
    """Undo the slow portal, let the import and the writer finish, and require every one of the `n`
    responses imported once: no failure, no duplicate, no loss."""
    await b24_knobs(driver, latency_ms=0)
    result = await driver.wait_import(limit_s=limit_s)
    await _wait_writer_idle(driver)
    found = await exactly_one_each(driver)
    assert result["imported"] == result["found"] == n and result["failed"] == 0, (result, found)
    assert found["duplicates"] == 0 and found["losses"] == 0, found
    return result, found
