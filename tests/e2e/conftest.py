from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from rabota_stack.stack import Stack, StackConfig

from tests.e2e.harness import Driver


@pytest.fixture
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    marker = request.node.get_closest_marker("stack_env")
    extra = dict(marker.args[0]) if marker else {}
    cluster = request.node.get_closest_marker("nats_cluster")
    nodes = int(cluster.args[0]) if cluster else 0
    sentinel = request.node.get_closest_marker("redis_sentinel")
    replicas = int(sentinel.args[0]) if sentinel else 0
    s = Stack(StackConfig.ephemeral(tmp_path / "stack", extra_env=extra, nats_cluster=nodes,
                                    redis_replicas=replicas))
    s.start()
    yield s
    s.stop()
    for proc_log in (tmp_path / "stack" / "logs").glob("*.log"):
        text = proc_log.read_text(errors="replace")
        if "Traceback" in text:
            print(f"--- {proc_log.name} ---\n{text[-4000:]}")


@pytest.fixture
async def driver(stack: Stack) -> AsyncIterator[Driver]:
    async with httpx.AsyncClient(timeout=60.0) as http:
        yield Driver(stack, http)
