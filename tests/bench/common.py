"""What the benchmarks share: a local stack with chosen limits, a connected portal, process figures."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rabota_stack.stack import Stack, StackConfig

from tests.e2e.harness import Driver

SERVICES = ("auth", "poller", "mapper", "crm_writer", "ui")
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Limits:
    """The sandbox's limits and the product's budgets; None = limits off (capacity)."""

    hh_rps: float | None = 10.0
    # A fixed ceiling (HH_RATE) as a share of the HeadHunter limit; None (default): the product does not know
    # the limit and runs its adaptive budget at its own defaults (issue 17).
    hh_budget: float | None = None
    b24_rate: float | None = 2.0
    b24_burst: int = 50
    latency_ms: int = 0

    def env(self) -> dict[str, str]:
        hh: dict[str, str] = {"HH_RATE": "100000.0", "HH_RATE_MIN": "100000.0", "HH_BURST": "1000"}
        if self.hh_rps and self.hh_budget is not None:
            hh = {"HH_RATE": str(self.hh_rps * self.hh_budget), "HH_BURST": "1"}
        elif self.hh_rps:
            hh = {}
        return {**hh, "B24_RATE": str(self.b24_rate or 100_000.0),
                "B24_BURST": str(self.b24_burst if self.b24_rate else 100_000), "LOG_LEVEL": "WARNING",
                # As in production: no test span file, written synchronously on every span's end.
                "TRACE_DIR": "",
                # The sandbox's access log line per request is load of the machine, not of the product.
                "SANDBOX_ACCESS_LOG": "0"}


@contextlib.asynccontextmanager
async def portal_stack(limits: Limits, negotiations: int, extra_env: dict[str, str] | None = None,
                       seed: Callable[[Driver], Awaitable[None]] | None = None,
                       ) -> AsyncIterator[tuple[Stack, Driver]]:
    """A stack with `negotiations` on HeadHunter, the demo portal installed, HeadHunter connected and lead
    settings saved (no import started). `seed` adds HeadHunter data before anyone is connected."""
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(StackConfig.ephemeral(Path(tmp), extra_env={**limits.env(), **(extra_env or {})}))
        stack.start()
        try:
            async with httpx.AsyncClient(timeout=120.0) as http:
                driver = Driver(stack, http)
                await http.post(f"{stack.hh_url}/_sandbox/reset", json={"negotiations": negotiations})
                await http.put(f"{stack.hh_url}/_sandbox/knobs",
                               json={"rate_limit_rps": limits.hh_rps, "latency_ms": limits.latency_ms})
                await http.put(f"{stack.b24_url}/_sandbox/knobs", params={"portal": "demo"}, json={
                    "rate": limits.b24_rate or 100_000.0, "burst": limits.b24_burst if limits.b24_rate else 100_000,
                    "latency_ms": limits.latency_ms,
                    **({} if limits.b24_rate else {"operation_time_limit_s": 1e9})})
                if seed is not None:
                    await seed(driver)
                await driver.install("demo")
                await driver.open_app("demo")
                await driver.connect_hh()
                await driver.save_lead_settings()
                yield stack, driver
        finally:
            stack.stop()


def service_pids(stack: Stack) -> dict[str, int]:
    return {p.name: p.popen.pid for p in stack.group.procs if p.name in SERVICES}


def memory_mb(stack: Stack, field: str) -> dict[str, float]:
    """A memory field of /proc/<pid>/status (VmHWM: peak resident set, VmRSS: current) per service, in MB."""
    out: dict[str, float] = {}
    for name, pid in service_pids(stack).items():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                out[name] = round(int(line.split()[1]) / 1024, 1)
    return out


def peak_rss_mb(stack: Stack) -> dict[str, float]:
    return memory_mb(stack, "VmHWM")


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """User + system CPU time each process of the stack (services, sandbox, NATS, Redis) has used so far."""
    out: dict[str, float] = {}
    for name, pid in {p.name: p.popen.pid for p in stack.group.procs}.items():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        out[name] = (int(fields[11]) + int(fields[12])) / TICKS
    return out


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[min(98, max(0, round(q * 100) - 1))]


def hh_refusals(stats: dict[str, Any]) -> tuple[int, int]:
    """(requests HeadHunter's sandbox served, of them answered 429) from its `/_sandbox/stats`."""
    status = {str(k): int(v) for k, v in (stats.get("status") or {}).items()}
    return int(stats["requests_total"]), status.get("429", 0)


def py_spy(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes] | None:
    """Start a py-spy sampling of one process (raw collapsed stacks); None when py-spy is unavailable."""
    exe = Path(sys.executable).with_name("py-spy")
    if not exe.exists():
        return None
    return subprocess.Popen([str(exe), "record", "--pid", str(pid), "--duration", str(seconds), "--format", "raw",
                             "--rate", "25", "--nonblocking", "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def top_frames(collapsed: Path, limit: int = 6) -> list[dict[str, Any]]:
    """The functions most often on top of the sampled stacks (self time), from py-spy's raw output."""
    counts: dict[str, int] = {}
    total = 0
    if not collapsed.exists():
        return []
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = stack.split(";")
        # Skip idle event-loop waiting so the answer is about work.
        leaf = frames[-1]
        if "(selectors.py" in leaf:
            continue
        total += int(n)
        counts[leaf] = counts.get(leaf, 0) + int(n)
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:limit]
    return [{"frame": frame, "share": round(n / total, 3)} for frame, n in ranked] if total else []
