"""Contract tests of the HeadHunter emulator for the 2025–2026 API (api-changes H1, H4, H8): the chats API's
messages of a negotiation's chat, `DELETE /token` (and a server that knows only the old path), the `source`
of negotiations."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx

from tests.contract.test_hh_sandbox import assert_hh_error, bearer, hh, login_tokens, make_client

__all__ = ["hh"]  # the fixture, used by name


async def _negotiation(hh: httpx.AsyncClient, h: dict[str, str], nid: str) -> dict[str, Any]:
    r = await hh.get(f"/negotiations/{nid}", headers=h)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_chat_messages_of_a_negotiation(hh: httpx.AsyncClient) -> None:
    h = await bearer(hh)
    listed = (await hh.get("/_sandbox/negotiations")).json()
    invitation = next(n for n in listed if n["kind"] == "invitation" and n["source"] == "NEGOTIATION")
    neg = await _negotiation(hh, h, invitation["id"])
    r = await hh.get(f"/common/chats/{neg['chat_id']}/messages", headers=h, params={"order": "next", "limit": 5})
    assert r.status_code == 200, r.text
    assert r.headers["X-Request-Id"]
    body = r.json()
    # ChatsCommonMessagesResponse: every required field.
    for field in ("id", "display", "creation_time", "unread_message_count", "muted", "block_reason", "type",
                  "has_more", "messages", "chat_states"):
        assert field in body, field
    assert body["type"] == "NEGOTIATION" and body["id"] == str(neg["chat_id"]) and body["has_more"] is False
    for m in body["messages"]:  # ChatsCommonMessage: every required field
        for field in ("id", "creation_time", "last_change_time", "can_edit", "sender_participant_id",
                      "sender_display_info", "type", "payload", "viewed_by_opponent"):
            assert field in m, field
        assert m["type"] in ("SIMPLE", "PARTICIPANT_LEFT", "PARTICIPANT_JOINED")
        assert m["sender_display_info"]["role"] in ("APPLICANT", "EMPLOYER", "BOT", None)
    simple = [m for m in body["messages"] if m["type"] == "SIMPLE"]
    assert simple[0]["sender_display_info"]["role"] == "EMPLOYER" == invitation["chat_first_role"]
    # limit and order page the list; has_more says whether more follow.
    first = (await hh.get(f"/common/chats/{neg['chat_id']}/messages", headers=h,
                          params={"order": "next", "limit": 1})).json()
    assert len(first["messages"]) == 1 and first["has_more"] is True
    assert first["messages"][0]["id"] == body["messages"][0]["id"]


async def test_chat_first_roles_follow_who_started(hh: httpx.AsyncClient) -> None:
    h = await bearer(hh)
    roles: Counter[tuple[str, str, str | None]] = Counter()
    for n in (await hh.get("/_sandbox/negotiations")).json():
        neg = await _negotiation(hh, h, n["id"])
        body = (await hh.get(f"/common/chats/{neg['chat_id']}/messages", headers=h)).json()
        simple = [m for m in body["messages"] if m["type"] == "SIMPLE"]
        role = simple[0]["sender_display_info"]["role"] if simple else None
        assert role == n["chat_first_role"]
        assert neg["source"] == n["source"]
        roles[(n["kind"], n["source"], role)] += 1
    kinds = {(kind, role) for kind, _, role in roles}
    assert ("invitation", "EMPLOYER") in kinds and ("response", "APPLICANT") in kinds
    assert ("response", None) in kinds, "some responses have an empty chat (no letter)"
    assert ("invitation", "AUTO_INVITE", "BOT") in roles, "auto-invites are opened by HeadHunter's bot"
    assert {s for _, s, _ in roles} >= {"NEGOTIATION", "AUTO_INVITE", "AUTO_RESPONSE"}
    assert not {(k, r) for k, r in kinds if (k, r) in (("invitation", "APPLICANT"), ("response", "EMPLOYER"))}
    moved = [n for n in (await hh.get("/_sandbox/negotiations")).json()
             if n["kind"] == "invitation" and n["employer_state"] not in ("response", "invitation")]
    assert moved, "the seed has invitations that moved on (e.g. to consider)"


async def test_chat_errors(hh: httpx.AsyncClient) -> None:
    h = await bearer(hh)
    neg = await _negotiation(hh, h, (await hh.get("/_sandbox/negotiations")).json()[0]["id"])
    url = f"/common/chats/{neg['chat_id']}/messages"
    assert_hh_error(await hh.get(url), 403, "oauth", "bad_authorization")
    assert_hh_error(await hh.get("/common/chats/1/messages", headers=h), 404, "chats", "chat_not_found")
    assert_hh_error(await hh.get("/common/chats/abc/messages", headers=h), 404, "chats", "chat_not_found")
    assert_hh_error(await hh.get(url, headers=h, params={"order": "sideways"}), 400, "bad_argument", "order")
    assert_hh_error(await hh.get(url, headers=h, params={"limit": "0"}), 400, "bad_argument", "limit")
    assert_hh_error(await hh.get(url, headers=h, params={"start_message_id": "9"}), 400, "bad_argument",
                    "start_message_id")
    # A manager who does not see the vacancy does not see its chat either.
    state = (await hh.get("/_sandbox/state")).json()
    manager_id = next(u["manager_id"] for u in state["users"] if u["login"] == "manager@sandbox.by")
    theirs = {v["id"] for v in state["vacancies"] if v["manager_id"] != manager_id}
    other = next(n for n in (await hh.get("/_sandbox/negotiations")).json() if n["vacancy_id"] in theirs)
    chat = (await _negotiation(hh, h, other["id"]))["chat_id"]
    r = await hh.get(f"/common/chats/{chat}/messages", headers=await bearer(hh, "manager@sandbox.by"))
    assert_hh_error(r, 404, "chats", "chat_not_found")


async def test_created_negotiations_take_a_source(hh: httpx.AsyncClient) -> None:
    r = await hh.post("/_sandbox/negotiations", json={"kind": "invitation", "source": "AUTO_INVITE"})
    assert r.status_code == 201, r.text
    assert (r.json()["source"], r.json()["chat_first_role"], r.json()["employer_state"]) == (
        "AUTO_INVITE", "BOT", "consider")
    r = await hh.post("/_sandbox/negotiations", json={"kind": "response", "source": "AUTO_INVITE"})
    assert r.status_code == 400, r.text
    r = await hh.post("/_sandbox/negotiations", json={"kind": "response", "source": "AUTO_RESPONSE_HH_PRO"})
    assert r.status_code == 201 and r.json()["source"] == "AUTO_RESPONSE_HH_PRO"


async def test_delete_token_and_the_old_path_only_knob() -> None:
    async with make_client() as hh:
        h = {"Authorization": f"Bearer {(await login_tokens(hh))['access_token']}"}
        assert (await hh.delete("/token", headers=h)).status_code == 204
        assert_hh_error(await hh.get("/me", headers=h), 403, "oauth", "token_revoked")
        assert (await hh.put("/_sandbox/knobs", json={"old_invalidate_path_only": "yes"})).status_code == 400
        assert (await hh.put("/_sandbox/knobs", json={"old_invalidate_path_only": True})).status_code == 200
        h = {"Authorization": f"Bearer {(await login_tokens(hh))['access_token']}"}
        assert_hh_error(await hh.delete("/token", headers=h), 404, "not_found")
        assert (await hh.get("/me", headers=h)).status_code == 200, "a 404 leaves the token alone"
        assert (await hh.delete("/oauth/token", headers=h)).status_code == 204
        assert_hh_error(await hh.get("/me", headers=h), 403, "oauth", "token_revoked")
