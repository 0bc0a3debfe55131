"""Rate limits of the ui: a token bucket per client IP and endpoint group for the public endpoints, and one
per portal user for the session API (the shared leaky bucket of rabota_common.budget), so every ui replica
counts the same requests. Behind a trusted proxy (TRUSTED_PROXIES) the client is the forwarded address."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Awaitable, Callable
from functools import lru_cache

from fastapi import Request
from rabota_common.budget import SharedBucket

from rabota_ui.deps import SessionDep, get_runtime
from rabota_ui.errors import ApiError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(setting: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in setting.split(",") if part.strip())


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(peer: str, forwarded_for: list[str], trusted_proxies: str) -> str:
    """The peer, unless it is a trusted proxy: then the right-most X-Forwarded-For address that is not a
    trusted proxy (the left part is whatever the client wrote and proves nothing)."""
    networks = trusted_networks(trusted_proxies)
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [h.strip() for header in forwarded_for for h in header.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage in the header: count it against the proxy, never against a chosen key
    return peer


def _refuse(wait: float) -> ApiError:
    return ApiError(429, "rate_limited", "Слишком много запросов. Повторите позже.",
                    headers={"Retry-After": str(max(1, math.ceil(wait)))})


def _bucket(request: Request, name: str, rate: float, burst: int) -> SharedBucket:
    bucket: SharedBucket | None = getattr(request.app.state, name, None)
    if bucket is None:
        bucket = SharedBucket(get_runtime(request).store, rate, burst, margin=0)
        setattr(request.app.state, name, bucket)
    return bucket


def rate_limited(group: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency refusing a client over its budget with 429 and Retry-After (whole seconds)."""

    async def check(request: Request) -> None:
        settings = get_runtime(request).settings
        bucket = _bucket(request, "public_bucket", settings.PUBLIC_RATE_PER_IP, settings.PUBLIC_BURST_PER_IP)
        peer = request.client.host if request.client else "unknown"
        client = client_address(peer, request.headers.getlist("x-forwarded-for"), settings.TRUSTED_PROXIES)
        wait = await bucket.try_take(f"ip:{group}:{client}")
        if wait > 0:
            raise _refuse(wait)

    return check


async def session_limited(request: Request, session: SessionDep) -> None:
    """Every /api call of a portal user takes one unit of that user's bucket: 429 + Retry-After beyond it."""
    settings = get_runtime(request).settings
    bucket = _bucket(request, "session_bucket", settings.API_RATE_PER_SESSION, settings.API_BURST_PER_SESSION)
    wait = await bucket.try_take(f"session:{session.portal}:{session.user_id}")
    if wait > 0:
        raise _refuse(wait)


async def feedback_limited(request: Request, session: SessionDep) -> None:
    """Feedback: a few per portal user and hour."""
    settings = get_runtime(request).settings
    bucket = _bucket(request, "feedback_bucket", settings.FEEDBACK_PER_HOUR / 3600.0, settings.FEEDBACK_BURST)
    wait = await bucket.try_take(f"feedback:{session.portal}:{session.user_id}")
    if wait > 0:
        raise _refuse(wait)
