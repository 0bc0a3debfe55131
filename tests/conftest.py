"""Shared fixtures: real nats-server (JetStream) and redis-server processes on free ports in temp dirs.

NATS_URL / REDIS_URL, when set, are used instead of starting servers.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from rabota_stack.processes import ProcessGroup, free_port, nats_server_binary, redis_server_binary, wait_port


@pytest.fixture
def nats_url(tmp_path: Path) -> Iterator[str]:
    if os.environ.get("NATS_URL"):
        yield os.environ["NATS_URL"]
        return
    group = ProcessGroup(tmp_path / "logs")
    port = free_port()
    proc = group.start("nats", [nats_server_binary(), "-js", "-sd", str(tmp_path / "nats"),
                                "-a", "127.0.0.1", "-p", str(port)])
    wait_port(port, proc=proc)
    yield f"nats://127.0.0.1:{port}"
    group.stop_all()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    group = ProcessGroup(tmp_path / "logs")
    port = free_port()
    (tmp_path / "redis").mkdir()
    proc = group.start("redis", [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
                                 "--dir", str(tmp_path / "redis"), "--appendonly", "yes", "--save", ""])
    wait_port(port, proc=proc)
    yield f"redis://127.0.0.1:{port}/0"
    group.stop_all()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


# What the reliability tests print (kills, faults, seconds) is shown at the end of every run, passed or not, so
# that a slow run can be told from a broken one; pytest (and its workers) would keep a passing test's output.
_FIGURES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.nodeid.startswith("tests/reliability/") and report.capstdout.strip():
        _FIGURES.append(f"{report.nodeid.split('::')[-1]} ({report.outcome}, {report.duration:.0f} s)")
        _FIGURES.extend(f"    {line}" for line in report.capstdout.strip().splitlines())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("reliability figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)
