"""Per-client rate limit of the public endpoints: a token bucket per client IP and endpoint group in Redis
(the shared leaky bucket of rabota_common.budget), so every ui replica counts the same requests."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from fastapi import Request
from rabota_common.budget import SharedBucket

from rabota_ui.deps import get_runtime
from rabota_ui.errors import ApiError


def rate_limited(group: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency refusing a client over its budget with 429 and Retry-After (whole seconds)."""

    async def check(request: Request) -> None:
        rt = get_runtime(request)
        bucket: SharedBucket | None = getattr(request.app.state, "public_bucket", None)
        if bucket is None:
            bucket = SharedBucket(rt.redis, rt.settings.PUBLIC_RATE_PER_IP, rt.settings.PUBLIC_BURST_PER_IP, margin=0)
            request.app.state.public_bucket = bucket
        client = request.client.host if request.client else "unknown"
        wait = await bucket.try_take(f"ip:{group}:{client}")
        if wait > 0:
            raise ApiError(429, "rate_limited", "Слишком много запросов. Повторите позже.",
                           headers={"Retry-After": str(max(1, math.ceil(wait)))})

    return check
