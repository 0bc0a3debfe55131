"""Chats with applicants (F15) against a real NATS and Redis and the Bitrix24 emulator's Open Lines (HeadHunter's
chats API scripted): a HeadHunter message goes into the chosen line once, our own reply coming back is not shown
again, and an operator's reply is posted to HeadHunter once and marked delivered, or the operator is told when
HeadHunter refuses it."""

from __future__ import annotations

from typing import Any

from rabota_common.app_settings import SyncSettings
from rabota_common.chats import ChatReply
from rabota_common.hh_client import HhError
from rabota_common.models import HhToken, HhWebhookEvent
from rabota_common.runtime import Runtime
from rabota_poller.chats import inbound, outbound
from rabota_ui.open_lines import activate_line, open_lines

from tests.integration.conftest import Sandbox
from tests.integration.poller.support import P1, with_portal

CHAT = "5000000001"


class FakeHh:
    def __init__(self) -> None:
        self.messages: dict[str, dict[str, Any]] = {}
        self.posted: list[tuple[str, str]] = []
        self.read: list[str] = []
        self.refuse = False

    def says(self, message_id: str, role: str, text: str) -> None:
        self.messages[message_id] = {"id": message_id, "type": "SIMPLE", "creation_time": "2026-12-03T10:00:00+0300",
                                     "sender_display_info": {"name": "Иван Петров", "role": role},
                                     "payload": {"text": text}}

    async def chat_messages(self, token: str, chat_id: str, start: str | None = None, limit: int = 20,
                            order: str = "prev") -> dict[str, Any]:
        if chat_id != CHAT:
            raise HhError(404, [{"type": "not_found"}], None)
        found = [m for i, m in self.messages.items() if i == start]
        return {"display": {"title": "Курьер"}, "messages": found}

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
