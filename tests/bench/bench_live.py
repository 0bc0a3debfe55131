"""Live benches: `python -m tests.bench.bench_live`.

- latency: new responses on HeadHunter at a steady rate (each sends its webhook at once); the time from
  the webhook to the entity with its activity existing in the portal, p50 / p99 (observed by polling the
  portal every 100 ms, so figures carry up to 0.1 s of observation delay);
- receiver: answer times of `POST /hh/webhook/{secret}` at 200 requests/s from a second process on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from typing import Any

from tests.bench.common import Limits, cpu_seconds, hh_refusals, percentile, portal_stack
from tests.e2e.harness import Driver

OBSERVE_EVERY_S = 0.1


async def latency(rate: float, count: int, limits: Limits) -> dict[str, Any]:
    async with portal_stack(limits, 10) as (_stack, driver):
        await driver.api("POST", "/import")
        await driver.wait_import()
        await driver.http.post(f"{_stack.hh_url}/_sandbox/stats/reset")
        row = await webhook_latency(driver, rate, count)
        total, refused = hh_refusals((await driver.http.get(f"{_stack.hh_url}/_sandbox/stats")).json())
        return {**row, "hh_requests": total, "hh_429_share": round(refused / max(1, total), 4),
                "hh_by_route": (await driver.http.get(f"{_stack.hh_url}/_sandbox/stats")).json()["by_route"]}


async def webhook_latency(driver: Driver, rate: float, count: int, portal: str = "demo", entity_type_id: int = 1,
                          vacancy_id: str | None = None) -> dict[str, Any]:
    """New responses at `rate` per second (on `vacancy_id`, else the sandbox's first active vacancy), each
    timed from its creation (its webhook is sent at once) to its entity with the activity in `portal`."""
    http, b24 = driver.http, driver.stack.b24_url
    sent: dict[str, float] = {}
    done: dict[str, float] = {}
    finished = asyncio.Event()

    async def observe() -> None:
        while not finished.is_set() or len(done) < len(sent):
            entities = (await http.get(f"{b24}/_sandbox/portals/{portal}/entities",
                                       params={"entity_type_id": entity_type_id})).json()
            acts = (await http.get(f"{b24}/_sandbox/portals/{portal}/activities")).json()
            owners = {a["ownerId"] for a in acts if a["ownerTypeId"] == entity_type_id}
            now = time.monotonic()
            for entity in entities:
                nid = str(entity.get("ORIGIN_ID"))
                if nid in sent and nid not in done and entity["ID"] in owners:
                    done[nid] = now
            if finished.is_set() and time.monotonic() - max(sent.values()) > 60:
                break
            await asyncio.sleep(OBSERVE_EVERY_S)

    watcher = asyncio.create_task(observe())
    body: dict[str, Any] = {"kind": "response", **({"vacancy_id": vacancy_id} if vacancy_id else {})}
    t0 = time.monotonic()
    for i in range(count):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        r = await http.post(f"{driver.stack.hh_url}/_sandbox/negotiations", json=body)
        sent[str(r.json()["id"])] = time.monotonic()
    finished.set()
    await watcher
    lat = [done[n] - sent[n] for n in done]
    p50, p99 = percentile(lat, 0.5), percentile(lat, 0.99)  # None: nothing arrived within 60 s of the last
    return {"rate_per_s": rate, "sent": count, "arrived": len(done),
            "p50_s": None if p50 is None else round(p50, 2), "p99_s": None if p99 is None else round(p99, 2),
            "max_s": round(max(lat, default=0), 2)}


async def receiver(rate: float, seconds: float) -> dict[str, Any]:
    async with portal_stack(Limits(), 5) as (stack, driver):
        subs: list[dict[str, Any]] = []
        for _ in range(100):  # the poller subscribes right after the login
            subs = (await driver.http.get(f"{stack.hh_url}/_sandbox/webhooks")).json()["subscriptions"]
            if subs:
                break
            await asyncio.sleep(0.2)
        cpu_before = cpu_seconds(stack)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.bench.webhook_load", subs[0]["url"], "--rate", str(rate),
            "--seconds", str(seconds), stdout=subprocess.PIPE)
        out, _ = await proc.communicate()
        cpu = {k: round(v - cpu_before.get(k, 0.0), 1) for k, v in cpu_seconds(stack).items()}
    # CPU seconds each process spent during the load: on 2 shared cores the tail follows their sum.
    return {**json.loads(out.decode().strip().splitlines()[-1]), "cpu_s": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=1.0, help="new responses per second (latency)")
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--receiver-rate", type=float, default=200.0)
    parser.add_argument("--receiver-seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps({"latency": asyncio.run(latency(args.rate, args.count, Limits())),
                      "receiver": asyncio.run(receiver(args.receiver_rate, args.receiver_seconds))}, indent=2))


if __name__ == "__main__":
    main()
