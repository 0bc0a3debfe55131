"""Chats with applicants (F15) against a real NATS and Redis and the Bitrix24 emulator's Open Lines (HeadHunter's
chats API scripted): a HeadHunter message goes into the chosen line once, our own reply coming back is not shown
again, and an operator's reply is posted to HeadHunter once and marked delivered, or the operator is told when
HeadHunter refuses it. The card's «Написать» (issue 18 item 6) opens the dialogue: the chat's history goes into the
line once, in one request, and its `chat{id}` is answered (again without HeadHunter once known), or why not."""

from __future__ import annotations

from typing import Any

from rabota_common.app_settings import SyncSettings
from rabota_common.chats import ChatOpenRequest, ChatReply
from rabota_common.hh_client import HhError
from rabota_common.models import HhToken, HhWebhookEvent
from rabota_common.runtime import Runtime
from rabota_poller.chats import CHATS_OFF, LINE_BATCH, inbound, open_dialogue, outbound
from rabota_ui.open_lines import activate_line, open_lines

from tests.integration.conftest import Sandbox
from tests.integration.poller.support import P1, with_portal

CHAT = "5000000001"
NID = "1000000001"


class FakeHh:
    def __init__(self) -> None:
        self.messages: dict[str, dict[str, Any]] = {}
        self.posted: list[tuple[str, str]] = []
        self.read: list[str] = []
        self.refuse = False
        self.calls: list[str] = []
        self.negotiation_answer: dict[str, Any] | BaseException = {"id": NID, "chat_id": int(CHAT)}

    def says(self, message_id: str, role: str, text: str, kind: str = "SIMPLE", minute: int = 0) -> None:
        self.messages[message_id] = {"id": message_id, "type": kind,
                                     "creation_time": f"2026-12-03T10:{minute:02d}:00+0300",
                                     "sender_display_info": {"name": "Иван Петров", "role": role},
                                     "payload": {"text": text}}

    async def chat_messages(self, token: str, chat_id: str, start: str | None = None, limit: int = 20,
                            order: str = "prev") -> dict[str, Any]:
        self.calls.append(f"messages {start}")
        if chat_id != CHAT:
            raise HhError(404, [{"type": "not_found"}], None)
        # No start: the latest `limit`, newest first (HeadHunter's order is not documented: the poller sorts).
        found = [m for i, m in self.messages.items() if i == start] if start else list(self.messages.values())[::-1]
        return {"display": {"title": "Курьер"}, "messages": found[:limit]}

    async def negotiation(self, token: str, nid: str) -> dict[str, Any]:
        self.calls.append(f"negotiation {nid}")
        if isinstance(self.negotiation_answer, BaseException):
            raise self.negotiation_answer
        return self.negotiation_answer

    async def post_chat_message(self, token: str, chat_id: str, text: str, key: str) -> dict[str, Any]:
        if self.refuse:
            raise HhError(403, [{"type": "chats", "value": "write_disabled"}], None)
        self.posted.append((key, text))
        message_id = str(9000 + len(self.posted))
        self.says(message_id, "EMPLOYER", text)
        return {"id": message_id}

    async def mark_chat_read(self, token: str, chat_id: str, message_id: str) -> None:
        self.read.append(message_id)


async def chats_on(sandbox: Sandbox, sandbox_rt: Any, bus_rt: Runtime) -> tuple[Runtime, FakeHh, int]:
    rt = with_portal(bus_rt, sandbox_rt)

    async def hh_token(portal: str, stale_token: str | None = None) -> HhToken:
        return HhToken(ok=True, access_token="t")

    hh = FakeHh()
    rt.hh = hh  # type: ignore[assignment]
    rt.hh_token = hh_token  # type: ignore[method-assign]
    line = open_lines(await sandbox.rest("imopenlines.config.list.get", {}))[0]["id"]
    await activate_line(rt, P1, line, None)
    await rt.store.put_settings(P1, SyncSettings(responsible_id=1, entity_type="lead", open_line_id=line,
                                                 stage_map={"response": "NEW", "invitation": "NEW"}))
    return rt, hh, line


def message_webhook(message_id: str, chat_id: str = CHAT, message_type: str = "SIMPLE") -> HhWebhookEvent:
    return HhWebhookEvent.model_validate({
        "id": f"w{message_id}", "subscription_id": "1", "user_id": "2", "action_type": "CHAT_MESSAGE_CREATED",
        "payload": {"chat_id": chat_id, "message_id": message_id, "message_type": message_type,
                    "role": "APPLICANT"}})


