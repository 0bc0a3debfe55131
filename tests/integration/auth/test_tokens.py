"""The token broker (rabota_auth.tokens) against a real Redis and NATS, with Bitrix24's and HeadHunter's OAuth
servers replaced by scripted fakes: tokens handed out while valid, one refresh for a stale or expired token, a
refused refresh pauses (PAYMENT_REQUIRED) or deactivates the portal, HeadHunter revocation is checked once, and
a connect refuses non-employers and accounts connected to another portal."""

from __future__ import annotations

import json
import time
from typing import Any

from rabota_auth import tokens
from rabota_common import subjects
from rabota_common.b24_client import B24Error
from rabota_common.hh_client import HhError, HhOAuthError
from rabota_common.models import AppEvent, HhConnectRequest, TokenRequest
from rabota_common.runtime import Runtime
from rabota_common.store import HhAccount, PortalRecord

P1 = "f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1"  # member_ids
P2 = "f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2"


class FakeB24:
    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.refreshed: list[str] = []

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        self.refreshed.append(refresh_token)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return dict(answer)


class FakeHh:
    def __init__(self, me: dict[str, Any] | None = None, refresh: Any = None, me_error: HhError | None = None) -> None:
        self.me_answer = me or {}
        self.refresh_answer = refresh
        self.me_error = me_error
        self.calls: list[str] = []

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        self.calls.append(f"refresh {refresh_token}")
        if isinstance(self.refresh_answer, BaseException):
            raise self.refresh_answer
        return dict(self.refresh_answer)

    async def me(self, access_token: str) -> dict[str, Any]:
        self.calls.append(f"me {access_token}")
        if self.me_error is not None:
            raise self.me_error
        return self.me_answer

    async def exchange_code(self, code: str) -> dict[str, Any]:
        self.calls.append(f"exchange {code}")
        return {"access_token": f"acc-{code}", "refresh_token": f"ref-{code}", "expires_in": 1209600}

    async def revoke(self, access_token: str) -> None:
        self.calls.append(f"revoke {access_token}")

    async def unsubscribe(self, access_token: str, subscription_id: str) -> None:
        self.calls.append(f"unsubscribe {subscription_id}")


async def portal(rt: Runtime, **over: Any) -> None:
    record = dict(member_id=P1, domain="demo.bitrix24.by", client_endpoint="https://demo.bitrix24.by/rest/",
                  access_token="a1", refresh_token="r1", expires_at=time.time() + 3600)
    record.update(over)
    await rt.store.save_portal(PortalRecord(**record))


async def last_event(rt: Runtime, event: str, portal_id: str) -> AppEvent | None:
    name = subjects.subject(subjects.APP_EVENT, event=event, portal=portal_id)
    try:
        msg = await rt.broker.connection.jetstream().get_last_msg(subjects.stream_of(name), name)
    except Exception:
        return None
    return AppEvent.model_validate(json.loads(msg.data or b"{}"))


async def test_a_valid_token_is_handed_out_and_a_stale_one_refreshed_once(bus_rt: Runtime) -> None:
    await portal(bus_rt)
    b24 = FakeB24({"access_token": "a2", "refresh_token": "r2", "expires_in": 3600})
    bus_rt.b24 = b24  # type: ignore[assignment]
    assert (await tokens.b24_token(bus_rt, TokenRequest(portal=P1))).access_token == "a1"
    assert (await tokens.b24_token(bus_rt, TokenRequest(portal=P1, stale_token="older"))).access_token == "a1"
    fresh = await tokens.b24_token(bus_rt, TokenRequest(portal=P1, stale_token="a1"))
    assert fresh.ok and fresh.access_token == "a2" and b24.refreshed == ["r1"]
    # A second caller holding the same stale token gets the new one without another refresh.
    assert (await tokens.b24_token(bus_rt, TokenRequest(portal=P1, stale_token="a1"))).access_token == "a2"
    stored = await bus_rt.store.get_portal(P1)
    assert stored is not None and (stored.access_token, stored.refresh_token) == ("a2", "r2")
    assert b24.refreshed == ["r1"]


