"""Scaling (issue #9): two replicas of every service (auth, poller, mapper, crm-writer, ui) on a 3-node NATS
JetStream cluster (R3 streams) run one import: every response imported once, no duplicates, both replicas
of the mapper and the crm-writer did part of the work, and the portal's Bitrix24 budget is shared: the
sandbox's leaky bucket never overflowed (no QUERY_LIMIT_EXCEEDED) and stayed within B24_BURST."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from rabota_stack.processes import SERVICES, free_port

from tests.e2e.harness import Driver, read_spans
from tests.e2e.test_crm_entities import _wait_writer_idle
from tests.reliability.helpers import b24_knobs, dead_letters, deal_mode, exactly_one_each

RATE, BURST = 1.0, 4
N = 150
# The spans that mark one unit of each service's work; process.pid tells the replicas apart.
WORK_SPANS = {"mapper": "rabota-sync-mapper", "crm-writer": "rabota-sync-crm-writer"}


def _work_split(spans: list[dict[str, Any]]) -> dict[str, dict[int, int]]:
    split: dict[str, Counter[int]] = {}
    for s in spans:
        service = str(s.get("service") or "").removeprefix("rabota-sync-")
        if s["name"] == "crm-writer write" or (service == "mapper" and s["name"].endswith(" process")):
            split.setdefault(service, Counter())[int(s["pid"])] += 1
        elif s["name"].startswith("negotiation found"):
            split.setdefault("poller", Counter())[int(s["pid"])] += 1
    return {k: dict(v) for k, v in split.items()}


@pytest.mark.nats_cluster(3)
@pytest.mark.timeout(240)
@pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20", "B24_RATE": str(RATE), "B24_BURST": str(BURST),
                        "HH_SANDBOX_NEGOTIATIONS": str(N)})
async def test_two_replicas_of_each_service_on_a_nats_cluster(driver: Driver) -> None:
    stack = driver.stack
    replicas = [f"{name}_2" for name in SERVICES]
    for service, name in zip(SERVICES, replicas, strict=True):
        stack.start_replica(service, name, metrics_port=free_port())
    for name in replicas:
        stack.wait_ready(name)
    await b24_knobs(driver, rate=RATE, burst=BURST)
    await deal_mode(driver)
    await driver.http.post(f"{stack.b24_url}/_sandbox/stats/reset", params={"portal": "demo"})
    started = time.monotonic()
    # The import is started through the second ui: any replica serves any request.
    r = await driver.http.post(f"{stack.metrics_url('ui_2')}/api/import", headers=driver.api_headers())
    assert r.status_code == 202, r.text
    result = await driver.wait_import(limit_s=150)
    took = time.monotonic() - started
    await _wait_writer_idle(driver)
    found = await exactly_one_each(driver)
    letters = await dead_letters(driver)
    stats: dict[str, Any] = (await driver.http.get(f"{stack.b24_url}/_sandbox/stats",
                                                   params={"portal": "demo"})).json()
    split = _work_split(read_spans(stack.trace_dir))
    print(f"scaling: {N} responses in {took:.1f}s with 2 replicas of {', '.join(SERVICES)} on 3 NATS nodes; "
          f"found {found}; summary {({k: result[k] for k in ('found', 'imported', 'failed')})}; work per pid "
          f"{split}; {stats['requests_total']} Bitrix24 requests, max bucket level {stats['max_bucket_level']} "
          f"(burst {BURST}), max rate {stats['max_rate_10s']}/s (budget {RATE}/s), refused "
          f"{stats['bucket_refused']}; dead letters {len(letters)}")
    assert found["duplicates"] == 0 and found["losses"] == 0 and found["deals"] == N, found
    assert result["found"] == N and result["imported"] == N and result["failed"] == 0, result
    assert not letters, [(x["subject"], x["reason"]) for x in letters[:5]]
    for service in WORK_SPANS:
        assert len(split.get(service, {})) == 2, f"both {service} replicas should have worked: {split}"
    assert stats["bucket_refused"] == 0 and "QUERY_LIMIT_EXCEEDED" not in stats["errors"], stats
    assert stats["max_bucket_level"] <= BURST, stats
    assert stats["max_rate_10s"] <= RATE + BURST / 10.0, stats  # over any 10 s: what drains plus one bucket
