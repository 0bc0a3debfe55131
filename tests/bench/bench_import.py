"""Initial-import benchmark: `python -m tests.bench.bench_import --n 1000` (or all benches: `python -m tests.bench`).

Starts a local stack against the sandbox, imports N responses and reports HeadHunter and Bitrix24 requests
per response, wall time, efficiency = achieved rate ÷ the rate the binding external limit allows (from the
sandbox's own limits and the request counts), peak RSS and CPU seconds of each service. With `limits off`
it is the capacity bench: responses per second end to end and, from CPU time and a py-spy sample, the
bottleneck service. Not part of the test suite's pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.bench.common import (
    SERVICES,
    Limits,
    cpu_seconds,
    hh_refusals,
    peak_rss_mb,
    portal_stack,
    py_spy,
    service_pids,
    top_frames,
)


async def deal_settings(driver: Any) -> None:
    """Deals in the «Подбор» pipeline: every applicant gets a contact (looked up first, F17)."""
    options = (await driver.api("GET", "/options")).json()
    cat = next(c for c in options["deal_categories"] if c["id"] == 1)
    stages = [s["id"] for s in cat["stages"]]
    r = await driver.api("PUT", "/settings", json={
        "responsible_id": options["users"][0]["id"], "entity_type": "deal", "smart_process_type_id": None,
        "category_id": 1, "extended": False, "stage_map": {"response": stages[0], "invitation": stages[1]}})
    assert r.status_code == 200, r.text


async def run(n: int, limits: Limits, profile: bool = False, mode: str = "lead") -> dict[str, Any]:
    async with portal_stack(limits, n) as (stack, driver):
        http: httpx.AsyncClient = driver.http
        if mode == "deal":
            await deal_settings(driver)
        await http.post(f"{stack.hh_url}/_sandbox/stats/reset")
        await http.post(f"{stack.b24_url}/_sandbox/stats/reset")
        cpu_before = cpu_seconds(stack)
        spies: dict[str, Any] = {}
        tmp = Path(tempfile.mkdtemp(prefix="bench-spy-"))
        if profile:
            # The sandbox too: in the capacity bench its CPU is part of the machine's load.
            for name, pid in {**service_pids(stack), "sandbox": stack.group.get("sandbox").popen.pid}.items():
                spy = py_spy(pid, max(30, n // 20), tmp / f"{name}.txt")
                if spy is not None:
                    spies[name] = spy
        started = time.monotonic()
        await driver.api("POST", "/import")
        result = await driver.wait_import(limit_s=max(600.0, n * 2.0))
        wall = time.monotonic() - started
        cpu_raw = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_seconds(stack).items()}
        cpu = {k: round(v, 1) for k, v in cpu_raw.items()}
        rss = peak_rss_mb(stack)
        hh_stats = (await http.get(f"{stack.hh_url}/_sandbox/stats")).json()
        b24_stats = (await http.get(f"{stack.b24_url}/_sandbox/stats", params={"portal": "demo"})).json()
        for spy in spies.values():
            spy.send_signal(signal.SIGINT)  # stop sampling with the import; py-spy writes what it has
            spy.wait(timeout=60)
    imported = max(1, result["imported"])
    hh_requests = int(hh_stats["requests_total"])
    b24_requests = int(b24_stats["requests_total"])
    row: dict[str, Any] = {
        "n": n, "mode": mode, "found": result["found"], "imported": result["imported"], "failed": result["failed"],
        "wall_s": round(wall, 1), "responses_per_s": round(result["imported"] / wall, 2) if wall else None,
        "hh_requests": hh_requests, "hh_requests_per_response": round(hh_requests / imported, 3),
        "hh_by_route": hh_stats.get("by_route"),
        "b24_requests": b24_requests, "b24_requests_per_response": round(b24_requests / imported, 3),
        "b24_max_rate_10s": b24_stats.get("max_rate_10s"),
        "b24_batched_commands": b24_stats.get("batched_commands"),
        "peak_rss_mb": rss, "cpu_s": cpu, "bottleneck": max(SERVICES, key=lambda k: cpu.get(k, 0.0)),
        # CPU per response is what to compare across runs: unlike wall time it hardly moves when other
        # work shares the machine.
        "cpu_ms_per_response": {k: round(1000 * v / imported, 2) for k, v in cpu_raw.items()},
        "cpu_ms_per_response_total": round(1000 * sum(cpu_raw.values()) / imported, 2),
    }
    if limits.hh_rps and limits.b24_rate:
        # The binding limit: how fast could N responses go if each API were used at its full rate?
        hh_bound_s = hh_requests / limits.hh_rps
        b24_bound_s = max(0.0, (b24_requests - limits.b24_burst) / limits.b24_rate)
        row["binding_limit"] = "headhunter" if hh_bound_s >= b24_bound_s else "bitrix24"
        row["efficiency"] = round(max(hh_bound_s, b24_bound_s) / wall, 3) if wall else None
        total, refused = hh_refusals(hh_stats)
        # The share of HeadHunter's limit (unknown to the product) used by answered requests, and of 429s.
        row["hh_limit_used"] = round((total - refused) / limits.hh_rps / wall, 3) if wall else None
        row["hh_429_share"] = round(refused / max(1, total), 4)
    if spies:
        row["profile"] = {"service": row["bottleneck"], "top_frames": top_frames(tmp / f"{row['bottleneck']}.txt"),
                          "others": {name: top_frames(tmp / f"{name}.txt", 4) for name in spies
                                     if name != row["bottleneck"]}}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--hh-rps", type=float, default=10.0, help="sandbox HeadHunter per-IP limit")
    parser.add_argument("--hh-budget", type=float, default=None,
                        help="a fixed HH_RATE as a share of the limit (default: the adaptive budget, limit unknown)")
    parser.add_argument("--b24-rate", type=float, default=2.0)
    parser.add_argument("--b24-burst", type=int, default=50)
    parser.add_argument("--limits-off", action="store_true", help="capacity: no sandbox limits, zero latency")
    parser.add_argument("--profile", action="store_true", help="py-spy every service during the import")
    parser.add_argument("--mode", choices=("lead", "deal"), default="lead", help="entity type written")
    parser.add_argument("--json", type=Path, default=Path("test-artifacts/bench_import.json"))
    args = parser.parse_args()
    limits = (Limits(hh_rps=None, b24_rate=None) if args.limits_off
              else Limits(args.hh_rps, args.hh_budget, args.b24_rate, args.b24_burst))
    row = asyncio.run(run(args.n, limits, args.profile, args.mode))
    width = max(len(k) for k in row)
    for key, value in row.items():
        print(f"{key:<{width}}  {value}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