async def test_unknown_inactive_and_expired_portals(bus_rt: Runtime) -> None:
    assert (await tokens.b24_token(bus_rt, TokenRequest(portal=P2))).error == "unknown_portal"
    await portal(bus_rt, status="inactive", status_reason="uninstalled")
    assert (await tokens.b24_token(bus_rt, TokenRequest(portal=P1))).error == "inactive: uninstalled"
    await portal(bus_rt, expires_at=time.time() - 1)
    bus_rt.b24 = FakeB24({"access_token": "a3", "refresh_token": "r3"})  # type: ignore[assignment]
    assert (await tokens.b24_token(bus_rt, TokenRequest(portal=P1))).access_token == "a3"


async def test_a_refresh_answering_another_portal_is_never_stored(bus_rt: Runtime) -> None:
    await portal(bus_rt, expires_at=time.time() - 1)
    bus_rt.b24 = FakeB24({"access_token": "x", "refresh_token": "y", "member_id": P2})  # type: ignore[assignment]
    assert (await tokens.b24_token(bus_rt, TokenRequest(portal=P1))).error == "transient"
    stored = await bus_rt.store.get_portal(P1)
    assert stored is not None and stored.access_token == "a1" and stored.refresh_token == "r1"


async def test_payment_required_pauses_until_a_probe_succeeds(bus_rt: Runtime) -> None:
    await portal(bus_rt, expires_at=time.time() - 1)
    b24 = FakeB24(B24Error(401, "PAYMENT_REQUIRED", "subscription ended"),
                  {"access_token": "a9", "refresh_token": "r9"})
    bus_rt.b24 = b24  # type: ignore[assignment]
    assert (await tokens.b24_token(bus_rt, TokenRequest(portal=P1))).error == "paused: PAYMENT_REQUIRED"
    # Paused: no request to Bitrix24 until the probe time.
    assert (await tokens.b24_token(bus_rt, TokenRequest(portal=P1))).error == "paused: PAYMENT_REQUIRED"
    assert len(b24.refreshed) == 1
    stored = await bus_rt.store.get_portal(P1)
    assert stored is not None and stored.paused == "PAYMENT_REQUIRED" and stored.status == "active"
    await bus_rt.store.update_portal(P1, probe_at=time.time() - 1)  # the probe is due
    assert (await tokens.b24_token(bus_rt, TokenRequest(portal=P1))).access_token == "a9"
    stored = await bus_rt.store.get_portal(P1)
    assert stored is not None and not stored.paused
    resumed = await last_event(bus_rt, "b24_resumed", P1)
    assert resumed is not None and resumed.data == {"reason": "PAYMENT_REQUIRED"}


async def test_a_refused_refresh_deactivates_and_a_transient_one_does_not(bus_rt: Runtime) -> None:
    await portal(bus_rt, expires_at=time.time() - 1)
    bus_rt.b24 = FakeB24(B24Error(503, "INTERNAL_SERVER_ERROR", ""),  # type: ignore[assignment]
                         B24Error(401, "invalid_grant", "refresh token expired"))
    assert (await tokens.b24_token(bus_rt, TokenRequest(portal=P1))).error == "transient"
    assert (await tokens.b24_token(bus_rt, TokenRequest(portal=P1))).error == "inactive: invalid_grant"
    stored = await bus_rt.store.get_portal(P1)
    assert stored is not None and stored.status == "inactive" and "переустановка" in stored.status_reason


def account(**over: Any) -> HhAccount:
    fields: dict[str, Any] = dict(access_token="h1", refresh_token="hr1", expires_at=time.time() + 3600,
                                  user_id="u1", employer_id="e1", subscription_id="s1")
    fields.update(over)
    return HhAccount(**fields)


async def test_hh_token_refreshes_once_and_a_refused_refresh_asks_for_a_relogin(bus_rt: Runtime) -> None:
    assert (await tokens.hh_token(bus_rt, TokenRequest(portal=P1))).error == "not_connected"
    await bus_rt.store.save_hh(P1, account())
    hh = FakeHh(refresh={"access_token": "h2", "refresh_token": "hr2"})
    bus_rt.hh = hh  # type: ignore[assignment]
    assert (await tokens.hh_token(bus_rt, TokenRequest(portal=P1))).access_token == "h1"
    assert (await tokens.hh_token(bus_rt, TokenRequest(portal=P1, stale_token="h1"))).access_token == "h2"
    assert (await tokens.hh_token(bus_rt, TokenRequest(portal=P1, stale_token="h1"))).access_token == "h2"
    assert hh.calls == ["refresh hr1"]
    hh.refresh_answer = HhOAuthError(400, "invalid_grant", "token was revoked")
    assert (await tokens.hh_token(bus_rt, TokenRequest(portal=P1, stale_token="h2"))).error == "relogin_required"
    stored = await bus_rt.store.get_hh(P1)
    assert stored is not None and stored.relogin_required
    assert (await last_event(bus_rt, "hh_revoked", P1)) is not None


