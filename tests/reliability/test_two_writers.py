"""Two crm-writer replicas on one portal share its request budget: the sandbox portal never refuses a
request for the rate limit, its leaky bucket stays within B24_BURST and the rate it saw within B24_RATE."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.harness import Driver, read_spans
from tests.e2e.test_crm_entities import _wait_writer_idle
from tests.reliability.helpers import b24_knobs, deal_mode, exactly_one_each

RATE, BURST = 1.0, 6
N = 200


@pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20", "B24_RATE": str(RATE), "B24_BURST": str(BURST),
                        "HH_SANDBOX_NEGOTIATIONS": str(N)})
async def test_two_writer_replicas_never_exceed_the_portal_budget(driver: Driver) -> None:
    driver.stack.start_replica("crm_writer", "crm_writer_2")
    await b24_knobs(driver, rate=RATE, burst=BURST)
    await deal_mode(driver)
    await driver.http.post(f"{driver.stack.b24_url}/_sandbox/stats/reset", params={"portal": "demo"})
    started = time.monotonic()
    assert (await driver.api("POST", "/import")).status_code == 202
    result = await driver.wait_import(limit_s=240)
    took = time.monotonic() - started
    await _wait_writer_idle(driver)
    assert result["imported"] == result["found"] == N and result["failed"] == 0, result
    found = await exactly_one_each(driver)
    assert found["duplicates"] == 0 and found["losses"] == 0, found
    stats: dict[str, Any] = (await driver.http.get(f"{driver.stack.b24_url}/_sandbox/stats",
                                                   params={"portal": "demo"})).json()
    writers = {s["pid"] for s in read_spans(driver.stack.trace_dir) if s["name"] == "crm-writer write"}
    print(f"two writers: {N} responses in {took:.1f}s, {stats['requests_total']} Bitrix24 requests, "
          f"max rate {stats['max_rate_10s']}/s (budget {RATE}/s), max bucket level {stats['max_bucket_level']}"
          f" (burst {BURST}), refused {stats['bucket_refused']}, writer pids {len(writers)}")
    assert len(writers) == 2, "both replicas should have written"
    assert stats["bucket_refused"] == 0 and "QUERY_LIMIT_EXCEEDED" not in stats["errors"], stats
    assert stats["max_bucket_level"] <= BURST, stats
    # Over any 10 s: at most what drains plus one full bucket.
    assert stats["max_rate_10s"] <= RATE + BURST / 10.0, stats
