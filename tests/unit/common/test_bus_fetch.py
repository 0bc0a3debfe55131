"""A pull fetch that times out always raises nats.errors.TimeoutError, the one FastStream's pull loop expects
(rabota_common.bus adapts nats-py, whose `_fetch_n` can raise a plain asyncio.TimeoutError)."""

from __future__ import annotations

from typing import Any

import nats.errors
import pytest
import rabota_common.bus  # noqa: F401  (the adaptation is applied on import)
from nats.js import JetStreamContext


def _subscription(fetch_n: Any) -> JetStreamContext.PullSubscription:
    sub = object.__new__(JetStreamContext.PullSubscription)
    sub._sub = object()  # type: ignore[assignment]
    sub._fetch_n = fetch_n  # type: ignore[method-assign]
    return sub


async def test_a_plain_timeout_of_a_batch_fetch_is_a_nats_timeout() -> None:
    async def times_out(*_: Any) -> list[Any]:
        raise TimeoutError  # asyncio.TimeoutError, on Python 3.11

    with pytest.raises(nats.errors.TimeoutError):
        await _subscription(times_out).fetch(batch=16, timeout=1.0)


async def test_fetch_results_and_other_errors_pass_through() -> None:
    async def two(*_: Any) -> list[Any]:
        return ["a", "b"]

    async def unavailable(*_: Any) -> list[Any]:
        raise nats.errors.ConnectionClosedError

    assert await _subscription(two).fetch(batch=2, timeout=1.0) == ["a", "b"]
    with pytest.raises(nats.errors.ConnectionClosedError):
        await _subscription(unavailable).fetch(batch=2, timeout=1.0)
