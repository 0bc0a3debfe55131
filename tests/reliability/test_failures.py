"""A retried failure stays listed until the write succeeded: retrying while the cause is still there keeps
the record (with its reason), retrying once it is fixed writes the entity and clears it."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.e2e.harness import Driver
from tests.e2e.test_crm_entities import _connect, _fast_hh, _wait_writer_idle
from tests.reliability.helpers import b24_knobs


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