async def dialogues(sandbox: Sandbox) -> list[dict[str, Any]]:
    r = await sandbox.http.get(f"{sandbox.url}/_sandbox/portals/demo/openlines")
    return list(r.json()["dialogues"])


async def operator_says(sandbox: Sandbox, line: int, text: str) -> ChatReply:
    """An operator answers in the line's dialogue: the reply as the ui hands it to the poller."""
    [dialogue] = await dialogues(sandbox)
    r = await sandbox.http.post(f"{sandbox.url}/_sandbox/portals/demo/openlines/chats/{dialogue['chat_id']}/reply",
                                json={"user_id": 1, "text": text})
    return ChatReply(portal=P1, line=line, chat_id=CHAT, im_chat_id=dialogue["chat_id"],
                     im_message_id=r.json()["message_id"], user_id=1, text=text)


async def test_a_message_goes_into_the_line_once(sandbox: Sandbox, rt: Any, bus_rt: Runtime) -> None:
    runtime, hh, _ = await chats_on(sandbox, rt, bus_rt)
    hh.says("7001", "APPLICANT", "Здравствуйте, когда собеседование?")
    await inbound(runtime, P1, message_webhook("7001"))
    await inbound(runtime, P1, message_webhook("7001"))  # HeadHunter's retry
    await inbound(runtime, P1, message_webhook("7002", message_type="PARTICIPANT_JOINED"))
    await inbound(runtime, P1, message_webhook("7003", chat_id="5000000002"))  # a chat HeadHunter will not show
    [dialogue] = await dialogues(sandbox)
    assert [m["text"] for m in dialogue["messages"]] == ["Здравствуйте, когда собеседование?"]
    assert dialogue["external_id"] == CHAT and dialogue["messages"][0]["author"] == "client"


async def test_a_reply_is_posted_once_and_not_shown_again(sandbox: Sandbox, rt: Any, bus_rt: Runtime) -> None:
    runtime, hh, line = await chats_on(sandbox, rt, bus_rt)
    hh.says("7001", "APPLICANT", "Добрый день")
    await inbound(runtime, P1, message_webhook("7001"))
    reply = await operator_says(sandbox, line, "Приходите завтра в 10:00")
    await outbound(runtime, reply)
    await outbound(runtime, reply)  # redelivered: posted once, marked delivered again
    assert [text for _, text in hh.posted] == ["Приходите завтра в 10:00"]
    assert set(hh.read) == {"7001"}  # the applicant's message read on HeadHunter
    await inbound(runtime, P1, message_webhook("9001"))  # our own reply's webhook
    [dialogue] = await dialogues(sandbox)
    assert [(m["text"], m["delivered"]) for m in dialogue["messages"]] == [
        ("Добрый день", False), ("Приходите завтра в 10:00", True)]


async def test_a_refused_reply_tells_the_operator(sandbox: Sandbox, rt: Any, bus_rt: Runtime) -> None:
    runtime, hh, line = await chats_on(sandbox, rt, bus_rt)
    hh.says("7001", "APPLICANT", "Добрый день")
    await inbound(runtime, P1, message_webhook("7001"))
    hh.refuse = True
    reply = await operator_says(sandbox, line, "Ответ")
    await outbound(runtime, reply)
    assert hh.posted == [] and await runtime.store.chat_reply_posted(P1, reply.im_message_id) == "refused"
    [dialogue] = await dialogues(sandbox)
    assert dialogue["messages"][-1]["author"] == "system"  # the operator was told in the dialogue


def opening(negotiation_id: str = NID) -> ChatOpenRequest:
    return ChatOpenRequest(portal=P1, negotiation_id=negotiation_id, user_id=1)


async def sends(sandbox: Sandbox) -> int:
    """How many imconnector.send.messages requests the portal got."""
    r = await sandbox.http.get(f"{sandbox.url}/_sandbox/stats", params={"portal": "demo"})
    return int(r.json()["by_method"].get("imconnector.send.messages", 0))


