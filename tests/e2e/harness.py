"""Driving the product end to end through its public contract (DESIGN §7) and the sandbox control API."""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from rabota_stack.stack import Stack

SESSION_META = re.compile(r'<meta name="rabota-sync-session" content="([^"]+)"')


class Driver:
    def __init__(self, stack: Stack, http: httpx.AsyncClient) -> None:
        self.stack = stack
        self.http = http
        self.session: str | None = None

    async def frame(self, portal: str, target: str, user_id: int = 1, **extra: Any) -> dict[str, Any]:
        r = await self.http.post(f"{self.stack.b24_url}/_sandbox/portals/{portal}/frame",
                                 json={"user_id": user_id, "target": target, **extra})
        r.raise_for_status()
        return dict(r.json())

    async def post_frame(self, path: str, frame: dict[str, Any]) -> httpx.Response:
        return await self.http.post(f"{self.stack.public_url}{path}", params=frame["query"], data=frame["form"])

    async def install(self, portal: str = "demo") -> None:
        r = await self.post_frame("/b24/install", await self.frame(portal, "install"))
        assert r.status_code == 200, r.text
        assert "Готово" in r.text
        r = await self.http.post(f"{self.stack.b24_url}/_sandbox/portals/{portal}/install-finish")
        r.raise_for_status()
        # The installer's REFRESH_ID and ONAPPINSTALL's refresh token are real sandbox tokens: the app proves
        # both with the OAuth server, and a genuine ONAPPINSTALL is accepted.
        delivery = r.json().get("delivery")
        assert delivery is None or delivery["status"] == 200, delivery

    async def open_app(self, portal: str = "demo", **extra: Any) -> str:
        r = await self.post_frame("/b24/app", await self.frame(portal, "app", **extra))
        assert r.status_code == 200, r.text
        match = SESSION_META.search(r.text)
        assert match, r.text[:500]
        self.session = match.group(1)
        return self.session

    def api_headers(self) -> dict[str, str]:
        assert self.session
        return {"Authorization": f"Bearer {self.session}"}

    async def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return await self.http.request(method, f"{self.stack.public_url}/api{path}", headers=self.api_headers(), **kw)

    async def hh_login(self, login: str = "admin@sandbox.by") -> tuple[str, str]:
        """Drive the sandbox's rabota.by login from this session's authorize URL to /hh/callback and read the
        code and state its page hands to the app window (nothing is connected by the callback itself)."""
        r = await self.api("GET", "/hh/authorize-url")
        assert r.status_code == 200, r.text
        url = r.json()["url"]
        parts = urlparse(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        page = await self.http.get(url)
        assert page.status_code == 200
        r = await self.http.post(f"{parts.scheme}://{parts.netloc}{parts.path}", params=query,
                                 data={"login": login, "decision": "approve"})
        assert r.status_code == 302, r.text
        location = r.headers["location"]
        assert location.startswith(f"{self.stack.public_url}/hh/callback")
        callback = await self.http.get(location)
        assert callback.status_code == 200, callback.text
        found = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
        for name in ("code", "state"):
            match = re.search(rf'data-{name}="([^"]*)"', callback.text)
            assert match and html.unescape(match.group(1)) == found[name], f"the callback page lacks {name}"
        return found["code"], found["state"]

    async def connect_hh(self, login: str = "admin@sandbox.by") -> httpx.Response:
        """The app's «Войти»: the login in the popup, then POST /api/hh/connect {code, state} with the session."""
        code, state = await self.hh_login(login)
        return await self.api("POST", "/hh/connect", json={"code": code, "state": state})

    async def save_lead_settings(self) -> dict[str, Any]:
        options = (await self.api("GET", "/options")).json()
        stages = [s["id"] for s in options["lead_stages"]]
        body = {"responsible_id": options["users"][0]["id"], "entity_type": "lead", "smart_process_type_id": None,
                "category_id": None, "extended": False,
                "stage_map": {"response": stages[0], "invitation": stages[1]}}
        r = await self.api("PUT", "/settings", json=body)
        assert r.status_code == 200, r.text
        return body

    async def wait_import(self, limit_s: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + limit_s
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            r = await self.api("GET", "/import")
            body = r.json()
            if r.status_code == 503:  # Redis restarting under a test
                await asyncio.sleep(0.5)
                continue
            if body["state"] == "done":
                return body
            dead = self.stack.group.dead()
            assert not dead, f"processes died: {dead}"
            await asyncio.sleep(0.5)
        raise AssertionError(f"import did not finish: {body}")

    async def entities(self, portal: str, entity_type_id: int) -> list[dict[str, Any]]:
        r = await self.http.get(f"{self.stack.b24_url}/_sandbox/portals/{portal}/entities",
                                params={"entity_type_id": entity_type_id})
        r.raise_for_status()
        return list(r.json())

    async def hh_negotiations(self) -> list[dict[str, Any]]:
        r = await self.http.get(f"{self.stack.hh_url}/_sandbox/negotiations")
        r.raise_for_status()
        return list(r.json())


MANAGER = "manager@sandbox.by"


async def second_portal(driver: Driver) -> Driver:
    """Portal "simple" next to "demo": the HeadHunter manager's account (only the manager's vacancies, where
    the admin sees them all), deals in the default pipeline, no import."""
    b = Driver(driver.stack, driver.http)
    await b.install("simple")
    await b.open_app("simple")
    assert (await b.connect_hh(MANAGER)).status_code == 200
    options = (await b.api("GET", "/options")).json()
    stages = [s["id"] for s in next(c for c in options["deal_categories"] if c["id"] == 0)["stages"]]
    r = await b.api("PUT", "/settings", json={
        "responsible_id": options["users"][0]["id"], "entity_type": "deal", "smart_process_type_id": None,
        "category_id": 0, "extended": False, "stage_map": {"response": stages[0], "invitation": stages[1]}})
    assert r.status_code == 200, r.text
    return b


async def manager_vacancies(driver: Driver) -> tuple[list[str], list[str]]:
    """Active vacancies of the manager (portal "simple" sees them) and of the others (only the admin does)."""
    state = (await driver.http.get(f"{driver.stack.hh_url}/_sandbox/state")).json()
    manager_id = next(u["manager_id"] for u in state["users"] if u["login"] == MANAGER)
    active = [v for v in state["vacancies"] if v["active"]]
    return ([str(v["id"]) for v in active if v["manager_id"] == manager_id],
            [str(v["id"]) for v in active if v["manager_id"] != manager_id])


async def seed_admin_only(driver: Driver, n: int, vacancies: int | None = None, concurrency: int = 16) -> None:
    """`n` new responses on vacancies only the admin sees (the first `vacancies` of them, else all), made
    before any account is connected (so no webhook announces them): portal "simple" never sees them."""
    others = (await manager_vacancies(driver))[1][:vacancies]
    url = f"{driver.stack.hh_url}/_sandbox/negotiations"
    for start in range(0, n, concurrency):
        for r in await asyncio.gather(*(driver.http.post(url, json={"vacancy_id": others[i % len(others)]})
                                        for i in range(start, min(n, start + concurrency)))):
            assert r.status_code == 201, r.text


async def wait_subscriptions(driver: Driver, count: int, limit_s: float = 30.0) -> None:
    """The poller subscribes each connected account to webhooks right after its login."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if len((await driver.http.get(f"{driver.stack.hh_url}/_sandbox/webhooks")).json()["subscriptions"]) >= count:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"fewer than {count} webhook subscriptions")


def read_spans(trace_dir: Path) -> list[dict[str, Any]]:
    spans = []
    for path in trace_dir.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            if line.strip():
                spans.append(json.loads(line))
    return spans


async def until(what: str, limit_s: float, probe: Any) -> Any:
    """Poll `probe` until it returns something truthy (returned), or fail after `limit_s`."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")
