"""Attack: an applicant whose name is a Bitrix24 batch reference (`$result[e1]`, `$result[unknown]`, `$RESULT[x]`,
`$next[y]`). Bitrix24 substitutes such text inside batch values: the lead would take another command's value, the
whole results map (other applicants' data) or an empty field. The product neutralises the text; the sandbox's batch
substitutes exactly as Bitrix24 does, so a missed case shows here."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.harness import Driver, until, wait_subscriptions

pytestmark = [pytest.mark.timeout(240), pytest.mark.stack_env({"HH_SANDBOX_NEGOTIATIONS": "4"})]

HOSTILE = ["$result[e0]", "$result[unknown]", "$RESULT[x]", "$next[y]", "$result[c0][ID]"]




async def test_applicant_names_that_are_batch_references_stay_text(driver: Driver) -> None:
    await driver.install("demo")
    await driver.open_app("demo")
    assert (await driver.connect_hh()).status_code == 200
    await driver.save_lead_settings()

    await wait_subscriptions(driver, 1)
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

    leads = await until("a lead for every hostile applicant", 90, all_leads)
    for nid, name in created.items():
        lead = leads[nid]
        assert isinstance(lead["NAME"], str) and isinstance(lead["LAST_NAME"], str), lead
        # Stored as the text itself: a person reads the same (an invisible word joiner follows the `$`).
        assert lead["NAME"].replace("\u2060", "") == name, lead
        assert lead["LAST_NAME"].replace("\u2060", "") == f"{name} Фамилия", lead
        # No other applicant's data was pulled in.
        others = [n for other, n in created.items() if other != nid]
        assert not any(o in lead["TITLE"] for o in others if o not in name), lead
