"""The HeadHunter gate against the HeadHunter emulator over real HTTP (and a real Redis for the ledger):
token invalidation on `DELETE /token` with the old path only on 404, and response or invitation decided once
from the evidence, in order, with a chats-API request only where the state cannot tell."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from rabota_common.crypto import Crypto
from rabota_common.hh_client import HhClient, HhError
from rabota_common.hh_session import _RECENT, TokenSource
from rabota_common.http import Http
from rabota_common.models import HhToken
from rabota_common.settings import Settings
from rabota_common.store import Store
from rabota_mapper.kind import decide_kind
from rabota_sandbox.hh import HHSandboxConfig, create_app
from rabota_stack.processes import free_port

UA = {"HH-User-Agent": "rabota-sync-tests/1.0 (dev@sandbox.by)"}
PORTAL = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"
CHAT_ROUTE = "GET /common/chats/{chat}/messages"


@dataclass
class Sandbox:
    url: str
    control: httpx.AsyncClient
    client: HhClient

    async def token(self) -> str:
        query = {"response_type": "code", "client_id": "sandbox-hh-client", "state": "s"}
        r = await self.control.post("/oauth/authorize", params=query,
                                    data={"login": "admin@sandbox.by", "decision": "approve"})
        code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
        return str((await self.client.exchange_code(code))["access_token"])

    async def routes(self) -> dict[str, int]:
        return dict((await self.control.get("/_sandbox/stats")).json()["by_route"])


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    port = free_port()
    app = create_app(HHSandboxConfig(negotiations=60, seed=1, knobs={"rate_limit_rps": None}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the sandbox did not start"
        await asyncio.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    settings = Settings(SANDBOX=True, HH_API_URL=url, HH_ALLOWED_HOSTS=f"127.0.0.1:{port}")
    http = Http(settings)
    try:
        async with httpx.AsyncClient(base_url=url, headers=UA) as control:
            yield Sandbox(url, control, HhClient(http, settings, retries=0))
    finally:
        await http.aclose()
        server.should_exit = True
        await task


async def test_revoke_calls_delete_token(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    token = await sandbox.token()
    await sandbox.control.post("/_sandbox/stats/reset")
    with caplog.at_level(logging.WARNING):
        await sandbox.client.revoke(token)
    assert (await sandbox.routes()) == {"DELETE /token": 1}
    assert not [r for r in caplog.records if "oauth/token" in r.getMessage()]
    with pytest.raises(HhError) as gone:
        await sandbox.client.me(token)
    assert gone.value.auth_lost


async def test_revoke_falls_back_to_the_old_path_only_on_404(sandbox: Sandbox,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    assert (await sandbox.control.put("/_sandbox/knobs", json={"old_invalidate_path_only": True})).status_code == 200
    token = await sandbox.token()
    await sandbox.control.post("/_sandbox/stats/reset")
    with caplog.at_level(logging.WARNING, logger="rabota_common.hh_client"):
        await sandbox.client.revoke(token)
    assert (await sandbox.routes()) == {"DELETE /token": 1, "DELETE /oauth/token": 1}
    said = [r for r in caplog.records if "DELETE /oauth/token" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    assert all(token not in r.getMessage() for r in caplog.records), "no token in the log"
    with pytest.raises(HhError) as gone:
        await sandbox.client.me(token)
    assert gone.value.auth_lost
    # Any other refusal is not a reason to try the old path: a token already gone is reported as it is.
    await sandbox.control.put("/_sandbox/knobs", json={"old_invalidate_path_only": False})
    await sandbox.control.post("/_sandbox/stats/reset")
    with pytest.raises(HhError) as again:
        await sandbox.client.revoke(token)
    assert again.value.status == 403 and await sandbox.routes() == {"DELETE /token": 1}


def _runtime(sandbox: Sandbox, redis_client: Any, token: str) -> Any:
    async def hh_token(portal: str, stale_token: str | None = None) -> HhToken:
        return HhToken(ok=True, access_token=token, employer_id="1000", manager_id="2001", is_admin=True)

    return SimpleNamespace(store=Store(redis_client, Crypto("k")), hh=sandbox.client, hh_token=hh_token,
                           hh_revoked=hh_token, log=logging.getLogger("test"))


async def test_kind_is_decided_from_the_evidence_and_kept(sandbox: Sandbox, redis_client: Any) -> None:
    _RECENT.clear()
    rt = _runtime(sandbox, redis_client, await sandbox.token())
    tokens = TokenSource(rt, PORTAL)
    seeded = (await sandbox.control.get("/_sandbox/negotiations")).json()
    moved_on = [n for n in seeded if n["kind"] == "invitation" and n["employer_state"] not in ("invitation",)]
    assert moved_on, "the seed has invitations that moved on"
    await sandbox.control.post("/_sandbox/stats/reset")
    for n in seeded:
        item = await tokens.call(rt.hh.negotiation, n["id"])
        assert await decide_kind(rt, tokens, PORTAL, n["id"], item, simple=True) == n["kind"], n
    routes = await sandbox.routes()
    asked = routes.get(CHAT_ROUTE, 0)
    not_response = sum(n["employer_state"] != "response" for n in seeded)
    assert asked == not_response, "the chat is read only where the state cannot tell"
    print(f"\n{len(seeded)} negotiations ({len(moved_on)} invitations moved on): {asked} chat requests")
    # Kept: a second decision asks nothing and answers the same.
    await sandbox.control.post("/_sandbox/stats/reset")
    for n in seeded:
        assert await decide_kind(rt, tokens, PORTAL, n["id"], {"id": n["id"]}, simple=True) == n["kind"]
    assert CHAT_ROUTE not in await sandbox.routes()


async def test_webhook_evidence_and_written_entities_are_never_overruled(sandbox: Sandbox, redis_client: Any) -> None:
    _RECENT.clear()
    rt = _runtime(sandbox, redis_client, await sandbox.token())
    tokens = TokenSource(rt, PORTAL)
    seeded = (await sandbox.control.get("/_sandbox/negotiations")).json()
    invitations = [n for n in seeded if n["kind"] == "invitation"]
    first, second, third = invitations[:3]
    # The NEW_NEGOTIATION_VACANCY webhook's decision (the poller's) stands.
    await rt.store.negotiation_kind(PORTAL, negotiation_id=first["id"], decide="response")
    item = await tokens.call(rt.hh.negotiation, first["id"])
    assert await decide_kind(rt, tokens, PORTAL, first["id"], item, simple=True) == "response"
    # An entity written by the previous version keeps the kind it shows (simple mode: its status).
    await rt.store.set_entity(PORTAL, second["id"], "1:5:response:0")
    item = await tokens.call(rt.hh.negotiation, second["id"])
    assert await decide_kind(rt, tokens, PORTAL, second["id"], item, simple=True) == "response"
    assert await rt.store.negotiation_kind(PORTAL, negotiation_id=second["id"]) == "response"
    # In extended mode a written `response` is the stage family, not the kind: the evidence decides.
    await rt.store.set_entity(PORTAL, third["id"], "1:6:response:0")
    item = await tokens.call(rt.hh.negotiation, third["id"])
    assert await decide_kind(rt, tokens, PORTAL, third["id"], item, simple=False) == "invitation"
    # A chat this account may not read is no evidence, never a failure: source and state decide.
    item = dict(item, chat_id="1", source="AUTO_INVITE")
    fresh = str(int(seeded[-1]["id"]) + 1000)
    assert await decide_kind(rt, tokens, PORTAL, fresh, item, simple=True) == "invitation"
    item = dict(item, chat_id=None, source="NEGOTIATION", created_at="2026-11-01T10:00:00+0300",
                updated_at="2026-11-01T10:00:00+0300")
    fresh2 = str(int(fresh) + 1)
    assert await decide_kind(rt, tokens, PORTAL, fresh2, item, simple=True) == "invitation"
    # The ledger's kind goes with the portal's other sync state.
    assert rt.store.key(PORTAL, "ledger", "kind") in await rt.store.portal_keys(PORTAL)
    await rt.store.reset_sync_state(PORTAL)
    assert await rt.store.negotiation_kind(PORTAL, negotiation_id=first["id"]) is None


async def test_a_response_only_webhook_is_kept_as_evidence_without_a_request(redis_client: Any) -> None:
    """NEW_NEGOTIATION_VACANCY fires only for responses: the poller keeps that in the ledger and asks HeadHunter
    nothing (the negotiation comes with NEW_RESPONSE_OR_INVITATION_VACANCY, which every response fires too)."""
    from rabota_common.models import HhWebhookEvent
    from rabota_poller.handlers import RESPONSE_ONLY_ACTION, WEBHOOK_ACTIONS, expand_webhook

    assert RESPONSE_ONLY_ACTION in WEBHOOK_ACTIONS and "NEW_RESPONSE_OR_INVITATION_VACANCY" in WEBHOOK_ACTIONS
    store = Store(redis_client, Crypto("k"))
    rt = SimpleNamespace(store=store, log=logging.getLogger("test"))  # no HeadHunter client: none may be used
    event = HhWebhookEvent.model_validate({
        "id": "901", "subscription_id": "5", "action_type": RESPONSE_ONLY_ACTION, "user_id": "3001",
        "payload": {"topic_id": "777", "vacancy_id": "90000001", "resume_id": None, "employer_id": "1000",
                    "negotiation_date": "2026-12-01T10:00:00+0300"}})
    await expand_webhook(rt, PORTAL, event)
    assert await store.negotiation_kind(PORTAL, negotiation_id="777") == "response"
    # A later decision never flips it.
    assert await store.negotiation_kind(PORTAL, negotiation_id="777", decide="invitation") == "response"
