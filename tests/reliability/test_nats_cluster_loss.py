"""Broker node loss (issue #8, #15): an import on a 3-node NATS JetStream cluster (R3 streams, the k8s config)
while the node leading the CRM_COMMAND stream is SIGKILLed mid-import and brought back a few seconds later,
twice (the second time the new leader).

End state: the import finishes, exactly one deal and one activity per response and one contact per
applicant (nothing lost, nothing duplicated), nothing in the DLQ."""

from __future__ import annotations

import asyncio
import os
import time

import httpx
import nats
import pytest
from rabota_common.bus import nats_servers

from tests.e2e.harness import Driver
from tests.e2e.test_crm_entities import _wait_some, _wait_writer_idle
from tests.reliability.helpers import b24_knobs, dead_letters, deal_mode, exactly_one_each

N = int(os.environ.get("NODE_LOSS_N", "300"))
DOWN_S = 4.0


async def _stream_leader(driver: Driver, stream: str, limit_s: float = 30.0) -> str:
    """The server leading the stream (asked again while the cluster is still electing one)."""
    nc = await nats.connect(nats_servers(driver.stack.nats_url))
    deadline = time.monotonic() + limit_s
    try:
        while True:
            try:
                info = await nc.jetstream().stream_info(stream)
                if info.cluster is not None and info.cluster.leader:
                    return str(info.cluster.leader)
            except (nats.errors.Error, TimeoutError):
                if time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.5)
    finally:
        await nc.close()


async def _wait_healthy(url: str, limit_s: float = 60.0) -> None:
    """Until the node's JetStream is current again (/healthz 200: it rejoined and caught up)."""
    deadline = time.monotonic() + limit_s
    async with httpx.AsyncClient(timeout=2.0) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} not healthy after {limit_s}s")


@pytest.mark.nats_cluster(3)
@pytest.mark.timeout(240)
@pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20", "B24_RATE": "50", "B24_BURST": "200",
                        "HH_SANDBOX_NEGOTIATIONS": str(N)})
async def test_import_survives_the_loss_of_a_nats_node(driver: Driver) -> None:
    await b24_knobs(driver, rate=50.0, burst=200)  # about the broker, not the Bitrix24 budget
    await deal_mode(driver)
    started = time.monotonic()
    assert (await driver.api("POST", "/import")).status_code == 202
    await _wait_some(driver, 2, N // 5)  # mid-import: some deals written, most still on their way
    victims: list[str] = []
    recovered: list[float] = []
    before = len(await driver.entities("demo", 2))
    for at_least in (N // 5, N // 2):  # the leader is killed twice in one import (issue 15)
        await _wait_some(driver, 2, at_least)
        victim = await _stream_leader(driver, "CRM_COMMAND")
        killed = time.monotonic()
        await asyncio.to_thread(driver.stack.restart_service, victim, True, DOWN_S)
        node = driver.stack.nats_node(victim)
        assert node is not None
        await _wait_healthy(node.health_url)
        recovered.append(round(time.monotonic() - killed, 1))
        victims.append(victim)
    new_leader = await _stream_leader(driver, "CRM_COMMAND")
    result = await driver.wait_import(limit_s=150)
    took = time.monotonic() - started
    await _wait_writer_idle(driver, limit_s=90)
    found = await exactly_one_each(driver)
    letters = await dead_letters(driver)
    print(f"node loss: {N} responses in {took:.1f}s; SIGKILLed {victims} (CRM_COMMAND leaders) from {before} deals "
          f"written, each down {DOWN_S:.0f}s, rejoined and current {recovered}s after the kill, leader now "
          f"{new_leader}; found {found}; summary {({k: result[k] for k in ('found', 'imported', 'failed')})}; "
          f"dead letters {len(letters)}")
    assert found["duplicates"] == 0 and found["losses"] == 0, found
    assert found["deals"] == N
    assert result["found"] == N and result["imported"] == N and result["failed"] == 0, result
    assert not letters, [(x["subject"], x["reason"]) for x in letters[:5]]
