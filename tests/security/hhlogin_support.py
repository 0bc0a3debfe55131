"""Helpers of tests/security/test_hhlogin.py: one stack for the module, rabota.by logins driven by hand (a
planted link opened from a clean client), and raw looks at the stored records."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlparse

import httpx
import redis.asyncio as aioredis
from rabota_stack.stack import Stack

from tests.e2e.harness import Driver

# A small employer and a fast rabota.by budget: the module's stack is ready in seconds.
STACK_ENV = {"HH_RATE": "60", "HH_BURST": "20", "HH_SANDBOX_NEGOTIATIONS": "8"}
ADMIN = "admin@sandbox.by"
MANAGER = "manager@sandbox.by"
T = TypeVar("T")


@dataclass
class Login:
    """What rabota.by's redirect brings to /hh/callback for one approved login."""

    code: str
    state: str
    callback: httpx.Response


def state_claims(state: str) -> dict[str, Any]:
    """The (signed, not secret) payload of an OAuth state."""
    raw = state.split(".", 1)[0]
    return dict(json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))))


async def authorize_url(driver: Driver) -> str:
    r = await driver.api("GET", "/hh/authorize-url")
    assert r.status_code == 200, r.text
    return str(r.json()["url"])


async def approve(stack: Stack, url: str, login: str, client: httpx.AsyncClient | None = None) -> Login:
    """Open an authorize URL in a browser of its own (a clean client: no session, no cookies), approve as
    `login`, and follow rabota.by's redirect to the app's /hh/callback."""
    async with httpx.AsyncClient(timeout=60.0) as fresh:
        http = client or fresh
        parts = urlparse(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        page = await http.get(url)
        assert page.status_code == 200, page.text
        r = await http.post(f"{parts.scheme}://{parts.netloc}{parts.path}", params=query,
                            data={"login": login, "decision": "approve"})
        assert r.status_code == 302, r.text
        location = r.headers["location"]
        assert location.startswith(f"{stack.public_url}/hh/callback"), location
        callback = await http.get(location)
        found = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
        return Login(code=found["code"], state=found["state"], callback=callback)


async def connect(driver: Driver, login: Login) -> httpx.Response:
    return await driver.api("POST", "/hh/connect", json={"code": login.code, "state": login.state})


async def status(driver: Driver) -> dict[str, Any]:
    r = await driver.api("GET", "/status")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def member_id(driver: Driver) -> str:
    return str((await status(driver))["portal"]["member_id"])


def redis_of(stack: Stack) -> aioredis.Redis:
    return aioredis.Redis.from_url(stack.redis_url, decode_responses=True)


async def webhook_secret(stack: Stack, member: str) -> str:
    client = redis_of(stack)
    try:
        return str(await client.hget(f"rs:{member}:portal", "webhook_secret") or "")
    finally:
        await client.aclose()


async def subscriptions(driver: Driver) -> list[dict[str, Any]]:
    r = await driver.http.get(f"{driver.stack.hh_url}/_sandbox/webhooks")
    r.raise_for_status()
    return list(r.json()["subscriptions"])


async def until(what: str, probe: Callable[[], Awaitable[T | None]], limit_s: float = 30.0) -> T:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def subscription_to(driver: Driver, login: str, url: str, limit_s: float = 30.0) -> dict[str, Any]:
    """Wait until `login`'s webhook subscription points at `url`."""
    async def probe() -> dict[str, Any] | None:
        return next((s for s in await subscriptions(driver) if s["login"] == login and s["url"] == url), None)

    return await until(f"{login}'s subscription to point at the portal's webhook URL", probe, limit_s)
