"""rabota.by login attacks (issue 14: a planted login link, account switch, webhook secret, CSP) against one
real stack: each attack is refused and the genuine login still works."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from rabota_stack.stack import Stack, StackConfig

from tests.e2e.harness import Driver
from tests.security.hhlogin_support import (
    MANAGER,
    STACK_ENV,
    approve,
    authorize_url,
    connect,
    member_id,
    redis_of,
    state_claims,
    status,
    subscription_to,
    webhook_secret,
)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def hh_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir: Path = tmp_path_factory.mktemp("hhlogin") / "stack"
    stack = Stack(StackConfig.ephemeral(data_dir, extra_env=STACK_ENV))
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60.0) as client:
        yield client


async def _portal(stack: Stack, http: httpx.AsyncClient, code: str) -> Driver:
    # Many logins in a row: the sandbox's rabota.by request limit is not what is under test here.
    r = await http.put(f"{stack.hh_url}/_sandbox/knobs", json={"rate_limit_rps": None})
    assert r.status_code == 200, r.text
    if code not in ("demo", "simple"):
        r = await http.post(f"{stack.b24_url}/_sandbox/portals", json={"code": code})
        assert r.status_code in (200, 201, 409), r.text
    d = Driver(stack, http)
    await d.install(code)
    await d.open_app(code)
    return d


async def _recruiter(stack: Stack, http: httpx.AsyncClient) -> str:
    r = await http.post(f"{stack.hh_url}/_sandbox/recruiters", json={"count": 1, "vacancies": 1, "negotiations": 2})
    assert r.status_code == 200, r.text
    return str(r.json()["recruiters"][0]["login"])


async def test_planted_login_link_and_bare_callback_connect_nothing(hh_stack: Stack, http: httpx.AsyncClient) -> None:
    attacker, victim = await _portal(hh_stack, http, "demo"), await _portal(hh_stack, http, "simple")
    planted = await authorize_url(attacker)
    # The victim opens the attacker's link in a clean browser and approves with their own account.
    login = await approve(hh_stack, planted, MANAGER)
    assert login.callback.status_code == 200
    csp = login.callback.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'nonce-" in csp
    # The callback alone connects nothing, on either portal.
    assert (await status(attacker))["hh"]["connected"] is False
    assert (await status(victim))["hh"]["connected"] is False
    # The victim's app completing it with its own session: the state is the attacker's portal's → refused.
    r = await connect(victim, login)
    assert r.status_code == 403 and r.json()["error"] == "foreign_state", r.text
    assert (await status(attacker))["hh"]["connected"] is False
    assert (await status(victim))["hh"]["connected"] is False
    # Genuine: the victim's own «Войти» connects their account to their portal.
    own = await approve(hh_stack, await authorize_url(victim), MANAGER)
    r = await connect(victim, own)
    assert r.status_code == 200, r.text
    assert (await status(victim))["hh"]["connected"] is True
    assert (await status(attacker))["hh"]["connected"] is False
    # Replayed: the same code and state again → refused.
    r = await connect(victim, own)
    assert r.status_code == 400 and r.json()["error"] == "bad_state", r.text
    assert (await victim.api("POST", "/hh/logout")).status_code == 200


async def test_state_bound_to_user_single_use_and_ten_minutes(hh_stack: Stack, http: httpx.AsyncClient) -> None:
    d = await _portal(hh_stack, http, "statep")
    url = await authorize_url(d)
    claims = state_claims(httpx.URL(url).params["state"])
    assert claims["u"] == 1 and claims["exp"] - claims.get("iat", claims["exp"] - 600) <= 600
    client = redis_of(hh_stack)
    try:
        ttl = await client.ttl(f"rs:oauth-state:{claims['n']}")
        assert 0 < ttl <= 600, ttl
    finally:
        await client.aclose()
    login = await approve(hh_stack, url, await _recruiter(hh_stack, http))
    # Another user of the same portal cannot complete it.
    other = Driver(hh_stack, http)
    await other.open_app("statep", user_id=2)
    r = await connect(other, login)
    assert r.status_code == 403, r.text
    # An expired nonce (Redis let it go) is refused.
    expired = await approve(hh_stack, await authorize_url(d), await _recruiter(hh_stack, http))
    client = redis_of(hh_stack)
    try:
        await client.delete(f"rs:oauth-state:{state_claims(expired.state)['n']}")
    finally:
        await client.aclose()
    r = await connect(d, expired)
    assert r.status_code == 400 and r.json()["error"] == "bad_state", r.text
    # A forged state (bad signature) too.
    r = await d.api("POST", "/hh/connect", json={"code": login.code, "state": login.state[:-3] + "AAA"})
    assert r.status_code == 400, r.text
    assert (await status(d))["hh"]["connected"] is False
    # Genuine: the owner's own state works once.
    r = await connect(d, login)
    assert r.status_code == 200, r.text
    assert (await d.api("POST", "/hh/logout")).status_code == 200


async def test_account_of_portal_a_refused_on_portal_b(hh_stack: Stack, http: httpx.AsyncClient) -> None:
    a, b = await _portal(hh_stack, http, "owna"), await _portal(hh_stack, http, "ownb")
    recruiter = await _recruiter(hh_stack, http)
    assert (await a.connect_hh(recruiter)).status_code == 200
    secret_a = await webhook_secret(hh_stack, await member_id(a))
    await subscription_to(a, recruiter, f"{hh_stack.public_url}/hh/webhook/{secret_a}")
    r = await b.connect_hh(recruiter)
    assert r.status_code == 409 and r.json()["error"] == "account_taken", r.text
    assert "другому порталу" in r.json()["message"]
    assert (await status(b))["hh"]["connected"] is False
    assert (await status(a))["hh"]["connected"] is True
    # A's subscription still points at A.
    await subscription_to(a, recruiter, f"{hh_stack.public_url}/hh/webhook/{secret_a}", 5)
    # Once A disconnects it, B may connect it.
    assert (await a.api("POST", "/hh/logout")).status_code == 200
    assert (await b.connect_hh(recruiter)).status_code == 200
    assert (await status(b))["hh"]["connected"] is True
    assert (await b.api("POST", "/hh/logout")).status_code == 200


async def test_switching_account_resets_sync_state_and_rotates_secret(hh_stack: Stack,
                                                                      http: httpx.AsyncClient) -> None:
    d = await _portal(hh_stack, http, "switch")
    first, second = await _recruiter(hh_stack, http), await _recruiter(hh_stack, http)
    assert (await d.connect_hh(first)).status_code == 200
    member = await member_id(d)
    old_secret = await webhook_secret(hh_stack, member)
    await subscription_to(d, first, f"{hh_stack.public_url}/hh/webhook/{old_secret}")
    await d.save_lead_settings()
    assert (await d.api("POST", "/import")).status_code == 202
    done = await d.wait_import()
    assert done["found"] > 0
    client = redis_of(hh_stack)
    try:
        await client.rpush(f"rs:{member}:parked", '{"subject": "x", "data": {}}')
        assert await client.hlen(f"rs:{member}:ledger:entity") > 0
        # Another account on the same portal.
        assert (await d.connect_hh(second)).status_code == 200
        new_secret = await webhook_secret(hh_stack, member)
        assert new_secret and new_secret != old_secret
        assert await client.hlen(f"rs:{member}:ledger:entity") == 0
        assert await client.llen(f"rs:{member}:parked") == 0
    finally:
        await client.aclose()
    imp = (await d.api("GET", "/import")).json()
    assert imp["state"] == "idle" and imp["failures"] == [] and imp["found"] == 0, imp
    # The old account's subscription is gone; the new one points at the new URL; the old URL is dead.
    await subscription_to(d, second, f"{hh_stack.public_url}/hh/webhook/{new_secret}")
    subs = (await http.get(f"{hh_stack.hh_url}/_sandbox/webhooks")).json()["subscriptions"]
    assert not [s for s in subs if s["login"] == first], subs
    r = await http.post(f"{hh_stack.public_url}/hh/webhook/{old_secret}", json={})
    assert r.status_code == 404, r.text
    r = await http.post(f"{hh_stack.public_url}/hh/webhook/{new_secret}", json={})
    assert r.status_code != 404, r.text
    status_now = await status(d)
    assert status_now["hh"]["connected"] is True
    # The first account is free again for another portal.
    other = await _portal(hh_stack, http, "switch2")
    assert (await other.connect_hh(first)).status_code == 200
    for driver in (d, other):
        assert (await driver.api("POST", "/hh/logout")).status_code == 200


async def test_pages_carry_csp_and_escape_quotes(hh_stack: Stack, http: httpx.AsyncClient) -> None:
    d = Driver(hh_stack, http)
    frame = await d.frame("demo", "app")
    r = await d.post_frame("/b24/app", frame)
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
    scripts = csp.split("script-src", 1)[1].split(";")[0]
    assert f'<script nonce="{nonce}">' in r.text and "'unsafe-inline'" not in scripts
    assert f"frame-ancestors {hh_stack.b24_url}" in csp, csp
    assert "'\"': '&quot;'" in r.text and "\"'\": '&#39;'" in r.text
    frame["form"]["AUTH_ID"] = "forged"
    r = await d.post_frame("/b24/app", frame)
    assert r.status_code >= 400 and "content-security-policy" in r.headers
    await asyncio.sleep(0)
