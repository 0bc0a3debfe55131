"""Tools of the input attacks (tests/security/test_input.py): a stack with two portals connected to
HeadHunter, webhook senders, and the counters that tell what the product did with a hostile body
(JetStream stream and consumer counts, the HeadHunter sandbox's per-route request counts, CRM entities)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import nats
from rabota_stack.stack import Stack

from tests.api.conftest import store
from tests.e2e.harness import Driver, second_portal, wait_subscriptions

# Small caps so a flood passes them within a test; a fast HeadHunter budget so the world is built quickly.
STACK_ENV = {"HH_RATE": "60", "HH_BURST": "20", "HH_SANDBOX_NEGOTIATIONS": "6",
             "WEBHOOK_PENDING_PER_PORTAL": "10", "WEBHOOK_IN_FLIGHT_PER_PORTAL": "2"}
NEW_RESPONSE = "NEW_RESPONSE_OR_INVITATION_VACANCY"
NEGOTIATION_ROUTE = "GET /negotiations/{id}"


@dataclass
class Account:
    code: str
    member_id: str
    secret: str
    subscription_id: str
    user_id: str
    driver: Driver


@dataclass
class World:
    stack: Stack
    a: Account  # portal "demo", the employer's admin: sees every vacancy
    b: Account  # portal "simple", a manager: sees only their own vacancies


async def _account(stack: Stack, code: str, driver: Driver) -> Account:
    member = (await driver.api("GET", "/status")).json()["portal"]["member_id"]
    client, st = store(stack)
    try:
        deadline = time.monotonic() + 30
        while True:
            record, hh = await st.get_portal(member), await st.get_hh(member)
            if record is not None and hh is not None and hh.subscription_id:
                break
            assert time.monotonic() < deadline, f"{code}: no webhook subscription stored"
            await asyncio.sleep(0.3)
    finally:
        await client.aclose()
    return Account(code, member, record.webhook_secret, hh.subscription_id, hh.user_id, driver)


async def build_world(stack: Stack, http: httpx.AsyncClient) -> World:
    r = await http.put(f"{stack.hh_url}/_sandbox/knobs", json={"rate_limit_rps": None})
    assert r.status_code == 200, r.text
    a = Driver(stack, http)
    await a.install("demo")
    await a.open_app("demo")
    assert (await a.connect_hh()).status_code == 200
    await a.save_lead_settings()
    b = await second_portal(a)
    await wait_subscriptions(a, 2)
    return World(stack, await _account(stack, "demo", a), await _account(stack, "simple", b))


def event(account: Account, topic_id: Any = None, **over: Any) -> dict[str, Any]:
    """A webhook body shaped as HeadHunter sends it (reference/hh-api.md §5.3), for `account`."""
    body: dict[str, Any] = {
        "id": uuid.uuid4().hex, "subscription_id": account.subscription_id, "action_type": NEW_RESPONSE,
        "user_id": account.user_id,
        "payload": {"topic_id": topic_id, "resume_id": None, "vacancy_id": None, "employer_id": "1000",
                    "response_date": "2026-12-01T10:00:00+0300"},
    }
    body.update(over)
    return body


def hook_url(stack: Stack, account: Account) -> str:
    return f"{stack.public_url}/hh/webhook/{account.secret}"


async def stream_messages(stack: Stack, name: str) -> int:
    nc = await nats.connect(stack.nats_url)
    try:
        return int((await nc.jetstream().stream_info(name)).state.messages)
    finally:
        await nc.close()


async def webhook_consumer_idle(stack: Stack) -> bool:
    """The poller's webhook consumer has nothing left to deliver and nothing unacknowledged."""
    nc = await nats.connect(stack.nats_url)
    try:
        info = await nc.jetstream().consumer_info("HH_WEBHOOK", "poller-webhook")
        return info.num_pending == 0 and info.num_ack_pending == 0 and info.num_redelivered == 0
    finally:
        await nc.close()


async def hh_stats(stack: Stack, http: httpx.AsyncClient) -> dict[str, int]:
    r = await http.get(f"{stack.hh_url}/_sandbox/stats")
    r.raise_for_status()
    return dict(r.json()["by_route"])


async def hh_status_counts(stack: Stack, http: httpx.AsyncClient) -> dict[str, int]:
    r = await http.get(f"{stack.hh_url}/_sandbox/stats")
    r.raise_for_status()
    return dict(r.json()["status"])


async def wait_for(predicate: Callable[[], Awaitable[bool]], limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


async def genuine_response_arrives(world: World, http: httpx.AsyncClient, limit_s: float = 60.0) -> None:
    """A new response on portal A's employer reaches A's CRM as a lead through the real webhook."""
    driver = world.a.driver
    before = {lead["ID"] for lead in await driver.entities("demo", 1)}
    r = await http.post(f"{world.stack.hh_url}/_sandbox/negotiations", json={})
    assert r.status_code == 201, r.text

    async def landed() -> bool:
        return bool({lead["ID"] for lead in await driver.entities("demo", 1)} - before)

    await wait_for(landed, limit_s, "the genuine new response in the CRM")


async def admin_only_negotiation(http: httpx.AsyncClient, stack: Stack) -> str:
    """A negotiation on a vacancy portal B's manager cannot see (only A's admin can)."""
    state = (await http.get(f"{stack.hh_url}/_sandbox/state")).json()
    manager_id = next(u["manager_id"] for u in state["users"] if u["login"] == "manager@sandbox.by")
    vacancy = next(str(v["id"]) for v in state["vacancies"] if v["active"] and v["manager_id"] != manager_id)
    negotiations = (await http.get(f"{stack.hh_url}/_sandbox/negotiations",
                                   params={"vacancy_id": vacancy})).json()
    assert negotiations, "the admin's vacancy has no negotiation"
    return str(negotiations[0]["id"])


async def known_negotiations(stack: Stack, account: Account) -> set[str]:
    """The negotiations the writer's ledger holds an entity for (a junk lead would be one of them)."""
    client, st = store(stack)
    try:
        return await st.known_negotiations(account.member_id)
    finally:
        await client.aclose()
