"""What a portal user may see of the app's entities: an administrator everything; anyone else what the portal
lists under the user's own token (`crm.item.list` by id, at most 50 a command), an ACCESS_DENIED type as none;
an ended session or a refusing portal answers with the matching error (a real Redis; Bitrix24 scripted)."""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace
from typing import Any

import pytest
from rabota_common.b24_client import B24Error, BatchResult
from rabota_common.crypto import TOKENS, Crypto
from rabota_common.entity_ref import EntityRef
from rabota_common.store import PortalRecord, Store
from rabota_ui.deps import Session
from rabota_ui.errors import ApiError
from rabota_ui.visibility import list_commands, listed, readable

PORTAL = "b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8"  # a member_id


def test_commands_name_each_entity_once_fifty_a_command() -> None:
    refs = [EntityRef(2, n) for n in range(1, 121)] + [EntityRef(1, 7), EntityRef(1, 7), EntityRef(0, 9)]
    cmds = list_commands(refs)
    assert list(cmds) == ["t1_0", "t2_0", "t2_1", "t2_2"]  # the unknown type is no one's to list
    assert cmds["t1_0"] == ("crm.item.list", {"entityTypeId": 1, "filter": {"@id": [7]}, "select": ["id"]})
    assert [len(cmds[k][1]["filter"]["@id"]) for k in ("t2_0", "t2_1", "t2_2")] == [50, 50, 20]
    assert listed("t1038_0", {"items": [{"id": 5}, {"id": "6"}, {"id": "x"}, "junk"]}) == {
        EntityRef(1038, 5), EntityRef(1038, 6)}
    assert listed("t2_0", []) == set()


class FakeB24:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.tokens: list[str] = []

    async def batch(self, endpoint: str, token: str, cmds: Any, halt: bool = False) -> BatchResult:
        self.tokens.append(token)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return BatchResult({"result": self.answer})


@pytest.fixture
async def rt(redis_client: Any) -> Any:
    store = Store(redis_client, Crypto("k"))
    await store.save_portal(PortalRecord(member_id=PORTAL, domain="d", client_endpoint="https://d.bitrix24.by/rest/"))
    return SimpleNamespace(store=store, crypto=Crypto("k"), log=logging.getLogger("test"))


def user(rt: Any, token: str = "user-token", expires_at: float | None = None) -> Session:
    return Session(portal=PORTAL, user_id=5, user_token=rt.crypto.encrypt(token, TOKENS),
                   user_token_expires_at=time.time() + 600 if expires_at is None else expires_at)


WANTED = {EntityRef(1, 7), EntityRef(2, 8), EntityRef(2, 9), EntityRef(1038, 3)}


async def test_an_administrator_sees_everything_without_a_request(rt: Any) -> None:
    rt.b24 = FakeB24(AssertionError("no request expected"))
    assert await readable(rt, Session(portal=PORTAL, user_id=1, is_admin=True), WANTED) == WANTED


async def test_a_user_sees_what_the_portal_lists_under_their_token(rt: Any) -> None:
    rt.b24 = FakeB24({"result": {"t1_0": {"items": [{"id": 7}]}, "t2_0": {"items": [{"id": 9}, {"id": 99}]}},
                      "result_error": {"t1038_0": {"error": "ACCESS_DENIED"}}})
    assert await readable(rt, user(rt), WANTED) == {EntityRef(1, 7), EntityRef(2, 9)}  # 99 was not asked for
    assert rt.b24.tokens == ["user-token"]


@pytest.mark.parametrize(("answer", "status", "error"), [
    (B24Error(401, "expired_token", ""), 401, "session_ended"),
    (B24Error(503, "QUERY_LIMIT_EXCEEDED", ""), 503, "portal_unavailable"),
    (B24Error(400, "SOMETHING", ""), 502, "portal_error"),
    ({"result": {}, "result_error": {"t1_0": {"error": "INTERNAL_ERROR"}}}, 502, "portal_error"),
])
async def test_a_refusing_portal(rt: Any, answer: Any, status: int, error: str) -> None:
    rt.b24 = FakeB24(answer)
    with pytest.raises(ApiError) as caught:
        await readable(rt, user(rt), WANTED)
    assert (caught.value.status, caught.value.error) == (status, error)


async def test_an_ended_or_unreadable_user_token_ends_the_session(rt: Any) -> None:
    rt.b24 = FakeB24(AssertionError("no request expected"))
    for session in (user(rt, expires_at=time.time() - 1), Session(portal=PORTAL, user_id=5),
                    Session(portal=PORTAL, user_id=5, user_token="garbage", user_token_expires_at=time.time() + 60)):
        with pytest.raises(ApiError) as caught:
            await readable(rt, session, WANTED)
        assert (caught.value.status, caught.value.error) == (401, "session_ended")
