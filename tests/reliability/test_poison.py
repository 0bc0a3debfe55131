"""Poison messages: a command that can never succeed is dead-lettered with its reason (at once when it can
never be read or belongs to a portal nobody installed, the permanent causes) and blocks nothing else. Transient
causes never dead-letter (issue 15): see tests/integration/common/test_transience.py."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.e2e.harness import Driver
from tests.e2e.test_crm_entities import _wait_some, _wait_writer_idle
from tests.reliability.helpers import b24_knobs, dead_letters, deal_mode, exactly_one_each, first_command, publish_raw

MAX_DELIVER = 3
# Portals on subjects are member_ids (32 lowercase hex): another portal, and one nobody installed.
OTHER = "0ddba11c0ffee0000000000000000001"
GHOST = "0ddba11c0ffee0000000000000000002"


@pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20", "MAX_DELIVER": str(MAX_DELIVER)})
async def test_poison_commands_are_dead_lettered_without_blocking_the_portal(driver: Driver) -> None:
    await deal_mode(driver)
    await b24_knobs(driver, latency_ms=100)
    assert (await driver.api("POST", "/import")).status_code == 202
    await _wait_some(driver, 2, 1)
    sample = await first_command(driver)
    # Never readable; another portal's command on this portal's subject; a portal nobody installed
    # (the token broker says so: permanent, dead-lettered at its first delivery).
    demo = str(sample["portal"])
    await publish_raw(driver, f"crm.command.{demo}", b'{"portal": "' + demo.encode() + b'", "negotiation_id": ')
    await publish_raw(driver, f"crm.command.{demo}", json.dumps({**sample, "portal": OTHER}).encode())
    ghost = {**sample, "portal": GHOST, "negotiation_id": "999000111"}
    await publish_raw(driver, f"crm.command.{GHOST}", json.dumps(ghost).encode())
    await b24_knobs(driver, latency_ms=0)
    result = await driver.wait_import(limit_s=120)
    assert result["imported"] == result["found"] and result["failed"] == 0, result
    found = await exactly_one_each(driver)
    assert found["duplicates"] == 0 and found["losses"] == 0, found
    deadline = time.monotonic() + 60
    letters: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        letters = await dead_letters(driver)
        if len(letters) >= 3:
            break
        await asyncio.sleep(0.5)
    by_subject = {str(x["subject"]): x for x in letters}
    assert len(letters) == 3, letters
    reasons = sorted(str(x["reason"]) for x in letters if x["subject"] == f"crm.command.{demo}")
    assert any(r.startswith("unreadable command") for r in reasons), letters
    assert any(f"portal {OTHER}" in r for r in reasons), reasons
    assert all(x["deliveries"] == 1 for x in letters if x["subject"] == f"crm.command.{demo}"), letters
    ghost_letter = by_subject[f"crm.command.{GHOST}"]
    assert ghost_letter["deliveries"] == 1, ghost_letter
    assert "unknown_portal" in str(ghost_letter["reason"]), ghost_letter
    await _wait_writer_idle(driver)
    print(f"poison: {found['deals']} deals imported beside 3 poison messages; dead letters {reasons}"
          f" + ghost after {ghost_letter['deliveries']} deliveries")
