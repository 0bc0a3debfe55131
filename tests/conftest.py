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