async def test_hh_revoked_is_checked_with_me_before_logging_out(bus_rt: Runtime) -> None:
    await bus_rt.store.save_hh(P1, account())
    hh = FakeHh(me_error=HhError(503, [], None))
    bus_rt.hh = hh  # type: ignore[assignment]
    assert (await tokens.hh_revoked(bus_rt, TokenRequest(portal=P1, stale_token="h1"))).error == "transient"
    assert (await tokens.hh_revoked(bus_rt, TokenRequest(portal=P1, stale_token="older"))).access_token == "h1"
    hh.me_error = None  # a stray 403: the token works
    assert (await tokens.hh_revoked(bus_rt, TokenRequest(portal=P1, stale_token="h1"))).ok
    hh.me_error = HhError(403, [{"type": "oauth", "value": "token_revoked"}], None)
    assert (await tokens.hh_revoked(bus_rt, TokenRequest(portal=P1, stale_token="h1"))).error == "relogin_required"
    stored = await bus_rt.store.get_hh(P1)
    assert stored is not None and stored.relogin_required


EMPLOYER_ME = {"id": "u7", "is_employer": True, "first_name": "Анна", "last_name": "Смирнова",
               "employer": {"id": "e7", "name": "ООО Ромашка"}, "manager": {"id": "m7", "has_admin_rights": True}}


async def test_connect_saves_the_employer_and_refuses_others(bus_rt: Runtime) -> None:
    await portal(bus_rt)  # connected from an installed portal (the ui's page)
    bus_rt.hh = FakeHh(me={"id": "u8", "is_employer": False})  # type: ignore[assignment]
    reply = await tokens.hh_connect(bus_rt, HhConnectRequest(portal=P1, code="c1"))
    assert reply.error == "not_employer" and "работодателя" in (reply.message or "")
    assert await bus_rt.store.get_hh(P1) is None
    hh = FakeHh(me=EMPLOYER_ME)
    bus_rt.hh = hh  # type: ignore[assignment]
    reply = await tokens.hh_connect(bus_rt, HhConnectRequest(portal=P1, code="c2"))
    assert reply.ok and reply.employer_name == "ООО Ромашка" and reply.manager_name == "Смирнова Анна"
    stored = await bus_rt.store.get_hh(P1)
    assert stored is not None and (stored.access_token, stored.employer_id, stored.manager_id, stored.is_admin) == (
        "acc-c2", "e7", "m7", True)
    connected = await last_event(bus_rt, "hh_connected", P1)
    assert connected is not None and connected.data == {"relogin": False, "switched": False}
    # The same HeadHunter user on another portal is refused there.
    await portal(bus_rt, member_id=P2, domain="other.bitrix24.by", client_endpoint="https://other.bitrix24.by/rest/")
    taken = await tokens.hh_connect(bus_rt, HhConnectRequest(portal=P2, code="c3"))
    assert taken.error == "account_taken" and await bus_rt.store.get_hh(P2) is None


async def test_connect_from_a_portal_removed_meanwhile_is_refused_and_writes_nothing(bus_rt: Runtime) -> None:
    bus_rt.hh = FakeHh(me=EMPLOYER_ME)  # type: ignore[assignment]
    reply = await tokens.hh_connect(bus_rt, HhConnectRequest(portal=P2, code="c4"))
    assert reply.error == "unknown_portal" and "Установите" in (reply.message or "")
    assert await bus_rt.store.get_portal(P2) is None and await bus_rt.store.get_hh(P2) is None


async def test_logout_unsubscribes_revokes_and_forgets(bus_rt: Runtime) -> None:
    await bus_rt.store.save_hh(P1, account())
    hh = FakeHh()
    bus_rt.hh = hh  # type: ignore[assignment]
    assert (await tokens.hh_logout(bus_rt, TokenRequest(portal=P1))).ok
    assert hh.calls == ["unsubscribe s1", "revoke h1"]
    assert await bus_rt.store.get_hh(P1) is None and await bus_rt.store.last_hh(P1) == ("u1", "e1")
    assert (await tokens.hh_logout(bus_rt, TokenRequest(portal=P1))).ok  # nothing connected: still fine
