"""Idle-cost benchmark (DESIGN §9, 100 installed portals): `python -m tests.bench.bench_idle --portals 100`
(or with the others: `python -m tests.bench --only idle`).

Seeds P recruiters in the HeadHunter sandbox (each its own login with a few vacancies and responses) and P
portals in the Bitrix24 sandbox; each portal is installed, connected to its own recruiter, gets lead settings
and finishes its initial import. Then nothing happens for a window of FULL_WALK_EVERY poll intervals (so the
window holds each portal's periodic full walk once) with a shortened POLL_INTERVAL_S. Reported, from the
sandboxes' own counters: HeadHunter requests (by route) and Bitrix24 requests per idle portal, per poll and
per hour at the measured and at the default interval; CPU seconds per hour per process; RSS per service;
Redis used_memory and keys per portal. Not part of the test suite's pass/fail.
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
from rabota_common.settings import Settings
from rabota_common.store import text
from rabota_poller.reconcile import FULL_WALK_EVERY
from rabota_stack.stack import Stack, StackConfig
from redis.asyncio import Redis

from tests.bench.common import Limits, cpu_seconds, memory_mb
from tests.e2e.harness import Driver

DEFAULT_INTERVAL_S = Settings.model_fields["POLL_INTERVAL_S"].default
# Portals whose webhooks are trusted (every portal here: subscribed, nothing missed) are reconciled this often.
DEFAULT_RECONCILE_S = Settings.model_fields["RECONCILE_INTERVAL_S"].default
SETUP_IN_PARALLEL = 8
WALK_ROUTES = ("GET /negotiations", "GET /negotiations/{collection}")  # an idle poll asks these in full walks


async def _setup_portal(stack: Stack, http: httpx.AsyncClient, code: str, login: str) -> Driver:
    """Install, connect, save lead settings and start the import of one portal."""
    r = await http.post(f"{stack.b24_url}/_sandbox/portals", json={"code": code})
    r.raise_for_status()
    driver = Driver(stack, http)
    await driver.install(code)
    await driver.open_app(code)
    assert (await driver.connect_hh(login)).status_code == 200
    await driver.save_lead_settings()
    r = await driver.api("POST", "/import")
    assert r.status_code == 202, r.text
    return driver


async def _poll_counts(redis: Redis, portals: list[str]) -> list[int]:
    values = await redis.mget([f"rs:{p}:poll:count" for p in portals])
    return [int(v or 0) for v in values]


async def _keys_per_portal(redis: Redis, members: list[str]) -> dict[str, Any]:
    """Keys under each portal's prefix, and all keys ÷ portals (budgets, webhook secrets and shared keys too)."""
    per_portal = dict.fromkeys(members, 0)
    kinds: dict[str, int] = {}  # the first portal's keys by kind: `rs:{portal}:entity-info:lead:7` → `entity-info:lead`
    total = 0
    async for key in redis.scan_iter(count=1000):
        total += 1
        parts = text(key).split(":")
        if len(parts) > 2 and parts[1] in per_portal:
            per_portal[parts[1]] += 1
            if members and parts[1] == members[0]:
                kind = ":".join(p for p in parts[2:4] if not any(ch.isdigit() for ch in p))  # ids left out
                kinds[kind] = kinds.get(kind, 0) + 1
    counts = sorted(per_portal.values())
    return {"under_prefix_median": counts[len(counts) // 2] if counts else 0,
            "under_prefix_max": counts[-1] if counts else 0, "one_portal": dict(sorted(kinds.items())),
            "all_keys": total, "all_keys_per_portal": round(total / len(members), 1) if members else 0}


async def run(portals: int = 100, interval_s: float = 20.0, vacancies: int = 2, negotiations: int = 4,
              polls: int | None = None, default_window_s: float = 120.0) -> dict[str, Any]:
    polls = polls or FULL_WALK_EVERY
    window_s = polls * interval_s
    env = {**Limits(hh_rps=None, b24_rate=None).env(), "POLL_INTERVAL_S": str(interval_s),
           "RECONCILE_INTERVAL_S": str(interval_s)}
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(StackConfig.ephemeral(Path(tmp), extra_env=env))
        stack.start()
        redis = Redis.from_url(stack.redis_url)
        try:
            async with httpx.AsyncClient(timeout=120.0) as http:
                await http.post(f"{stack.hh_url}/_sandbox/reset", json={"negotiations": 0})
                await http.put(f"{stack.hh_url}/_sandbox/knobs", json={"rate_limit_rps": None})
                r = await http.post(f"{stack.hh_url}/_sandbox/recruiters", json={
                    "count": portals, "vacancies": vacancies, "negotiations": negotiations})
                r.raise_for_status()
                logins = [rec["login"] for rec in r.json()["recruiters"]]
                gate = asyncio.Semaphore(SETUP_IN_PARALLEL)
                started = time.monotonic()

                async def one(i: int) -> Driver:
                    async with gate:
                        return await _setup_portal(stack, http, f"idle{i}", logins[i])

                drivers = await asyncio.gather(*(one(i) for i in range(portals)))
                results = [await d.wait_import(limit_s=600.0) for d in drivers]
                setup_s = time.monotonic() - started
                imported = sum(r["imported"] for r in results)
                failed = sum(r["failed"] for r in results)
                members = [text(m) for m in await redis.smembers("rs:portals")]
                # Every portal's first poll after its import (the full walk that stores fingerprints) is done.
                for _ in range(int(3 * interval_s) + 60):
                    if all(await _poll_counts(redis, members)):
                        break
                    await asyncio.sleep(1.0)
                await asyncio.sleep(2.0)

                fast = await _window(stack, http, redis, members, window_s)
                # The same deployment at the default interval (poller restarted with it): CPU as it really is.
                stack.config.extra_env["POLL_INTERVAL_S"] = str(DEFAULT_INTERVAL_S)
                stack.config.extra_env["RECONCILE_INTERVAL_S"] = str(DEFAULT_RECONCILE_S)
                await asyncio.to_thread(stack.restart_service, "poller")
                await asyncio.sleep(10.0)
                default = await _window(stack, http, redis, members, default_window_s)
                rss = memory_mb(stack, "VmRSS")
                memory = await redis.info("memory")
                keys = await _keys_per_portal(redis, members)
                tick = await _tick_ms(redis, members)
                untrusted = sum(1 for m in await redis.mget([f"rs:{p}:webhook:missed" for p in members]) if m)
                dead = stack.group.dead()
        finally:
            await redis.aclose()
            stack.stop()
    # Per hour at the default interval, from both windows: every portal's webhooks are trusted (subscribed,
    # nothing missed), so each poll is a reconciliation (no periodic full walk): requests per poll × the
    # default number of reconciliations an hour (issue 17; before, 12 polls and one full walk an hour).
    n = len(members)
    polls_per_hour = 3600.0 / DEFAULT_RECONCILE_S
    by_route: dict[str, int] = {}
    for w in (fast, default):
        for route, count in w["hh_by_route"].items():
            by_route[route] = by_route.get(route, 0) + count
    polls_total = max(1, fast["polls"] + default["polls"])
    per_hour_default = {route: round(count / polls_total * polls_per_hour, 3)
                        for route, count in sorted(by_route.items())}
    # CPU of each process = base (ticks, idle consumers: per second) + per poll; two windows with different
    # poll rates give both, and so the CPU of an hour at the default interval.
    cpu_default: dict[str, float] = {}
    per_poll_ms: dict[str, float] = {}
    t1, n1, t2, n2 = fast["seconds"], fast["polls"], default["seconds"], default["polls"]
    det = t1 * n2 - t2 * n1
    for name in fast["cpu_s"]:
        c1, c2 = fast["cpu_s"][name], default["cpu_s"].get(name, 0.0)
        per_poll = max(0.0, (t1 * c2 - t2 * c1) / det) if det else 0.0
        base = max(0.0, (c1 - per_poll * n1) / t1)
        per_poll_ms[name] = round(per_poll * 1000, 2)
        cpu_default[name] = round(base * 3600 + per_poll * n * polls_per_hour, 1)
    return {
        "portals": n, "vacancies_per_portal": vacancies, "negotiations_per_vacancy": negotiations,
        "setup_s": round(setup_s, 1), "imported": imported, "failed": failed, "dead_processes": dead,
        "poll_interval_s": interval_s, "default_interval_s": DEFAULT_INTERVAL_S,
        "hh_per_portal_hour_default": round(sum(per_hour_default.values()), 2),
        "hh_per_portal_hour_default_by_route": per_hour_default,
        "hh_per_portal_hour_measured": fast["hh_per_portal_hour"],
        "b24_per_portal_hour_measured": fast["b24_per_portal_hour"],
        "cpu_s_per_hour_default": cpu_default,
        "cpu_s_per_hour_total": round(sum(cpu_default.values()), 1),
        # the product: services, NATS and Redis; the sandbox emulates HeadHunter and Bitrix24
        "cpu_s_per_hour_product": round(sum(v for k, v in cpu_default.items() if k != "sandbox"), 1),
        "cpu_ms_per_poll": per_poll_ms,
        "rss_mb": rss, "redis_used_memory_mb": round(int(memory["used_memory"]) / 2**20, 2),
        "redis_used_memory_kb_per_portal": round(int(memory["used_memory"]) / 1024 / max(1, n), 1),
        "portals_untrusted": untrusted,
        "walk_requests_in_windows": sum(c for r, c in by_route.items() if r in WALK_ROUTES),
        "poller_tick_ms": tick,
        "redis_keys": keys,
        "window_fast": fast, "window_default": default,
    }


async def _tick_ms(redis: Redis, members: list[str]) -> dict[str, float]:
    """The poll loop's fixed work per tick (every TICK_S): the portal list and one MGET of every portal's `due`
    mark, timed against the stack's Redis for these portals and for 10 000 (synthetic ids)."""
    out: dict[str, float] = {}
    for label, ids in (("measured", members), ("10000", [f"scale{i:05d}" for i in range(10_000)])):
        started = time.perf_counter()
        for _ in range(5):
            await redis.smembers("rs:portals")
            await redis.mget([f"rs:{p}:poll:due" for p in ids])
        out[label] = round((time.perf_counter() - started) / 5 * 1000, 2)
    return out


async def _window(stack: Stack, http: httpx.AsyncClient, redis: Redis, members: list[str],
                  seconds: float) -> dict[str, Any]:
    """Stay idle for `seconds`; what the sandboxes served and what each process spent meanwhile."""
    await http.post(f"{stack.hh_url}/_sandbox/stats/reset")
    await http.post(f"{stack.b24_url}/_sandbox/stats/reset")
    counts_before = await _poll_counts(redis, members)
    cpu_before = cpu_seconds(stack)
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - t0
    cpu = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_seconds(stack).items()}
    counts_after = await _poll_counts(redis, members)
    hh = (await http.get(f"{stack.hh_url}/_sandbox/stats")).json()
    b24 = (await http.get(f"{stack.b24_url}/_sandbox/stats")).json()
    polls = sum(after - before for before, after in zip(counts_before, counts_after, strict=True))
    walks = sum(1 for before, after in zip(counts_before, counts_after, strict=True)
                for c in range(before + 1, after + 1) if c % FULL_WALK_EVERY == 1)
    per_hour = 3600.0 / elapsed
    n = max(1, len(members))
    return {
        "seconds": round(elapsed, 1), "polls": polls, "full_walks": walks,
        "hh_requests": hh["requests_total"], "hh_by_route": dict(sorted(hh.get("by_route", {}).items())),
        "hh_status": hh.get("status"),
        "hh_per_portal_hour": round(hh["requests_total"] / n * per_hour, 1),
        "b24_requests": b24["requests_total"], "b24_by_method": b24.get("by_method"),
        "b24_per_portal_hour": round(b24["requests_total"] / n * per_hour, 2),
        "cpu_s": {k: round(v, 2) for k, v in sorted(cpu.items())},
        "cpu_s_per_hour": {k: round(v * per_hour, 1) for k, v in sorted(cpu.items())},
        "cpu_s_per_hour_total": round(sum(cpu.values()) * per_hour, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--portals", type=int, default=100)
    parser.add_argument("--interval", type=float, default=20.0, help="POLL_INTERVAL_S during the bench")
    parser.add_argument("--polls", type=int, default=None, help="window length in poll intervals")
    parser.add_argument("--default-window", type=float, default=120.0,
                        help="seconds measured after restarting the poller with the default interval")
    parser.add_argument("--vacancies", type=int, default=2)
    parser.add_argument("--negotiations", type=int, default=4)
    parser.add_argument("--json", type=Path, default=Path("test-artifacts/bench_idle.json"))
    args = parser.parse_args()
    row = asyncio.run(run(args.portals, args.interval, args.vacancies, args.negotiations, args.polls,
                          args.default_window))
    width = max(len(k) for k in row)
    for key, value in row.items():
        print(f"{key:<{width}}  {value}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(row, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
