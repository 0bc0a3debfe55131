"""A retried failure stays listed until the write succeeded: retrying while the cause is still there keeps
the record (with its reason), retrying once it is fixed writes the entity and clears it. A timeline activity
refused inside the batch that created its entity is a failure too, and its retry adds only the activity."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.e2e.harness import Driver
from tests.e2e.test_crm_entities import _activities, _assert_one_each, _connect, _fast_hh, _wait_writer_idle
from tests.reliability.helpers import b24_knobs, dead_letters


async def _failures(driver: Driver) -> dict[str, dict[str, object]]:
    body = (await driver.api("GET", "/import")).json()
    return {str(f["negotiation_id"]): f for f in body["failures"]}


@pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20"})
async def test_retry_clears_the_failure_only_after_the_write(driver: Driver) -> None:
    await _fast_hh(driver)
    await _connect(driver)
    await b24_knobs(driver, mandatory_fields={"CRM_LEAD": ["UF_CRM_X"]})
    await driver.save_lead_settings()
    assert (await driver.api("POST", "/import")).status_code == 202
    result = await driver.wait_import()
    assert result["failed"] == result["found"] > 0, result
    before = await _failures(driver)
    nid = sorted(before)[0]
    r = await driver.api("POST", f"/failures/{before[nid]['id']}/retry")
    assert r.status_code == 202, r.text
    assert nid in await _failures(driver), "the record must not vanish before the write"
    await asyncio.sleep(1.0)
    await _wait_writer_idle(driver)
    after = await _failures(driver)
    assert nid in after and "обязательное поле" in str(after[nid]["reason"]), after.get(nid)
    assert len(after) == len(before)

    await b24_knobs(driver, mandatory_fields={})
    r = await driver.api("POST", f"/failures/{after[nid]['id']}/retry")
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 30
    while nid in await _failures(driver):
        assert time.monotonic() < deadline, "the written negotiation is still listed as failed"
        await asyncio.sleep(0.3)
    leads = await driver.entities("demo", 1)
    assert [str(x["ORIGIN_ID"]) for x in leads] == [nid]
    assert len(await _failures(driver)) == len(before) - 1


async def _my_notes(driver: Driver) -> list[object]:
    notes = (await driver.http.get(f"{driver.stack.b24_url}/_sandbox/portals/demo/notifications")).json()
    return [n for n in notes if "rabota.by" in str(n)]


@pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20"})
async def test_refused_activity_is_a_failure_and_its_retry_adds_only_the_activity(driver: Driver) -> None:
    await _fast_hh(driver)
    await _connect(driver)
    # The portal refuses the timeline activity (the documented 400 ACCESS_DENIED, in the batch's result_error).
    await b24_knobs(driver, failing_methods={"crm.activity.configurable.add": "ACCESS_DENIED"})
    await driver.save_lead_settings()
    assert (await driver.api("POST", "/import")).status_code == 202
    result = await driver.wait_import()
    found = result["found"]
    assert found > 0 and result["failed"] == found and result["imported"] == 0, result
    await _wait_writer_idle(driver)
    leads = await driver.entities("demo", 1)
    assert sorted(str(x["ORIGIN_ID"]) for x in leads) == sorted({str(x["ORIGIN_ID"]) for x in leads})
    assert len(leads) == found, "every entity is created even though its activity was refused"
    assert not await _activities(driver)
    failures = await _failures(driver)
    assert len(failures) == found
    reasons = {str(f["reason"]) for f in failures.values()}
    assert len(reasons) == 1 and "Битрикс24 отклонил запись (дело в таймлайне): у пользователя приложения нет прав" \
        in reasons.pop(), failures
    assert len(await _my_notes(driver)) == 1, "one notification per cause"
    letters = [x for x in await dead_letters(driver) if x["dlq_subject"].startswith("dlq.")]
    assert len(letters) == found, [(x["subject"], x["reason"]) for x in letters[:3]]
    stats = (await driver.http.get(f"{driver.stack.b24_url}/_sandbox/stats", params={"portal": "demo"})).json()
    assert stats["errors"].get("ACCESS_DENIED", 0) >= found, stats["errors"]

    await b24_knobs(driver, failing_methods={})
    for failure in failures.values():
        r = await driver.api("POST", f"/failures/{failure['id']}/retry")
        assert r.status_code == 202, r.text
    deadline = time.monotonic() + 60
    while await _failures(driver):
        assert time.monotonic() < deadline, "retried failures still listed"
        await asyncio.sleep(0.3)
    await _wait_writer_idle(driver)
    await _assert_one_each(driver, 1)  # the same leads, each with exactly one activity now
    assert len(await driver.entities("demo", 1)) == found
    assert len(await _my_notes(driver)) == 1
