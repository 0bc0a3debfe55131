"""No tenant can starve another (issue 14): per-session /api limit, feedback limit and cap, the per-IP
limit behind a trusted proxy only, and bounded JetStream streams. Each attack is refused while the other
portal (or client) still gets through."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import nats
import pytest
from rabota_common.bus import ensure_jetstream
from rabota_common.subjects import STREAMS
from rabota_stack.stack import Stack, StackConfig
from rabota_ui.ratelimit import client_address

from tests.security.fair_support import PORTAL_A, PORTAL_B, seed_portal, session_for

BURST = 5
FEEDBACK_CAP = 3


@pytest.fixture(scope="module")
def ui_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {"PUBLIC_RATE_PER_IP": "0.5", "PUBLIC_BURST_PER_IP": str(BURST), "TRUSTED_PROXIES": "127.0.0.2/32",
           "API_RATE_PER_SESSION": "0.5", "API_BURST_PER_SESSION": "20",
           "FEEDBACK_PER_HOUR": "3600", "FEEDBACK_BURST": "4", "FEEDBACK_MAX_PER_PORTAL": str(FEEDBACK_CAP)}
    stack = Stack(StackConfig.ephemeral(tmp_path_factory.mktemp("fair") / "stack", extra_env=env,
                                        services=("ui",)))
    stack.start()
    yield stack
    stack.stop()


def test_forwarded_for_counts_only_behind_a_trusted_proxy() -> None:
    assert client_address("203.0.113.9", ["198.51.100.1"], "") == "203.0.113.9"
    assert client_address("203.0.113.9", ["198.51.100.1"], "10.0.0.0/8") == "203.0.113.9"
    # Behind the proxy: the right-most address the proxy did not add itself; a client's own prefix is ignored.
    assert client_address("10.0.0.5", ["1.2.3.4, 198.51.100.7, 10.0.0.9"], "10.0.0.0/8") == "198.51.100.7"
    assert client_address("10.0.0.5", ["junk"], "10.0.0.0/8") == "10.0.0.5"


async def test_forwarded_for_of_an_untrusted_peer_does_not_change_the_bucket(ui_only: Stack) -> None:
    async with httpx.AsyncClient(base_url=ui_only.public_url) as direct, httpx.AsyncClient(
            base_url=ui_only.public_url, transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2")) as proxy:
        codes = [(await direct.get("/hh/callback", headers={"X-Forwarded-For": f"198.51.100.{i}"})).status_code
                 for i in range(BURST + 2)]
        assert 429 in codes, codes  # a forged header buys the direct client no fresh bucket
        # Through the trusted proxy, each forwarded client has its own bucket.
        for i in range(BURST + 2):
            r = await proxy.get("/hh/callback", headers={"X-Forwarded-For": f"1.1.1.1, 198.51.100.{100 + i}"})
            assert r.status_code != 429, r.text
        codes = [(await proxy.get("/hh/callback", headers={"X-Forwarded-For": "198.51.100.250"})).status_code
                 for _ in range(BURST + 2)]
        assert codes[-1] == 429, codes


async def test_feedback_flood_is_limited_and_capped(ui_only: Stack) -> None:
    client, store = await seed_portal(ui_only.redis_url, PORTAL_A)
    await seed_portal(ui_only.redis_url, PORTAL_B)
    try:
        async with httpx.AsyncClient(base_url=ui_only.public_url) as http:
            flood = {"Authorization": f"Bearer {session_for(PORTAL_A, 7)}"}
            codes = [(await http.post("/api/feedback", headers=flood, json={"message": f"спам {i}"})).status_code
                     for i in range(12)]
            assert codes.count(201) <= 5 and 429 in codes, codes
            r = await http.post("/api/feedback", headers=flood, json={"message": "ещё"})
            assert r.status_code == 429 and r.json()["error"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
            assert len(await store.feedback(PORTAL_A)) <= FEEDBACK_CAP
            # Another portal's user still sends feedback.
            genuine = {"Authorization": f"Bearer {session_for(PORTAL_B, 1)}"}
            r = await http.post("/api/feedback", headers=genuine, json={"message": "Спасибо"})
            assert r.status_code == 201, r.text
            assert [e["message"] for e in await store.feedback(PORTAL_B)] == ["Спасибо"]
            assert not await client.exists("rs:feedback")  # no global uncapped list
    finally:
        await client.aclose()


async def test_api_is_limited_per_session(ui_only: Stack) -> None:
    client, _ = await seed_portal(ui_only.redis_url, PORTAL_A)
    try:
        async with httpx.AsyncClient(base_url=ui_only.public_url) as http:
            hog = {"Authorization": f"Bearer {session_for(PORTAL_A, 9)}"}
            codes = [(await http.get("/api/settings", headers=hog)).status_code for _ in range(30)]
            assert codes[-1] == 429 and codes[0] == 200, codes
            other = {"Authorization": f"Bearer {session_for(PORTAL_A, 10)}"}
            assert (await http.get("/api/settings", headers=other)).status_code == 200
    finally:
        await client.aclose()


async def test_every_stream_is_bounded(nats_url: str) -> None:
    await ensure_jetstream(nats_url)
    await ensure_jetstream(nats_url)  # existing streams are updated, not refused
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for spec in STREAMS:
            config = (await js.stream_info(spec.name)).config
            assert config.max_bytes and config.max_bytes > 0, spec.name
            assert config.max_msgs and config.max_msgs > 0, spec.name
    finally:
        await nc.close()


async def test_retry_flood_publishes_one_command_per_failure(ui_only: Stack) -> None:
    import asyncio

    from rabota_common.store import Failure

    from tests.security.fair_support import failed_command

    client, store = await seed_portal(ui_only.redis_url, PORTAL_B)
    await store.add_failure(PORTAL_B, Failure(id="f1", negotiation_id="501", reason="x",
                                              data=failed_command(PORTAL_B, "501")))
    await store.add_failure(PORTAL_B, Failure(id="f2", negotiation_id="502", reason="x",
                                              data=failed_command(PORTAL_B, "502")))
    nc = await nats.connect(ui_only.nats_url)
    try:
        js = nc.jetstream()
        before = (await js.stream_info("CRM_COMMAND")).state.messages
        async with httpx.AsyncClient(base_url=ui_only.public_url, timeout=30.0) as http:
            hdr = {"Authorization": f"Bearer {session_for(PORTAL_B, 3)}"}
            answers = await asyncio.gather(*(http.post("/api/failures/f1/retry", headers=hdr) for _ in range(15)))
            assert {r.status_code for r in answers} <= {202, 429}, [r.text for r in answers]
            assert all(r.json() == {"ok": True} for r in answers if r.status_code == 202)
            # Another failure of the portal is still retried once.
            other = {"Authorization": f"Bearer {session_for(PORTAL_B, 4)}"}
            assert (await http.post("/api/failures/f2/retry", headers=other)).status_code == 202
        assert (await js.stream_info("CRM_COMMAND")).state.messages - before == 2
    finally:
        await nc.close()
        await client.aclose()
