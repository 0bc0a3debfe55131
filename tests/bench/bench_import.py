"""Initial-import benchmark: `python -m tests.bench.bench_import --n 1000`.

Starts a local stack against the sandbox, imports N responses and prints (and writes as JSON)
HeadHunter and Bitrix24 requests per response, wall time, and efficiency = achieved rate ÷ the rate
the binding external limit allows (from the sandbox's own limits and the request counts).
Not part of the test suite's pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rabota_stack.stack import Stack, StackConfig

from tests.e2e.harness import Driver


async def run(n: int, hh_rps: float, b24_rate: float, b24_burst: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(StackConfig.ephemeral(Path(tmp), extra_env={
            "HH_RATE": str(hh_rps * 0.8), "B24_RATE": str(b24_rate), "B24_BURST": str(b24_burst),
            "LOG_LEVEL": "WARNING"}))
        stack.start()
        try:
            async with httpx.AsyncClient(timeout=120.0) as http:
                driver = Driver(stack, http)
                await http.post(f"{stack.hh_url}/_sandbox/reset", json={"negotiations": n})
                await http.put(f"{stack.hh_url}/_sandbox/knobs", json={"rate_limit_rps": hh_rps})
                await http.put(f"{stack.b24_url}/_sandbox/knobs", params={"portal": "demo"},
                               json={"rate": b24_rate, "burst": b24_burst})
                await driver.install("demo")
                await driver.open_app("demo")
                await driver.connect_hh()
                await driver.save_lead_settings()
                await http.post(f"{stack.hh_url}/_sandbox/stats/reset")
                await http.post(f"{stack.b24_url}/_sandbox/stats/reset")
                started = time.monotonic()
                await driver.api("POST", "/import")
                result = await driver.wait_import(limit_s=max(600.0, n * 2.0))
                wall = time.monotonic() - started
                hh_stats = (await http.get(f"{stack.hh_url}/_sandbox/stats")).json()
                b24_stats = (await http.get(f"{stack.b24_url}/_sandbox/stats", params={"portal": "demo"})).json()
        finally:
            stack.stop()
    imported = max(1, result["imported"])
    hh_requests = int(hh_stats["requests_total"])
    b24_requests = int(b24_stats["requests_total"])
    # The binding limit: how fast could N responses go if each API were used at its full rate?
    hh_bound_s = hh_requests / hh_rps
    b24_bound_s = max(0.0, (b24_requests - b24_burst) / b24_rate)
    bound_s = max(hh_bound_s, b24_bound_s)
    return {
        "n": n,
        "found": result["found"],
        "imported": result["imported"],
        "failed": result["failed"],
        "wall_s": round(wall, 1),
        "hh_requests": hh_requests,
        "hh_requests_per_response": round(hh_requests / imported, 3),
        "b24_requests": b24_requests,
        "b24_requests_per_response": round(b24_requests / imported, 3),
        "b24_max_rate_10s": b24_stats.get("max_rate_10s"),
        "binding_limit": "headhunter" if hh_bound_s >= b24_bound_s else "bitrix24",
        "efficiency": round(bound_s / wall, 3) if wall else None,
        "responses_per_s": round(result["imported"] / wall, 2) if wall else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--hh-rps", type=float, default=10.0, help="sandbox HeadHunter per-IP limit")
    parser.add_argument("--b24-rate", type=float, default=2.0)
    parser.add_argument("--b24-burst", type=int, default=50)
    parser.add_argument("--json", type=Path, default=Path("test-artifacts/bench_import.json"))
    args = parser.parse_args()
    row = asyncio.run(run(args.n, args.hh_rps, args.b24_rate, args.b24_burst))
    width = max(len(k) for k in row)
    for key, value in row.items():
        print(f"{key:<{width}}  {value}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