async def test_the_card_opens_the_dialogue_with_the_chats_history_once(sandbox: Sandbox, rt: Any,
                                                                       bus_rt: Runtime) -> None:
    runtime, hh, line = await chats_on(sandbox, rt, bus_rt)
    hh.says("7001", "APPLICANT", "Сопроводительное письмо", minute=1)
    hh.says("7002", "EMPLOYER", "Приглашаем на собеседование", minute=2)  # written on rabota.by itself
    hh.says("7003", "APPLICANT", "", kind="PARTICIPANT_JOINED", minute=3)
    hh.says("7004", "APPLICANT", "Спасибо, приду", minute=4)
    reply = await open_dialogue(runtime, opening())
    [dialogue] = await dialogues(sandbox)
    assert reply.ok and reply.dialog_id == f"chat{dialogue['chat_id']}" and reply.chat_id == CHAT
    assert reply.forwarded == 3
    assert [(m["author"], m["text"].rsplit("[br]", 1)[-1]) for m in dialogue["messages"]] == [
        ("client", "Сопроводительное письмо"), ("operator", "Приглашаем на собеседование"),
        ("client", "Спасибо, приду")]
    assert hh.calls == [f"negotiation {NID}", "messages None"]  # the chat named by HeadHunter, read once
    assert await runtime.store.negotiation_chat(P1, NID) == CHAT  # and remembered
    assert await runtime.store.chat_dialogue(P1, CHAT, line) == dialogue["chat_id"]
    assert await runtime.store.chat_last_in(P1, CHAT) == "7004"
    assert await sends(sandbox) == 1  # the history in one request

    # Known now: answered from the store, without HeadHunter; the webhooks of those messages change nothing.
    hh.calls.clear()
    again = await open_dialogue(runtime, opening())
    assert again.ok and again.dialog_id == reply.dialog_id and again.forwarded == 0 and hh.calls == []
    await inbound(runtime, P1, message_webhook("7004"))
    [dialogue] = await dialogues(sandbox)
    assert len(dialogue["messages"]) == 3


async def test_a_long_history_goes_in_batches(sandbox: Sandbox, rt: Any, bus_rt: Runtime) -> None:
    runtime, hh, _ = await chats_on(sandbox, rt, bus_rt)
    for n in range(LINE_BATCH + 5):
        hh.says(str(7100 + n), "APPLICANT", f"Сообщение {n}", minute=n)
    reply = await open_dialogue(runtime, opening())
    [dialogue] = await dialogues(sandbox)
    assert reply.ok and reply.forwarded == LINE_BATCH + 5 and await sends(sandbox) == 2
    assert [m["text"] for m in dialogue["messages"]] == [f"Сообщение {n}" for n in range(LINE_BATCH + 5)]


async def test_why_a_dialogue_cannot_be_opened(sandbox: Sandbox, rt: Any, bus_rt: Runtime) -> None:
    runtime, hh, line = await chats_on(sandbox, rt, bus_rt)
    # The chat has no message yet: nothing opens a dialogue.
    empty = await open_dialogue(runtime, opening())
    assert (empty.ok, empty.error, empty.chat_id) == (False, "chat_empty", CHAT)
    # Messages the line got before the dialogue was remembered (an older release): it is not known.
    hh.says("7001", "APPLICANT", "Здравствуйте")
    await runtime.store.mark_chat_message_delivered(P1, CHAT, "7001")
    unknown = await open_dialogue(runtime, opening())
    assert unknown.error == "dialog_unknown" and "открыть диалог" in (unknown.message or "")
    # A negotiation without a chat, one HeadHunter does not show, HeadHunter down.
    hh.negotiation_answer = {"id": "1000000002", "chat_id": None}
    assert (await open_dialogue(runtime, opening("1000000002"))).error == "no_chat"
    hh.negotiation_answer = HhError(404, [{"type": "not_found"}], None)
    assert (await open_dialogue(runtime, opening("1000000003"))).error == "not_found"
    hh.negotiation_answer = HhError(503, [], None)
    down = await open_dialogue(runtime, opening("1000000004"))
    assert down.error == "hh_unavailable" and "недоступен" in (down.message or "")
    # Bitrix24 refuses the line (the connector was taken off it behind the app's back).
    hh.messages.clear()
    hh.says("7002", "APPLICANT", "Ау?")
    await sandbox.rest("imconnector.activate", {"CONNECTOR": "rabotaby", "LINE": line, "ACTIVE": 0})
    refused = await open_dialogue(runtime, opening())
    assert refused.error == "portal_error" and "CONNECTOR_NOT_ACTIVE" in (refused.message or "")
    assert not await runtime.store.chat_message_delivered(P1, CHAT, "7002")  # tried again next time
    # Chats switched off on «Настройки».
    settings = await runtime.store.sync_settings(portal=P1)
    assert settings is not None
    await runtime.store.put_settings(P1, settings.model_copy(update={"open_line_id": None}))
    off = await open_dialogue(runtime, opening())
    assert (off.error, off.message) == ("chats_off", CHATS_OFF)
