"""Adaptive HeadHunter budget (issue 17): `python -m tests.bench.bench_adaptive --n 600`
(or `python -m tests.bench --only adaptive`).

The product runs at its defaults (HH_RATE_MIN 2, HH_RATE 20: it does not know the limit) and imports N
responses while the sandbox's per-IP limit changes under it: `--phases 10:40,6:30,15:0` = 10 requests/s for
40 s, then 6 for 30 s, then 15 until the import ends. Reported per phase, from the sandbox's own counters
sampled every second: answered requests per second ÷ the limit (the share of the limit used) and the
share of requests answered 429; and the same over the whole import.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from pathlib import Path
from typing import Any

from tests.bench.common import Limits, hh_refusals, portal_stack

SETTLE_S = 5.0  # the first seconds of a phase (the rate finding the new limit) are reported apart


def _phases(spec: str) -> list[tuple[float, float]]:
    return [(float(rps), float(secs)) for rps, secs in (p.split(":") for p in spec.split(","))]


async def run(n: int = 600, phases: str = "10:40,6:30,15:0") -> dict[str, Any]:
    plan = _phases(phases)
    async with portal_stack(Limits(hh_rps=plan[0][0]), n) as (stack, driver):
        http = driver.http
        knobs = f"{stack.hh_url}/_sandbox/knobs"
        samples: list[tuple[float, float, int, int]] = []  # (time, limit, served, refused)
        done = asyncio.Event()

        async def sample(limit: float) -> None:
            total, refused = hh_refusals((await http.get(f"{stack.hh_url}/_sandbox/stats")).json())
            samples.append((time.monotonic(), limit, total, refused))

        async def drive() -> None:
            for i, (limit, seconds) in enumerate(plan):
                if i:
                    await http.put(knobs, json={"rate_limit_rps": limit})
                end = time.monotonic() + (seconds or 1e9)
                while time.monotonic() < end and not done.is_set():
                    await sample(limit)
                    await asyncio.sleep(1.0)
                if done.is_set():
                    return

        await http.post(f"{stack.hh_url}/_sandbox/stats/reset")
        started = time.monotonic()
        await driver.api("POST", "/import")
        sampler = asyncio.create_task(drive())
        result = await driver.wait_import(limit_s=max(600.0, n * 2.0))
        done.set()
        await sampler
        await sample(samples[-1][1] if samples else plan[0][0])
        wall = time.monotonic() - started
    # The import's tail (writes to Bitrix24, HeadHunter done) is not HeadHunter's limit left unused.
    while len(samples) > 2 and samples[-2][2] == samples[-1][2]:
        samples.pop()
    return {"n": n, "imported": result["imported"], "failed": result["failed"], "wall_s": round(wall, 1),
            "phases": _report(samples), "overall": _window(samples)}


def _window(samples: list[tuple[float, float, int, int]]) -> dict[str, Any]:
    if len(samples) < 2:
        return {}
    budget = sum((b[0] - a[0]) * a[1] for a, b in itertools.pairwise(samples))
    served = samples[-1][2] - samples[0][2]
    refused = samples[-1][3] - samples[0][3]
    return {"seconds": round(samples[-1][0] - samples[0][0], 1), "requests": served,
            "limit_used": round((served - refused) / budget, 3) if budget else None,
            "share_429": round(refused / max(1, served), 4)}


def _report(samples: list[tuple[float, float, int, int]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(samples):
        j = i
        while j + 1 < len(samples) and samples[j + 1][1] == samples[i][1]:
            j += 1
        phase = samples[i:j + 2]  # up to the next phase's first sample
        settled = [s for s in phase if s[0] - phase[0][0] >= SETTLE_S]
        out.append({"limit_rps": samples[i][1], **_window(phase),
                    "settled": _window(settled) if len(settled) >= 2 else {}})
        i = j + 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--phases", default="10:40,6:30,15:0", help="limit:seconds,… (0 s: until the end)")
    parser.add_argument("--json", type=Path, default=Path("test-artifacts/bench_adaptive.json"))
    args = parser.parse_args()
    row = asyncio.run(run(args.n, args.phases))
    print(json.dumps(row, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
