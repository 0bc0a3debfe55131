"""Fuzzing the ui's public surface on a running stack: schemathesis over its OpenAPI (positive and negative
cases, with a valid session) and hypothesis on webhook bodies posted to /hh/webhook/{secret}. Nothing may
answer 5xx; every /api error and every JSON error is `{"error","message"}`. Bounded: ~1–2 minutes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from rabota_common.store import Store
from rabota_stack.stack import Stack, StackConfig

from tests.api.conftest import store
from tests.e2e.harness import Driver
from tests.json_strategy import JSON

pytestmark = pytest.mark.timeout(400)

STACK_ENV = {"HH_RATE": "60", "HH_BURST": "20", "HH_SANDBOX_NEGOTIATIONS": "6", "B24_RATE": "200", "B24_BURST": "400"}
EXAMPLES_PER_OPERATION = 60
WEBHOOK_EXAMPLES = 500
TRIED: dict[str, int] = {}


class Target:
    def __init__(self, stack: Stack, session: str, secret: str) -> None:
        self.stack, self.session, self.secret = stack, session, secret


async def _prepare(stack: Stack) -> Target:
    async with httpx.AsyncClient(timeout=60.0) as http:
        # A portal with room for fuzzing: the Bitrix24 budget is not what is under test here.
        r = await http.put(f"{stack.b24_url}/_sandbox/knobs", json={"rate": 200, "burst": 400})
        assert r.status_code == 200, r.text
        d = Driver(stack, http)
        await d.install("demo")
        session = await d.open_app("demo")
        assert (await d.connect_hh()).status_code == 200
        await d.save_lead_settings()
        member = (await d.api("GET", "/status")).json()["portal"]["member_id"]
    client, st_ = store(stack)
    try:
        record = await Store.get_portal(st_, member)
    finally:
        await client.aclose()
    assert record is not None
    return Target(stack, session, record.webhook_secret)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz") / "stack"
    stack = Stack(StackConfig.ephemeral(data_dir, extra_env=STACK_ENV))
    stack.start()
    try:
        yield asyncio.run(_prepare(stack))
    finally:
        stack.stop()


def _check(path: str, status: int, content_type: str, body: Any, text: str) -> None:
    assert status < 500, (path, status, text[:300])
    if status >= 400 and (path.startswith("/api") or "json" in content_type):
        assert isinstance(body, dict) and set(body) == {"error", "message"}, (path, status, text[:300])
        assert body["message"], body


def fuzz_operation(op: Any, mode: Any, target: Target, headers: dict[str, str]) -> None:
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        TRIED["schemathesis"] = TRIED.get("schemathesis", 0) + 1
        response = case.call(base_url=target.stack.public_url, headers=headers, timeout=150)
        try:
            body = response.json()
        except ValueError:
            body = None
        content_type = response.headers.get("content-type") or [""]
        _check(op.path, response.status_code, str(content_type[0] if isinstance(content_type, list)
                                                   else content_type), body, response.text)

    try:
        run()
    except Unsatisfiable:  # nothing to negate (an operation without parameters or body)
        assert mode == schemathesis.GenerationMode.NEGATIVE, op.label


def test_schemathesis_openapi(target: Target) -> None:
    schema = schemathesis.openapi.from_url(f"{target.stack.public_url}/openapi.json")
    headers = {"Authorization": f"Bearer {target.session}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 17, [op.label for op in operations]
    for op in operations:
        # Logging out would only make the rest 409; it is called once, at the end.
        if op.path != "/api/hh/logout":
            for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
                fuzz_operation(op, mode, target, headers)
    r = httpx.post(f"{target.stack.public_url}/api/hh/logout", headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    print(f"schemathesis cases: {TRIED['schemathesis']} over {len(operations)} operations")


IDS = st.one_of(st.text(max_size=40), st.integers().map(str), JSON)
EVENTS = st.fixed_dictionaries(
    {"id": IDS, "action_type": st.one_of(st.sampled_from(["NEW_RESPONSE_OR_INVITATION_VACANCY",
                                                           "NEGOTIATION_EMPLOYER_STATE_CHANGE"]), IDS)},
    optional={"subscription_id": IDS, "user_id": IDS,
              "payload": st.one_of(JSON, st.fixed_dictionaries({}, optional={
                  "negotiation_id": IDS, "vacancy_id": IDS, "resume_id": IDS, "employer_id": IDS, "topic_id": IDS,
                  "chat_id": IDS}))})
BODIES = st.one_of(EVENTS.map(lambda e: ("json", e)), JSON.map(lambda j: ("json", j)),
                   st.binary(max_size=200).map(lambda b: ("raw", b)))


def test_webhook_bodies_never_5xx(target: Target) -> None:
    url = f"{target.stack.public_url}/hh/webhook/{target.secret}"
    statuses: dict[int, int] = {}
    with httpx.Client(timeout=30) as http:
        @settings(max_examples=WEBHOOK_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(body=BODIES, content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form"
                                                                                            "-urlencoded"]))
        def run(body: tuple[str, Any], content_type: str) -> None:
            kind, value = body
            if kind == "json":
                r = http.post(url, json=value, headers={"Content-Type": content_type})
            else:
                r = http.post(url, content=value, headers={"Content-Type": content_type})
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            try:
                parsed = r.json()
            except ValueError:
                parsed = None
            _check("/hh/webhook", r.status_code, r.headers.get("content-type", ""), parsed, r.text)
            if r.status_code >= 400:
                assert r.status_code in (400, 422), r.text

        run()
    print(f"webhook bodies: {sum(statuses.values())} cases, answers {statuses}")
    assert statuses.get(200), "no generated event was accepted: the strategy misses the valid shape"
