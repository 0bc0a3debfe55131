"""Fairness bench (DESIGN §9): `python -m tests.bench.bench_fairness --n 1000`.

Portal A ("demo", the HeadHunter admin) imports N responses under the sandbox's default limits while
portal B ("simple", the manager's account) gets new responses by webhook at a steady rate: B's webhook →
entity+activity p50/p99 (as the live bench measures it) must stay within the live target, and A's import
must keep the HeadHunter limit used (efficiency = HeadHunter requests of both portals ÷ what the limit
allows in A's wall time). A's N responses are on vacancies only the admin sees, so B's CRM holds exactly
what its webhooks bring.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from tests.bench.bench_live import webhook_latency
from tests.bench.common import Limits, portal_stack
from tests.e2e.harness import manager_vacancies, second_portal, seed_admin_only, wait_subscriptions


async def run(n: int, limits: Limits, rate: float = 1.0, count: int = 30) -> dict[str, Any]:
    async with portal_stack(limits, 0, seed=lambda driver: seed_admin_only(driver, n)) as (stack, a):
        http = a.http
        await second_portal(a)
        await wait_subscriptions(a, 2)
        vacancy = (await manager_vacancies(a))[0][0]
        await http.post(f"{stack.hh_url}/_sandbox/stats/reset")
        started = time.monotonic()
        await a.api("POST", "/import")
        while True:  # under way
            if (await a.api("GET", "/import")).json()["processed"] >= min(50, n // 10):
                break
            await asyncio.sleep(0.5)
        b_started = time.monotonic() - started
        live = await webhook_latency(a, rate, count, portal="simple", entity_type_id=2, vacancy_id=vacancy)
        a_then = (await a.api("GET", "/import")).json()
        result = await a.wait_import(limit_s=max(600.0, n * 2.0))
        wall = time.monotonic() - started
        hh_stats = (await http.get(f"{stack.hh_url}/_sandbox/stats")).json()
    hh_requests = int(hh_stats["requests_total"])
    row: dict[str, Any] = {
        "n": n, "imported": result["imported"], "failed": result["failed"], "wall_s": round(wall, 1),
        "a_responses_per_s": round(result["imported"] / wall, 2) if wall else None,
        "hh_requests": hh_requests, "b": live, "b_started_after_s": round(b_started, 1),
        "a_processed_when_b_done": a_then["processed"], "a_state_when_b_done": a_then["state"],
    }
    if limits.hh_rps:
        row["efficiency"] = round(hh_requests / limits.hh_rps / wall, 3) if wall else None
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1.0, help="portal B's new responses per second")
    parser.add_argument("--count", type=int, default=30, help="portal B's new responses")
    parser.add_argument("--json", type=Path, default=Path("test-artifacts/bench_fairness.json"))
    args = parser.parse_args()
    row = asyncio.run(run(args.n, Limits(), args.rate, args.count))
    print(json.dumps(row, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
