"""Identity attacks (issue 14) against the real stack: forged installs and frames, identifiers with patterns,
a foreign token in the install window, non-admin sessions, reinstall and CLEAN ending sessions.

Each test asserts that the attack is refused and that the genuine portals still work."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from rabota_stack.stack import Stack, StackConfig

from tests.e2e.harness import Driver
from tests.security.identity_support import (
    PATTERN_IDS,
    HostileBitrix24,
    is_russian_error,
    portal_keys,
    record,
    store,
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir: Path = tmp_path_factory.mktemp("identity") / "stack"
    s = Stack(StackConfig.ephemeral(data_dir))
    s.start()
    try:
        yield s
    finally:
        s.stop()
        for log in (data_dir / "logs").glob("*.log"):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                print(f"--- {log.name} ---\n{text[-4000:]}")


@pytest.fixture
async def driver(stack: Stack) -> AsyncIterator[Driver]:
    async with httpx.AsyncClient(timeout=60.0) as http:
        yield Driver(stack, http)


@pytest.fixture
def hostile() -> Iterator[HostileBitrix24]:
    with HostileBitrix24() as server:
        yield server


async def member_of(driver: Driver, code: str) -> str:
    portals = (await driver.http.get(f"{driver.stack.b24_url}/_sandbox/portals")).json()
    return str(next(p["member_id"] for p in portals if p["code"] == code))


async def new_portal(driver: Driver, code: str) -> str:
    r = await driver.http.post(f"{driver.stack.b24_url}/_sandbox/portals", json={"code": code, "crm_mode": 1})
    assert r.status_code in (200, 409), r.text
    return await member_of(driver, code)


async def installed(driver: Driver, code: str) -> str:
    """`code` installed (once) and opened by its admin: the driver holds a genuine session."""
    member = await member_of(driver, code)
    if await record(driver.stack.redis_url, member) is None:
        await driver.install(code)
    await driver.open_app(code)
    return member


async def still_works(driver: Driver, code: str) -> None:
    """The genuine portal: a fresh frame opens the app, and the portal answers through the stored endpoint."""
    await driver.open_app(code)
    status = await driver.api("GET", "/status")
    assert status.status_code == 200, status.text
    options = await driver.api("GET", "/options")
    assert options.status_code == 200 and options.json()["users"], options.text


async def post_event(driver: Driver, form: dict[str, str]) -> httpx.Response:
    return await driver.http.post(f"{driver.stack.public_url}/b24/events", data=form)


async def test_install_with_a_hostile_domain_and_a_genuine_member_id_is_refused(
        driver: Driver, hostile: HostileBitrix24) -> None:
    member = await installed(driver, "demo")
    before = await record(driver.stack.redis_url, member)
    assert before is not None
    forged = {"DOMAIN": hostile.host_port, "PROTOCOL": "0", "LANG": "ru"}
    # 1: no token at all, 2: a garbage refresh token, 3: a genuine token of another portal (simple's).
    other = await driver.frame("simple", "install")
    for form in ({"AUTH_ID": "x", "member_id": member, "AUTH_EXPIRES": "999999999"},
                 {"AUTH_ID": "x", "REFRESH_ID": "garbage", "member_id": member, "AUTH_EXPIRES": "999999999"},
                 dict(other["form"], member_id=member)):
        r = await driver.http.post(f"{driver.stack.public_url}/b24/install", params=forged, data=form)
        assert r.status_code == 403 and is_russian_error(r.json()), r.text
    # The hostile server never heard of us, and the record did not change.
    assert hostile.requests == []
    after = await record(driver.stack.redis_url, member)
    assert after == before
    await still_works(driver, "demo")
    assert hostile.requests == []


async def test_frame_from_another_domain_is_refused(driver: Driver, hostile: HostileBitrix24) -> None:
    await installed(driver, "demo")
    frame = await driver.frame("demo", "app")
    frame["query"]["DOMAIN"] = hostile.host_port
    r = await driver.post_frame("/b24/app", frame)
    assert r.status_code == 403 and "rabota-sync-session" not in r.text
    frame = await driver.frame("demo", "app")
    frame["query"]["DOMAIN"] = "127.0.0.1:1/portal/demo"  # another portal's address with demo's tokens
    r = await driver.post_frame("/b24/app", frame)
    assert r.status_code == 403 and "rabota-sync-session" not in r.text
    assert hostile.requests == []
    await still_works(driver, "demo")


async def test_member_ids_with_patterns_are_refused_everywhere(driver: Driver) -> None:
    a = await installed(driver, "demo")
    b = await installed(driver, "simple")
    client, _ = store(driver.stack.redis_url)
    try:
        keys_before = {m: await portal_keys(client, m) for m in (a, b)}
        portals_before = await client.smembers("rs:portals")
        app_token = (await driver.http.get(f"{driver.stack.b24_url}/_sandbox/portals")).json()
        for bad in PATTERN_IDS:
            for path in ("/b24/install", "/b24/app"):
                r = await driver.http.post(f"{driver.stack.public_url}{path}",
                                           params={"DOMAIN": "127.0.0.1:1", "PROTOCOL": "0"},
                                           data={"AUTH_ID": "x", "REFRESH_ID": "y", "member_id": bad})
                assert 400 <= r.status_code < 500, (path, bad, r.status_code)
                assert is_russian_error(r.json()), (path, bad, r.text)
            for event in ("ONAPPUNINSTALL", "ONAPPINSTALL", "ONCRMLEADUPDATE"):
                r = await post_event(driver, {"event": event, "data[CLEAN]": "1", "auth[member_id]": bad,
                                              "auth[application_token]": str(app_token), "auth[refresh_token]": "x"})
                assert 400 <= r.status_code < 500 and is_russian_error(r.json()), (event, bad, r.text)
        # Nothing of either portal was touched.
        assert {m: await portal_keys(client, m) for m in (a, b)} == keys_before
        assert await client.smembers("rs:portals") == portals_before
    finally:
        await client.aclose()
    await still_works(driver, "demo")
    await still_works(driver, "simple")


async def test_clean_uninstall_wipes_only_its_portal_by_name(driver: Driver) -> None:
    keep = await installed(driver, "demo")
    gone = await new_portal(driver, "wiped")
    await driver.install("wiped")
    session = await driver.open_app("wiped")
    client, st = store(driver.stack.redis_url)
    try:
        victim = await st.get_portal(gone)
        assert victim is not None
        # Keys named after data (found only through the by-entity hash or the portal's index).
        await client.hset(st.key(gone, "by-entity"), "lead:7", "applicant-1")
        await client.hset(st.key(gone, "entity-info", "lead:7"), "url", "/crm/lead/details/7/")
        await client.zadd(st.key(gone, "applicant", "applicant-1"), {"lead:7": 7})
        cache = st.key(gone, "resume-cache", "abc")
        await client.set(cache, "sealed")
        await st.track(gone, cache)
        kept_before = await portal_keys(client, keep)
        r = await driver.http.post(f"{driver.stack.b24_url}/_sandbox/portals/wiped/uninstall", json={"clean": 1})
        assert r.status_code == 200 and r.json()["delivery"]["status"] == 200, r.text
        assert await portal_keys(client, gone) == set()
        assert not await client.sismember("rs:portals", gone)
        assert await client.get(f"rs:webhook-secret:{victim.webhook_secret}") is None
        assert await portal_keys(client, keep) == kept_before
        # The wiped portal's session ends with it.
        r = await driver.http.get(f"{driver.stack.public_url}/api/status",
                                  headers={"Authorization": f"Bearer {session}"})
        assert r.status_code == 401
        with pytest.raises(ValueError):
            await st.wipe_portal("*")
    finally:
        await client.aclose()
    await still_works(driver, "demo")


async def test_clean_uninstall_leaves_nothing_of_a_portal_in_use(driver: Driver) -> None:
    """Every per-portal key the product writes while a portal is used (HeadHunter account, import, ledger,
    walk caches, «Новые отклики» cache, feedback, polls…) is deleted by a CLEAN uninstall: by name, none left."""
    keep = await installed(driver, "demo")
    gone = await new_portal(driver, "usedwiped")
    await driver.install("usedwiped")
    await driver.open_app("usedwiped")
    assert (await driver.connect_hh("manager@sandbox.by")).status_code == 200
    await driver.save_lead_settings()
    assert (await driver.api("POST", "/import")).status_code == 202
    await driver.wait_import()
    assert (await driver.api("GET", "/new-responses")).status_code == 200
    r = await driver.api("POST", "/feedback", json={"message": "Спасибо", "contact": None})
    assert r.status_code == 201, r.text
    client, st = store(driver.stack.redis_url)
    try:
        # The portal's first reconciliation poll comes at the first tick after the import: let it finish, so
        # that the wipe is not raced by it (the next one finds no account and writes nothing).
        deadline = time.monotonic() + 30
        while not (await client.get(st.key(gone, "poll", "count"))
                   and not await client.exists(st.key(gone, "poll", "running"))):
            assert time.monotonic() < deadline, "the first poll did not finish"
            await asyncio.sleep(0.3)
        used = await portal_keys(client, gone)
        assert {st.key(gone, "hh"), st.key(gone, "feedback"), st.key(gone, "ledger", "entity")} <= used, used
        kept_before = await portal_keys(client, keep)
        r = await driver.http.post(f"{driver.stack.b24_url}/_sandbox/portals/usedwiped/uninstall", json={"clean": 1})
        assert r.status_code == 200 and r.json()["delivery"]["status"] == 200, r.text
        assert await portal_keys(client, gone) == set()
        assert not await client.sismember("rs:feedback-portals", gone)
        owners = [await client.get(k) async for k in client.scan_iter(match="rs:hh-account:*")]
        assert gone.encode() not in owners  # the HeadHunter account is free for another portal
        assert await portal_keys(client, keep) == kept_before
    finally:
        await client.aclose()
    await still_works(driver, "demo")


async def test_first_onappinstall_with_a_foreign_token_cannot_claim_the_app(
        driver: Driver, hostile: HostileBitrix24) -> None:
    member = await new_portal(driver, "victim")
    r = await driver.post_frame("/b24/install", await driver.frame("victim", "install"))
    assert r.status_code == 200, r.text
    foreign = (await driver.frame("demo", "app"))["form"]  # a genuine token of another portal
    base = {"event": "ONAPPINSTALL", "auth[member_id]": member, "auth[application_token]": "attacker-token",
            "auth[domain]": hostile.host_port, "auth[client_endpoint]": f"http://{hostile.host_port}/rest/"}
    for auth in ({"auth[access_token]": foreign["AUTH_ID"], "auth[refresh_token]": foreign["REFRESH_ID"]},
                 {"auth[access_token]": foreign["AUTH_ID"]},
                 {"auth[access_token]": "x", "auth[refresh_token]": "garbage"}):
        r = await post_event(driver, dict(base, **auth))
        assert r.status_code == 403 and is_russian_error(r.json()), r.text
    # A non-admin's genuine token of this very portal does not claim it either.
    user = (await driver.frame("victim", "app", user_id=2))["form"]
    r = await post_event(driver, dict(base, **{"auth[access_token]": user["AUTH_ID"],
                                               "auth[refresh_token]": user["REFRESH_ID"]}))
    assert r.status_code == 403, r.text
    stored = await record(driver.stack.redis_url, member)
    assert stored is not None and stored.application_token == ""
    assert hostile.requests == []
    # The genuine ONAPPINSTALL still claims it.
    r = await driver.http.post(f"{driver.stack.b24_url}/_sandbox/portals/victim/install-finish")
    assert r.status_code == 200 and r.json()["delivery"]["status"] == 200, r.text
    portals = (await driver.http.get(f"{driver.stack.b24_url}/_sandbox/portals")).json()
    genuine = next(p["application_token"] for p in portals if p["code"] == "victim")
    stored = await record(driver.stack.redis_url, member)
    assert stored is not None and stored.application_token == genuine
    await still_works(driver, "victim")


ADMIN_ONLY = [("PUT", "/settings", {"responsible_id": 1, "entity_type": "lead", "stage_map": {}}),
              ("POST", "/import", None), ("POST", "/failures/abc/retry", None), ("POST", "/hh/logout", None),
              ("GET", "/hh/authorize-url", None)]


async def test_a_non_admin_reads_but_changes_nothing(driver: Driver) -> None:
    await installed(driver, "demo")
    page = await driver.post_frame("/b24/app", await driver.frame("demo", "app", user_id=2))
    assert page.status_code == 200 and "Изменять настройки может только администратор портала" in page.text
    await driver.open_app("demo", user_id=2)
    for method, path, body in ADMIN_ONLY:
        r = await driver.api(method, path, json=body) if body is not None else await driver.api(method, path)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"] == "forbidden" and is_russian_error(r.json())
    status = await driver.api("GET", "/status")
    assert status.status_code == 200 and status.json()["user"] == {"id": 2, "is_admin": False}
    assert (await driver.api("GET", "/settings")).status_code == 200
    # The admin of the same portal may.
    await driver.open_app("demo", user_id=1)
    status = await driver.api("GET", "/status")
    assert status.json()["user"] == {"id": 1, "is_admin": True}
    assert (await driver.api("GET", "/hh/authorize-url")).status_code == 200


async def test_reinstall_ends_old_sessions_and_rotates_the_webhook_secret(driver: Driver) -> None:
    member = await installed(driver, "demo")
    old_session = await driver.open_app("demo")
    old = await record(driver.stack.redis_url, member)
    assert old is not None
    assert (await driver.api("GET", "/status")).status_code == 200
    await driver.install("demo")
    r = await driver.http.get(f"{driver.stack.public_url}/api/status",
                              headers={"Authorization": f"Bearer {old_session}"})
    assert r.status_code == 401 and is_russian_error(r.json())
    new = await record(driver.stack.redis_url, member)
    assert new is not None and new.webhook_secret != old.webhook_secret and new.generation != old.generation
    r = await driver.http.post(f"{driver.stack.public_url}/hh/webhook/{old.webhook_secret}", json={})
    assert r.status_code == 404
    client, st = store(driver.stack.redis_url)
    try:
        assert await st.portal_by_webhook_secret(old.webhook_secret) is None
        assert await st.portal_by_webhook_secret(new.webhook_secret) == member
    finally:
        await client.aclose()
    await still_works(driver, "demo")


async def test_bad_events_get_4xx(driver: Driver) -> None:
    member = await installed(driver, "demo")
    for form in ({"auth[member_id]": member}, {"event": "", "auth[member_id]": member}, {}):
        r = await post_event(driver, form)
        assert 400 <= r.status_code < 500 and is_russian_error(r.json()), r.text
    await still_works(driver, "demo")


def test_sessions_are_short_by_default() -> None:
    from rabota_common.settings import Settings

    assert Settings(_env_file=None, SANDBOX=True).SESSION_TTL_S <= 900  # a dismissed user loses access within it
