"""One stack per test module (NATS, Redis, sandbox, five services) with two installed portals:
`demo` (classic CRM, leads imported, some failures left) and `simple` (simple CRM mode, deals)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from rabota_common.crypto import Crypto
from rabota_common.settings import SANDBOX_APP_SECRET_KEY
from rabota_common.store import Store
from rabota_stack.stack import Stack, StackConfig

from tests.e2e.harness import Driver

# A fast rabota.by budget and a small employer: the world is built in ~20 s.
STACK_ENV = {"HH_RATE": "60", "HH_BURST": "20", "HH_SANDBOX_NEGOTIATIONS": "12"}
SERVICE_LOGS = ("auth", "poller", "mapper", "crm-writer", "ui")


@dataclass
class Portal:
    code: str
    member_id: str
    domain: str
    session: str
    settings: dict[str, Any] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    entity_ids: list[int] = field(default_factory=list)
    applicants: list[str] = field(default_factory=list)
    webhook_secret: str = ""


@dataclass
class World:
    stack: Stack
    a: Portal
    b: Portal
    # Every token value a frame handed us (AUTH_ID, REFRESH_ID, APPLICATION_TOKEN): they must never leak.
    frame_secrets: set[str] = field(default_factory=set)


def store(stack: Stack) -> tuple[aioredis.Redis, Store]:
    client = aioredis.Redis.from_url(stack.redis_url)
    return client, Store(client, Crypto(SANDBOX_APP_SECRET_KEY))


async def _frame_secrets(driver: Driver, code: str, world_secrets: set[str]) -> None:
    frame = await driver.frame(code, "app")
    world_secrets.update(v for k, v in frame["form"].items() if k in ("AUTH_ID", "REFRESH_ID", "APPLICATION_TOKEN"))


async def _wait(predicate: Any, limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


async def build_world(stack: Stack) -> World:
    secrets_seen: set[str] = set()
    async with httpx.AsyncClient(timeout=60.0) as http:
        r = await http.put(f"{stack.hh_url}/_sandbox/knobs", json={"rate_limit_rps": None})
        assert r.status_code == 200, r.text
        da, db = Driver(stack, http), Driver(stack, http)
        # Portal A: every lead fails on a mandatory field, then three are retried and land in the CRM.
        await da.install("demo")
        await da.open_app("demo")
        assert (await da.connect_hh()).status_code == 200
        r = await http.put(f"{stack.b24_url}/_sandbox/knobs", params={"portal": "demo"},
                           json={"mandatory_fields": {"CRM_LEAD": ["UF_CRM_X"]}})
        assert r.status_code == 200, r.text
        await da.save_lead_settings()
        a_settings = (await da.api("GET", "/settings")).json()
        assert (await da.api("POST", "/import")).status_code == 202
        result = await da.wait_import()
        assert result["failed"] == result["found"] > 3, result
        r = await http.put(f"{stack.b24_url}/_sandbox/knobs", params={"portal": "demo"},
                           json={"mandatory_fields": {}})
        assert r.status_code == 200, r.text
        for failure in result["failures"][:3]:
            assert (await da.api("POST", f"/failures/{failure['id']}/retry")).status_code == 202

        async def three_leads() -> bool:
            return len(await da.entities("demo", 1)) >= 3

        await _wait(three_leads, 60, "three retried leads")
        leads = await da.entities("demo", 1)
        failures = (await da.api("GET", "/import")).json()["failures"]
        assert len(failures) == result["found"] - 3

        # Portal B (simple CRM mode): the manager's account, deals in the default pipeline.
        await db.install("simple")
        await db.open_app("simple")
        assert (await db.connect_hh("manager@sandbox.by")).status_code == 200
        options = (await db.api("GET", "/options")).json()
        stages = [s["id"] for s in next(c for c in options["deal_categories"] if c["id"] == 0)["stages"]]
        b_settings = {"responsible_id": options["users"][0]["id"], "entity_type": "deal",
                      "smart_process_type_id": None, "category_id": 0, "extended": False,
                      "stage_map": {"response": stages[0], "invitation": stages[1]}}
        r = await db.api("PUT", "/settings", json=b_settings)
        assert r.status_code == 200, r.text
        b_settings = r.json()
        await _frame_secrets(da, "demo", secrets_seen)
        await _frame_secrets(db, "simple", secrets_seen)
        statuses = {"demo": (await da.api("GET", "/status")).json(), "simple": (await db.api("GET", "/status")).json()}

    client, st = store(stack)
    try:
        portals = {}
        for code, driver, settings in (("demo", da, a_settings), ("simple", db, b_settings)):
            status = statuses[code]
            member = status["portal"]["member_id"]
            record = await st.get_portal(member)
            assert record is not None
            portals[code] = Portal(code=code, member_id=member, domain=status["portal"]["domain"],
                                   session=driver.session or "", settings=settings,
                                   webhook_secret=record.webhook_secret)
        a = portals["demo"]
        a.failures = failures
        a.entity_ids = [int(lead["ID"]) for lead in leads]
        a.applicants = sorted({k.decode().rsplit(":", 1)[-1]
                               async for k in client.scan_iter(match=f"rs:{a.member_id}:applicant:*")})
        assert a.applicants
    finally:
        await client.aclose()
    return World(stack=stack, a=a, b=portals["simple"], frame_secrets=secrets_seen)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir: Path = tmp_path_factory.mktemp("api") / "stack"
    stack = Stack(StackConfig.ephemeral(data_dir, extra_env=STACK_ENV))
    stack.start()
    try:
        yield asyncio.run(build_world(stack))
    finally:
        stack.stop()
        for log in (data_dir / "logs").glob("*.log"):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                print(f"--- {log.name} ---\n{text[-4000:]}")
