"""Response or invitation decided once per negotiation (against a real Redis; HeadHunter's chats API scripted):
the kept decision wins, then what an entity written before shows, then the evidence, in the documented order;
a chat HeadHunter will not show is no reason to fail."""

from __future__ import annotations

import logging
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from rabota_common.crypto import Crypto
from rabota_common.entity_ref import EntityRef, LedgerRef
from rabota_common.hh_client import HhError
from rabota_common.hh_session import TokenSource
from rabota_common.models import HhToken
from rabota_common.store import Store
from rabota_mapper.kind import decide_kind

EMPLOYER_FIRST = [{"id": "1", "type": "SIMPLE", "sender_display_info": {"role": "EMPLOYER"}, "payload": {}}]


class FakeHh:
    def __init__(self, chat: Any) -> None:
        self.chat = chat
        self.asked = 0

    async def chat_first_messages(self, token: str, chat_id: str, limit: int) -> list[Any]:
        self.asked += 1
        if isinstance(self.chat, BaseException):
            raise self.chat
        return list(self.chat)


@pytest.fixture
def store(redis_client: Any) -> Store:
    return Store(redis_client, Crypto("k"))


def runtime(store: Store, hh: FakeHh) -> tuple[Any, TokenSource]:
    async def hh_token(portal: str, stale_token: str | None = None) -> HhToken:
        return HhToken(ok=True, access_token="t")

    rt: Any = SimpleNamespace(store=store, hh=hh, hh_token=hh_token, log=logging.getLogger("test"))
    return rt, TokenSource(rt, uuid.uuid4().hex)


def negotiation(state: str, **over: Any) -> dict[str, Any]:
    return {"id": "5", "employer_state": {"id": state}, "chat_id": 4000, "source": "NEGOTIATION",
            "created_at": "2026-11-01T10:00:00+0300", "updated_at": "2026-11-03T10:00:00+0300", **over}


async def test_the_evidence_in_order_and_the_decision_kept(store: Store) -> None:
    portal = uuid.uuid4().hex
    hh = FakeHh(EMPLOYER_FIRST)
    rt, tokens = runtime(store, hh)
    assert await decide_kind(rt, tokens, portal, "1", negotiation("response"), simple=True) == "response"
    assert hh.asked == 0  # the response state says it all
    assert await decide_kind(rt, tokens, portal, "2", negotiation("consider"), simple=True) == "invitation"
    assert hh.asked == 1  # the employer wrote first
    hh.chat = []  # no chat content: the source, then the state
    assert await decide_kind(rt, tokens, portal, "3", negotiation("consider", source="AUTO_INVITE"), True) == (
        "invitation")
    assert await decide_kind(rt, tokens, portal, "4", negotiation("consider"), simple=True) == "response"
    # Kept: new evidence never flips it.
    hh.chat = EMPLOYER_FIRST
    assert await decide_kind(rt, tokens, portal, "4", negotiation("consider"), simple=True) == "response"
    assert await store.negotiation_kind(portal, negotiation_id="4") == "response"


async def test_an_entity_written_before_keeps_its_kind(store: Store) -> None:
    portal = uuid.uuid4().hex
    rt, tokens = runtime(store, FakeHh(EMPLOYER_FIRST))
    await store.set_entity(portal, "6", LedgerRef(EntityRef(1, 60), "response", 1))
    assert await decide_kind(rt, tokens, portal, "6", negotiation("consider"), simple=True) == "response"
    # In extended mode the written state is the stage family, which an unmoved invitation shares: the evidence.
    await store.set_entity(portal, "7", LedgerRef(EntityRef(2, 70), "response", 1))
    assert await decide_kind(rt, tokens, portal, "7", negotiation("consider"), simple=False) == "invitation"


async def test_a_hidden_chat_is_no_evidence_and_an_outage_is_raised(store: Store) -> None:
    portal = uuid.uuid4().hex
    rt, tokens = runtime(store, FakeHh(HhError(403, [{"type": "chats", "value": "forbidden"}], None)))
    assert await decide_kind(rt, tokens, portal, "8", negotiation("consider"), simple=True) == "response"
    rt, tokens = runtime(store, FakeHh(HhError(503, [], None)))
    with pytest.raises(HhError):
        await decide_kind(rt, tokens, portal, "9", negotiation("consider"), simple=True)
    assert await store.negotiation_kind(portal, negotiation_id="9") is None  # nothing decided on an outage
