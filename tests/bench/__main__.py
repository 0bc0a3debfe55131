"""All benchmarks (issue #7), one command:
`python -m tests.bench [--quick | --full] [--only adaptive,import,live,capacity,fairness,idle]`.

1. initial import of N responses with the sandbox's default limits (HeadHunter 10 requests/s per IP,
   Bitrix24 2 requests/s burst 50): requests per response for both APIs, wall time, efficiency;
2. live latency: webhooks at a steady rate, webhook → entity with its activity in the portal, p50/p99;
3. webhook receiver: p50/p99 answer time at 200 requests/s from a second process on loopback;
4. memory: peak RSS of each service after imports of two sizes (must stay flat);
5. capacity: limits off and zero latency, responses/s end to end and the bottleneck service (CPU seconds
   per service, py-spy sample of the busiest);
6. fairness: portal A imports N (1000 / 3000 / 10000) while portal B gets webhooks at 1/s: B's webhook →
   entity+activity p50/p99 and how fully A's import still uses the HeadHunter limit.
7. idle: 100 installed, connected, imported portals left idle (shortened POLL_INTERVAL_S): HeadHunter and
   Bitrix24 requests per idle portal per hour (at the default interval), CPU, RSS, Redis memory and keys.
Prints one table and writes test-artifacts/bench.json. Benchmarks print numbers; they never fail on
slowness. Figures are noisy on a shared 2-core machine: compare ratios rather than absolute times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from tests.bench import bench_adaptive, bench_fairness, bench_idle, bench_import, bench_live
from tests.bench.bench_idle import DEFAULT_INTERVAL_S as DEFAULT_POLL_S
from tests.bench.common import Limits

SIZES = {"quick": (300, 1000, 3000, 20, 5.0), "default": (1000, 1000, 5000, 30, 10.0),
         "full": (10000, 1000, 10000, 60, 10.0)}
ADAPTIVE_N = {"quick": 300, "default": 600, "full": 2000}
FAIRNESS_N = {"quick": 1000, "default": 3000, "full": 10000}
IDLE = {"quick": (20, 10.0), "default": (100, 20.0), "full": (100, 20.0)}  # portals, POLL_INTERVAL_S


def table(rows: list[tuple[str, Any, str]]) -> str:
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{name:<{width}}  {value!s:<24} {target}" for name, value, target in rows)


async def main_async(profile: str, only: set[str]) -> dict[str, Any]:
    n_import, n_small, n_large, live_count, receiver_s = SIZES[profile]
    machine = f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    out: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine,
                           "profile": profile}
    if "import" in only:
        out["import"] = await bench_import.run(n_import, Limits())
    if "adaptive" in only:
        out["adaptive"] = await bench_adaptive.run(ADAPTIVE_N[profile])
    if "live" in only:
        out["latency"] = await bench_live.latency(1.0, live_count, Limits())
        out["latency_2"] = await bench_live.latency(2.0, 2 * live_count, Limits())
        out["receiver"] = await bench_live.receiver(200.0, receiver_s)
    if "capacity" in only:
        off = Limits(hh_rps=None, b24_rate=None)
        out["capacity_small"] = await bench_import.run(n_small, off)
        out["capacity"] = await bench_import.run(n_large, off, profile=True)
    if "fairness" in only:
        out["fairness"] = await bench_fairness.run(FAIRNESS_N[profile], Limits(), 1.0, live_count)
    if "idle" in only:
        out["idle"] = await bench_idle.run(*IDLE[profile])
    return out


def summary(out: dict[str, Any]) -> list[tuple[str, Any, str]]:
    rows: list[tuple[str, Any, str]] = []
    imp = out.get("import")
    if imp:
        rows += [(f"import N={imp['n']}: imported / failed", f"{imp['imported']} / {imp['failed']}", ""),
                 ("  HeadHunter requests per response", imp["hh_requests_per_response"], "≤ 2.1"),
                 ("  Bitrix24 requests per response", imp["b24_requests_per_response"], "≤ 0.1"),
                 ("  wall time, s", imp["wall_s"], ""),
                 ("  efficiency (binding: " + str(imp.get("binding_limit")) + ")", imp.get("efficiency"), "≥ 0.9")]
    ada = out.get("adaptive")
    if ada:
        for phase in ada["phases"]:
            settled = phase.get("settled") or phase
            rows += [(f"adaptive: limit {phase['limit_rps']:g}/s (unknown to the product): share used",
                      settled.get("limit_used"), "≥ 0.9"),
                     ("  share of requests answered 429", settled.get("share_429"), "≤ 0.01")]
    for key in ("latency", "latency_2"):
        lat = out.get(key)
        if lat:
            rows += [(f"webhook → entity+activity at {lat['rate_per_s']}/s, p50 s", lat["p50_s"], "≤ 1"),
                     ("  p99 s", lat["p99_s"], "≤ 3"), ("  arrived / sent", f"{lat['arrived']} / {lat['sent']}", ""),
                     ("  HeadHunter requests answered 429", lat.get("hh_429_share"), "")]
    rec = out.get("receiver")
    if rec:
        rows += [(f"receiver at {rec['achieved_rps']}/s, p50 ms", rec["p50_ms"], ""),
                 ("  p99 ms", rec["p99_ms"], "≤ 50"), ("  answers", rec["statuses"], "")]
    small, large = out.get("capacity_small"), out.get("capacity")
    if small and large:
        for name in sorted(large["peak_rss_mb"]):
            rows.append((f"peak RSS {name}, MB (N={small['n']} → {large['n']})",
                         f"{small['peak_rss_mb'].get(name)} → {large['peak_rss_mb'][name]}", "≤ 150, flat"))
        rows += [(f"capacity, limits off, N={large['n']}: responses/s", large["responses_per_s"], "≥ 300"),
                 ("  bottleneck (CPU s per service)", f"{large['bottleneck']} {large['cpu_s']}", ""),
                 ("  CPU ms per response, all processes", large.get("cpu_ms_per_response_total"), ""),
                 *((f"    {name}", ms, "") for name, ms in sorted((large.get("cpu_ms_per_response") or {}).items(),
                                                                   key=lambda kv: -kv[1]))]
        for frame in (large.get("profile") or {}).get("top_frames", [])[:3]:
            rows.append(("    " + frame["frame"][:70], frame["share"], ""))
    fair = out.get("fairness")
    if fair:
        b = fair["b"]
        rows += [(f"fairness: A imports N={fair['n']}, B webhooks at {b['rate_per_s']}/s: B p50 s", b["p50_s"], "≤ 1"),
                 ("  B p99 s", b["p99_s"], "≤ 3"), ("  B arrived / sent", f"{b['arrived']} / {b['sent']}", ""),
                 ("  A imported / failed, wall s", f"{fair['imported']} / {fair['failed']}, {fair['wall_s']}", ""),
                 ("  A processed when B's responses had arrived", fair["a_processed_when_b_done"], "< N"),
                 ("  HeadHunter limit used during A's import", fair.get("efficiency"), "≥ 0.9")]
    idle = out.get("idle")
    if idle:
        rows += [(f"idle: {idle['portals']} portals, HH requests/portal/hour at the defaults",
                  idle["hh_per_portal_hour_default"], "≤ 1"),
                 ("  poller tick ms (these portals / 10 000)", idle.get("poller_tick_ms"), "≪ 5000"),
                 ("  Redis KB per portal", idle.get("redis_used_memory_kb_per_portal"), ""),
                 (f"  measured at POLL_INTERVAL_S={idle['poll_interval_s']:g}",
                  idle["hh_per_portal_hour_measured"], ""),
                 ("  Bitrix24 requests/portal/hour", idle["b24_per_portal_hour_measured"], "small"),
                 (f"  CPU s/hour at {DEFAULT_POLL_S:g} s, product (services, NATS, Redis)",
                  idle["cpu_s_per_hour_product"], ""),
                 ("  RSS per service, MB", idle["rss_mb"], ""),
                 ("  Redis used_memory MB / keys per portal",
                  f"{idle['redis_used_memory_mb']} / {idle['redis_keys']['all_keys_per_portal']}", "")]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="N=300 import, capacity 1000/3000")
    size.add_argument("--full", action="store_true", help="N=10000 import, capacity 1000/10000")
    parser.add_argument("--only", default="adaptive,import,live,capacity,fairness,idle")
    parser.add_argument("--json", type=Path, default=Path("test-artifacts/bench.json"))
    args = parser.parse_args()
    profile = "quick" if args.quick else "full" if args.full else "default"
    out = asyncio.run(main_async(profile, set(args.only.split(","))))
    print(table([("benchmark", "value", "target"), *summary(out)]))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2, ensure_ascii=False))
    print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
