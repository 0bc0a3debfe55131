"""Attack: an applicant whose name is a Bitrix24 batch reference (`$result[e1]`, `$result[unknown]`, `$RESULT[x]`,
`$next[y]`). Bitrix24 substitutes such text inside batch values: the lead would take another command's value, the
whole results map (other applicants' data) or an empty field. The product neutralises the text; the sandbox's batch
substitutes exactly as Bitrix24 does, so a missed case shows here."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.e2e.harness import Driver

pytestmark = [pytest.mark.timeout(240), pytest.mark.stack_env({"HH_SANDBOX_NEGOTIATIONS": "4"})]

HOSTILE = ["$result[e0]", "$result[unknown]", "$RESULT[x]", "$next[y]", "$result[c0][ID]"]


async def _wait(predicate: Any, limit_s: float, what: str) -> Any:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


async def test_applicant_names_that_are_batch_references_stay_text(driver: Driver) -> None:
    await driver.install("demo")
    await driver.open_app("demo")
    assert (await driver.connect_hh()).status_code == 200
    await driver.save_lead_settings()

    async def subscribed() -> bool:
        hooks = (await driver.http.get(f"{driver.stack.hh_url}/_sandbox/webhooks")).json()
        return bool(hooks["subscriptions"])

    await _wait(subscribed, 30, "the webhook subscription")
    created: dict[str, str] = {}
    for i, name in enumerate(HOSTILE):
        r = await driver.http.post(f"{driver.stack.hh_url}/_sandbox/negotiations", json={
            "names": {"first_name": name, "last_name": f"{name} Фамилия", "middle_name": ""}})
        assert r.status_code == 201, r.text
        created[r.json()["id"]] = name
        assert i >= 0

    async def all_leads() -> dict[str, dict[str, Any]] | None:
        leads = {str(lead.get("ORIGIN_ID")): lead for lead in await driver.entities("demo", 1)}
        return leads if all(nid in leads for nid in created) else None

    leads = await _wait(all_leads, 90, "a lead for every hostile applicant")
    for nid, name in created.items():
        lead = leads[nid]
        assert isinstance(lead["NAME"], str) and isinstance(lead["LAST_NAME"], str), lead
        # Stored as the text itself: a person reads the same (an invisible word joiner follows the `$`).
        assert lead["NAME"].replace("\u2060", "") == name, lead
        assert lead["LAST_NAME"].replace("\u2060", "") == f"{name} Фамилия", lead
        # No other applicant's data was pulled in.
        others = [n for other, n in created.items() if other != nid]
        assert not any(o in lead["TITLE"] for o in others if o not in name), lead
