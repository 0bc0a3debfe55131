"""Contract tests of the HeadHunter emulator's chats (`/common/chats`, the newer spec's «Чаты» tag, seen in
andy87/php-client-headhunter `src/Generated/{Provider,Prompt,Schema}/Chats*`) and chat webhook subscriptions."""

from __future__ import annotations

import uuid

import httpx

from tests.contract.test_hh_sandbox import assert_hh_error, bearer, make_client

ACTIONS = [{"type": "NEW_RESPONSE_OR_INVITATION_VACANCY", "settings": {"vacancies_only_mine": False}}]


async def _chat(c: httpx.AsyncClient) -> str:
    negotiations = (await c.get("/_sandbox/negotiations")).json()
    return str(negotiations[0]["chat_id"])


async def test_chat_actions_take_no_settings_and_put_replaces_the_list() -> None:
    async with make_client(negotiations=4) as c:
        auth = await bearer(c)
        url = "http://127.0.0.1:9/hook"
        with_settings = {"type": "CHAT_MESSAGE_CREATED", "settings": {"vacancies_only_mine": False}}
        body = {"url": url, "actions": [*ACTIONS, with_settings]}
        r = await c.post("/webhook/subscriptions", headers=auth, json=body)
        assert_hh_error(r, 400, "bad_argument", "actions")
        r = await c.post("/webhook/subscriptions", headers=auth,
                         json={"url": url, "actions": [*ACTIONS, {"type": "CHAT_MESSAGE_CREATED"}]})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        r = await c.put(f"/webhook/subscriptions/{sid}", headers=auth, json={"actions": [{"type": "CHAT_CREATED"}]})
        assert r.status_code == 204
        items = (await c.get("/webhook/subscriptions", headers=auth)).json()["items"]
        assert [a["type"] for a in items[0]["actions"]] == ["CHAT_CREATED"]  # replaced, not merged


async def test_messages_post_read_and_write_possibility() -> None:
    async with make_client(negotiations=4) as c:
        auth = await bearer(c)
        chat = await _chat(c)
        r = await c.post(f"/_sandbox/chats/{chat}/messages", json={"role": "APPLICANT", "text": "Здравствуйте"})
        assert r.status_code == 201
        first = r.json()["id"]
        r = await c.get(f"/common/chats/{chat}/messages", headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        assert {"id", "display", "creation_time", "unread_message_count", "muted", "block_reason", "type",
                "has_more", "messages", "chat_states"} <= set(body)
        assert body["type"] == "NEGOTIATION" and body["unread_message_count"] == 1
        assert body["chat_states"]["write_possibility"]["name"] == "ENABLED_FOR_ALL"
        msg = body["messages"][-1]  # after the negotiation's head (its letter or invitation, already read)
        assert msg["payload"]["text"] == "Здравствуйте"
        assert msg["sender_display_info"]["role"] == "APPLICANT"
        assert msg["sender_display_info"]["is_current_participant"] is False

        key = str(uuid.uuid4())
        r = await c.post(f"/common/chats/{chat}/messages", headers=auth,
                         json={"text": "Добрый день", "idempotency_key": key})
        assert r.status_code == 201, r.text
        again = await c.post(f"/common/chats/{chat}/messages", headers=auth,
                             json={"text": "Добрый день", "idempotency_key": key})
        assert again.json()["id"] == r.json()["id"]
        other = await c.post(f"/common/chats/{chat}/messages", headers=auth,
                             json={"text": "Другое", "idempotency_key": key})
        assert_hh_error(other, 400, "chats", "idempotency_key_conflict")
        chat_now = (await c.get(f"/_sandbox/chats/{chat}")).json()
        assert [m["text"] for m in chat_now["messages"]][-2:] == ["Здравствуйте", "Добрый день"]

        for bad, value in (({"text": "x"}, "idempotency_key"), ({"text": "x", "idempotency_key": "nope"},
                                                                 "idempotency_key"),
                           ({"text": "x", "idempotency_key": key, "extra": 1}, "extra")):
            assert_hh_error(await c.post(f"/common/chats/{chat}/messages", headers=auth, json=bad), 400,
                            "bad_argument", value)
        too_long = {"text": "x" * 4097, "idempotency_key": str(uuid.uuid4())}
        assert_hh_error(await c.post(f"/common/chats/{chat}/messages", headers=auth, json=too_long), 400,
                        "chats", "too_long_message")
        form = await c.post(f"/common/chats/{chat}/messages", headers=auth, data={"text": "x"})
        assert_hh_error(form, 400, "bad_argument", "body")

        r = await c.put(f"/common/chats/{chat}/message/{first}/read", headers=auth)
        assert r.status_code == 204
        assert (await c.get(f"/common/chats/{chat}/messages", headers=auth)).json()["unread_message_count"] == 0

        await c.put(f"/_sandbox/chats/{chat}/employer-write", json={"allowed": False})
        refused = await c.post(f"/common/chats/{chat}/messages", headers=auth,
                               json={"text": "Ещё", "idempotency_key": str(uuid.uuid4())})
        assert_hh_error(refused, 403, "chats", "write_disabled")
        r = await c.put(f"/common/chats/{chat}/write_possibility", headers=auth,
                        json={"applicant_write_possibility": "no"})
        assert_hh_error(r, 400, "bad_argument", "applicant_write_possibility")


async def test_message_paging_and_unknown_chats() -> None:
    async with make_client(negotiations=4) as c:
        auth = await bearer(c)
        chat = await _chat(c)
        ids = [(await c.post(f"/_sandbox/chats/{chat}/messages", json={"text": f"m{i}"})).json()["id"]
               for i in range(5)]
        r = await c.get(f"/common/chats/{chat}/messages", headers=auth,
                        params={"start_message_id": ids[1], "limit": 2, "order": "next"})
        assert [m["id"] for m in r.json()["messages"]] == ids[1:3] and r.json()["has_more"] is True
        r = await c.get(f"/common/chats/{chat}/messages", headers=auth, params={"limit": 2})
        assert [m["id"] for m in r.json()["messages"]] == ids[3:] and r.json()["has_more"] is True
        assert_hh_error(await c.get(f"/common/chats/{chat}/messages", headers=auth, params={"limit": 0}), 400,
                        "bad_argument", "limit")
        assert_hh_error(await c.get("/common/chats/123/messages", headers=auth), 404, "chats", "chat_not_found")
        listed = (await c.get("/common/chats", headers=auth, params={"filter_unread": "true"})).json()
        assert [x["id"] for x in listed["items"]] == [chat]
        assert_hh_error(await c.get("/common/chats", headers=auth, params={"filter_unread": "yes"}), 400,
                        "bad_argument", "filter_unread")
