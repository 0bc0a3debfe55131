"""Input attacks on the public surface (issue 14, "bad input", "HeadHunter identifiers are data, not paths",
"webhooks in flight are capped per portal"), against a real stack with two portals connected to HeadHunter.
Each attack is refused, and the genuine portal still works."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from rabota_stack.stack import Stack, StackConfig

from tests.security.input_support import (
    NEGOTIATION_ROUTE,
    NEW_RESPONSE,
    STACK_ENV,
    World,
    admin_only_negotiation,
    build_world,
    event,
    genuine_response_arrives,
    hh_stats,
    hh_status_counts,
    hook_url,
    known_negotiations,
    stream_messages,
    wait_for,
    webhook_consumer_idle,
)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir: Path = tmp_path_factory.mktemp("input") / "stack"
    stack = Stack(StackConfig.ephemeral(data_dir, extra_env=STACK_ENV))
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
        for log in (data_dir / "logs").glob("*.log"):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                print(f"--- {log.name} ---\n{text[-4000:]}")


@pytest.fixture(scope="module")
def world_holder(stack: Stack) -> dict[str, World]:
    return {}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30.0) as client:
        yield client


@pytest.fixture
async def world(stack: Stack, world_holder: dict[str, World], http: httpx.AsyncClient) -> World:
    if "w" not in world_holder:
        world_holder["w"] = await build_world(stack, http)
    world = world_holder["w"]
    world.a.driver.http = world.b.driver.http = http  # each test has its own event loop and client
    return world


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> None:
    assert r.status_code == status, (r.status_code, r.text[:300])
    body = r.json()
    assert set(body) == {"error", "message"} and body["message"], body
    if code is not None:
        assert body["error"] == code, body


async def test_oversized_bodies_get_413_before_parsing(world: World, http: httpx.AsyncClient) -> None:
    url = hook_url(world.stack, world.a)
    before = await stream_messages(world.stack, "HH_WEBHOOK")
    # A 2 MB webhook that is otherwise a valid event (it used to reach NATS and fail there: 500).
    big = event(world.a, "1", padding="x" * (2 * 1024 * 1024))
    assert_error(await http.post(url, json=big), 413, "payload_too_large")
    # The same without Content-Length: counted as it streams in.

    async def chunks() -> AsyncIterator[bytes]:
        data = json.dumps(big).encode()
        for i in range(0, len(data), 64 * 1024):
            yield data[i:i + 64 * 1024]

    assert_error(await http.post(url, content=chunks(), headers={"Content-Type": "application/json"}), 413,
                 "payload_too_large")
    # Over the general limit elsewhere: /api and the Bitrix24 endpoints.
    r = await http.put(f"{world.stack.public_url}/api/settings", content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                       headers={**world.a.driver.api_headers(), "Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")
    r = await http.post(f"{world.stack.public_url}/b24/events", content=b"a=" + b"b" * (2 * 1024 * 1024),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(r, 413, "payload_too_large")
    assert await stream_messages(world.stack, "HH_WEBHOOK") == before
    # The receiver still answers a genuine event, and the portal still works.
    assert (await world.a.driver.api("GET", "/status")).status_code == 200
    await genuine_response_arrives(world, http)


async def test_unknown_action_is_acknowledged_fast_and_nothing_published(world: World,
                                                                         http: httpx.AsyncClient) -> None:
    url = hook_url(world.stack, world.a)
    before = await stream_messages(world.stack, "HH_WEBHOOK")
    for action in ("SOMETHING_NEW", "VACANCY_CHANGE", "CHAT_CREATED", "x" * 5000, "НЕИЗВЕСТНО",
                   "NEW_RESPONSE_OR_INVITATION_VACANCY\r\nX: y"):
        started = time.monotonic()
        r = await http.post(url, json=event(world.a, "1", action_type=action), timeout=5.0)
        assert time.monotonic() - started < 2.0, "HeadHunter waits 2 s at most"
        assert r.status_code == 200, r.text
        assert r.json() == {"ok": True, "ignored": "action"}
    # Unknown actions with bodies that are odd in every other way are still just acknowledged.
    r = await http.post(url, json={"action_type": "SOMETHING_NEW"}, timeout=5.0)
    assert r.status_code == 200 and r.json()["ignored"] == "action", r.text
    assert await stream_messages(world.stack, "HH_WEBHOOK") == before


async def test_malformed_webhooks_get_4xx(world: World, http: httpx.AsyncClient) -> None:
    url = hook_url(world.stack, world.a)
    before = await stream_messages(world.stack, "HH_WEBHOOK")
    no_payload = event(world.a, "1")
    del no_payload["payload"]
    bodies: list[bytes] = [
        json.dumps(no_payload).encode(),
        json.dumps(event(world.a, "1", payload={})).encode(),
        json.dumps(event(world.a, None)).encode(),  # payload without topic_id
        json.dumps(event(world.a, 12345)).encode(),  # ids are strings
        json.dumps(event(world.a, "1", payload="not an object")).encode(),
        json.dumps({k: v for k, v in event(world.a, "1").items() if k != "id"}).encode(),
        json.dumps({k: v for k, v in event(world.a, "1").items() if k != "subscription_id"}).encode(),
        json.dumps(event(world.a, "1", id="a b\r\nc")).encode(),
        json.dumps(event(world.a, "1", action_type=None)).encode(),
        json.dumps([event(world.a, "1")]).encode(),
        # A chat message (handled since issue 18) names its chat and message by digits, nothing else.
        json.dumps(event(world.a, "1", action_type="CHAT_MESSAGE_CREATED")).encode(),
        json.dumps(event(world.a, action_type="CHAT_MESSAGE_CREATED",
                         payload={"chat_id": "../me", "message_id": "1"})).encode(),
        json.dumps(event(world.a, action_type="CHAT_MESSAGE_CREATED",
                         payload={"chat_id": "1", "message_id": "1?x=2"})).encode(),
        b"", b"null", b"\x00 not json", b"{\"id\": ", "\u00ff".encode("latin-1"),
        b"[" * 30000 + b"]" * 30000,  # nesting deeper than any parser's recursion
    ]
    for body in bodies:
        r = await http.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=5.0)
        assert_error(r, 400, "bad_webhook")
    assert await stream_messages(world.stack, "HH_WEBHOOK") == before


async def test_topic_id_cannot_walk_the_headhunter_api(world: World, http: httpx.AsyncClient) -> None:
    url = hook_url(world.stack, world.a)
    resume_id = (await http.get(f"{world.stack.hh_url}/_sandbox/negotiations")).json()[0]["resume_id"]
    before = await stream_messages(world.stack, "HH_WEBHOOK")
    await wait_for(lambda: webhook_consumer_idle(world.stack), 60, "the webhook consumer idle")
    stats_before = await hh_stats(world.stack, http)
    statuses_at_start = await hh_status_counts(world.stack, http)
    # A resume that does not exist: were it fetched, HeadHunter would answer 404, which nothing else here asks.
    walks = [f"../resumes/{resume_id}", "../resumes/0123456789abcdef0123456789abcdef012345",
             f"..%2Fresumes%2F{resume_id}", f"1/../../resumes/{resume_id}",
             "../me", "1?page=2", "1#x", " 1", "1 ", "-1", "1.0", "１２３", "0x1f", "9" * 40]
    for topic in walks:
        r = await http.post(url, json=event(world.a, topic), timeout=5.0)
        assert_error(r, 400, "bad_webhook")
        assert "topic_id" in r.json()["message"]
    # Other ids of the payload are data too.
    for payload in ({"topic_id": "1", "vacancy_id": "../vacancies/1"},
                    {"topic_id": "1", "resume_id": f"../{resume_id}"}):
        r = await http.post(url, json=event(world.a, "1", payload=payload), timeout=5.0)
        assert_error(r, 400, "bad_webhook")
    assert await stream_messages(world.stack, "HH_WEBHOOK") == before
    await wait_for(lambda: webhook_consumer_idle(world.stack), 60, "the webhook consumer idle")
    stats_after = await hh_stats(world.stack, http)
    for route in (NEGOTIATION_ROUTE, "GET /me"):
        assert stats_after.get(route, 0) == stats_before.get(route, 0), (route, stats_before, stats_after)
    statuses_at_end = await hh_status_counts(world.stack, http)
    assert statuses_at_end.get("404", 0) == statuses_at_start.get("404", 0), "a walked path reached HeadHunter"
    assert all(nid.isdigit() for nid in await known_negotiations(world.stack, world.a)), "a junk lead was created"
    await genuine_response_arrives(world, http)


async def test_webhook_of_another_account_is_ignored(world: World, http: httpx.AsyncClient) -> None:
    url = hook_url(world.stack, world.a)
    nid = (await http.get(f"{world.stack.hh_url}/_sandbox/negotiations")).json()[0]["id"]
    before = await stream_messages(world.stack, "HH_WEBHOOK")
    await wait_for(lambda: webhook_consumer_idle(world.stack), 60, "the webhook consumer idle")
    stats_before = await hh_stats(world.stack, http)
    foreign = [
        event(world.a, str(nid), subscription_id=world.b.subscription_id, user_id=world.b.user_id),
        event(world.a, str(nid), subscription_id=world.b.subscription_id),
        event(world.a, str(nid), user_id=world.b.user_id),
        event(world.a, str(nid), subscription_id="999999"),
        event(world.a, str(nid), subscription_id="0", user_id="0"),
    ]
    for body in foreign:
        r = await http.post(url, json=body, timeout=5.0)
        assert r.status_code == 200, r.text
        assert r.json() == {"ok": True, "ignored": "subscription"}
    # B's genuine event sent to A's address is A's no more than B's.
    r = await http.post(url, json=event(world.b, str(nid)), timeout=5.0)
    assert r.json() == {"ok": True, "ignored": "subscription"}
    assert await stream_messages(world.stack, "HH_WEBHOOK") == before
    assert (await hh_stats(world.stack, http)).get(NEGOTIATION_ROUTE, 0) == stats_before.get(NEGOTIATION_ROUTE, 0)
    await genuine_response_arrives(world, http)


async def test_invisible_negotiation_is_final_asked_once(world: World, http: httpx.AsyncClient) -> None:
    # Portal B's manager cannot see the admin's vacancies: HeadHunter answers 404 for their negotiations;
    # a negotiation that does not exist is the same.
    hidden = await admin_only_negotiation(http, world.stack)
    deals_before = len(await world.b.driver.entities("simple", 2))
    await wait_for(lambda: webhook_consumer_idle(world.stack), 60, "the webhook consumer idle")
    dlq_before = await stream_messages(world.stack, "DLQ")
    stats_before = await hh_stats(world.stack, http)
    for topic in (hidden, "987654321"):
        r = await http.post(hook_url(world.stack, world.b), json=event(world.b, topic), timeout=5.0)
        assert r.status_code == 200 and r.json() == {"ok": True}, r.text

    async def asked() -> bool:
        stats = await hh_stats(world.stack, http)
        return stats.get(NEGOTIATION_ROUTE, 0) - stats_before.get(NEGOTIATION_ROUTE, 0) >= 2

    await wait_for(asked, 30, "the poller asking HeadHunter")
    await wait_for(lambda: webhook_consumer_idle(world.stack), 30, "both webhooks acknowledged")
    # Acknowledged with nothing left to redeliver: HeadHunter was asked once for each, never again.
    stats = await hh_stats(world.stack, http)
    assert stats.get(NEGOTIATION_ROUTE, 0) - stats_before.get(NEGOTIATION_ROUTE, 0) == 2, "asked more than once"
    assert await stream_messages(world.stack, "DLQ") == dlq_before, "a forged webhook was dead-lettered"
    assert len(await world.b.driver.entities("simple", 2)) == deals_before, "a junk deal was created"
    await genuine_response_arrives(world, http)


async def test_one_portal_flood_is_capped_and_others_still_arrive(world: World, http: httpx.AsyncClient) -> None:
    # Portal B floods its own receiver with webhooks of negotiations it cannot see, while HeadHunter is slow:
    # beyond WEBHOOK_PENDING_PER_PORTAL (10 here) the receiver answers 429, and portal A's new response
    # still arrives while B's backlog is worked off two at a time.
    await http.put(f"{world.stack.hh_url}/_sandbox/knobs", json={"latency_ms": 300})
    try:
        url = hook_url(world.stack, world.b)
        answers = await asyncio.gather(*(http.post(url, json=event(world.b, str(900000000 + i)), timeout=10.0)
                                         for i in range(40)))
        statuses = [r.status_code for r in answers]
        assert set(statuses) <= {200, 429}, statuses
        assert statuses.count(429) >= 20, statuses
        refused = next(r for r in answers if r.status_code == 429)
        assert refused.json()["error"] == "too_many_webhooks" and refused.headers.get("retry-after")
        started = time.monotonic()
        await genuine_response_arrives(world, http, limit_s=60)
        assert time.monotonic() - started < 30, "portal A waited behind portal B's flood"
    finally:
        await http.put(f"{world.stack.hh_url}/_sandbox/knobs", json={"latency_ms": 0})
    await wait_for(lambda: webhook_consumer_idle(world.stack), 90, "portal B's backlog worked off")
    # Worked off: the cap is free again.
    r = await http.post(hook_url(world.stack, world.b), json=event(world.b, "900000999"), timeout=5.0)
    assert r.status_code == 200, r.text


async def test_negotiation_id_of_a_known_action_is_validated_in_the_model() -> None:
    from pydantic import ValidationError
    from rabota_common.models import HhWebhookEvent

    good = {"id": "1", "subscription_id": "2", "user_id": "3", "action_type": NEW_RESPONSE,
            "payload": {"topic_id": "4", "resume_id": "0123456789abcdef0123456789abcdef012345", "vacancy_id": "5"}}
    assert HhWebhookEvent.model_validate(good).payload["topic_id"] == "4"
    for bad in ({"topic_id": "../resumes/ab"}, {"topic_id": "4", "resume_id": "../x"},
                {"topic_id": "4", "vacancy_id": "5/../6"}):
        with pytest.raises(ValidationError):
            HhWebhookEvent.model_validate({**good, "payload": bad})
