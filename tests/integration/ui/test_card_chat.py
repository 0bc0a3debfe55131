"""`POST /api/card-chat` (the card's «Написать», issue 18 item 6) through the ui's real app on a real NATS and Redis,
the Bitrix24 emulator's portal (its Open Lines, CRM roles and users) and the poller's own `poller.chats` answer on
the same NATS (HeadHunter scripted): who may open the dialogue (as for the card's actions: an entity the user may
read, then an administrator or its responsible user), the dialogue id answered from the store or opened by the
poller, and every refusal as `{"error", "message"}` in Russian with its status."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from rabota_common import subjects
from rabota_common.app_settings import SyncSettings
from rabota_common.chats import CHATS_OFF, ChatOpenRequest
from rabota_common.entity_ref import EntityRef
from rabota_common.hh_client import HhError
from rabota_common.models import HhToken
from rabota_common.store import HhAccount, WrittenEntity
from rabota_poller.chats import answer_open
from rabota_ui.open_lines import activate_line, open_lines

from tests.integration.conftest import Sandbox
from tests.integration.poller.test_chats import CHAT, NID, FakeHh
from tests.integration.ui.conftest import Ui

CYRILLIC = re.compile(r"[А-Яа-яЁё]")


@dataclass
class World:
    ui: Ui
    sandbox: Sandbox
    hh: FakeHh
    line: int
    lead: int  # the app's lead, assigned to user 2
    foreign: int  # a lead the app did not write
    asked: list[ChatOpenRequest]

    async def user_session(self, user_id: int) -> str:
        """A session of a portal user who is not an administrator, with their own Bitrix24 token."""
        r = await self.sandbox.http.post(f"{self.sandbox.url}/_sandbox/portals/demo/frame",
                                         json={"user_id": user_id, "target": "app"})
        return self.ui.session(user_id=user_id, is_admin=False, user_token=r.json()["form"]["AUTH_ID"],
                               user_token_expires_at=time.time() + 600)

    async def open(self, session: str, body: dict[str, Any]) -> Any:
        return await self.ui.http.post("/api/card-chat", json=body, headers={"Authorization": session})


@pytest.fixture
async def world(ui: Ui, sandbox: Sandbox, rt: Any) -> AsyncIterator[World]:
    runtime = ui.rt
    runtime.b24 = rt.b24  # the emulator's portal, with its token
    runtime.b24_token = rt.b24_token  # type: ignore[method-assign]
    await runtime.store.update_portal(ui.portal, client_endpoint=sandbox.endpoint)
    hh = FakeHh()
    hh.negotiation_answer = {"id": NID, "chat_id": int(CHAT)}
    runtime.hh = hh  # type: ignore[assignment]

    async def hh_token(portal: str, stale_token: str | None = None) -> HhToken:
        return HhToken(ok=True, access_token="t")

    runtime.hh_token = hh_token  # type: ignore[method-assign]
    await runtime.store.save_hh(ui.portal, HhAccount(access_token="t", user_id="u1", manager_id="m1"))
    line = open_lines(await sandbox.rest("imopenlines.config.list.get", {}))[0]["id"]
    await activate_line(runtime, ui.portal, line, None)
    await runtime.store.put_settings(ui.portal, SyncSettings(responsible_id=1, entity_type="lead", open_line_id=line,
                                                             stage_map={"response": "NEW", "invitation": "NEW"}))
    lead = await sandbox.rest("crm.lead.add", {"fields": {"TITLE": "Отклик: Повар", "ASSIGNED_BY_ID": 2}})
    foreign = await sandbox.rest("crm.lead.add", {"fields": {"TITLE": "Чужой лид", "ASSIGNED_BY_ID": 2}})
    await runtime.store.record_written(portal=ui.portal, negotiation_id=NID, written=WrittenEntity(
        EntityRef(1, int(lead)), "app1", {"vacancy": "Повар", "status": "Отклик", "created_at": "01.12.2026",
                                         "negotiation_id": NID, "url": f"/crm/lead/details/{lead}/"}))

    # The poller's own answer of poller.chats, on the same NATS.
    asked: list[ChatOpenRequest] = []

    async def answer(msg: Any) -> None:
        req = ChatOpenRequest.model_validate_json(msg.data)
        asked.append(req)
        await msg.respond((await answer_open(runtime, req)).model_dump_json().encode())

    sub = await runtime.broker.connection.subscribe(subjects.POLLER_CHATS, queue="poller", cb=answer)
    await runtime.broker.connection.flush()
    try:
        yield World(ui, sandbox, hh, line, int(lead), int(foreign), asked)
    finally:
        await sub.unsubscribe()


def refused(r: Any, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "message"} and body["error"] == code and CYRILLIC.search(body["message"]), body
    return str(body["message"])


async def dialogue_of(sandbox: Sandbox) -> dict[str, Any]:
    r = await sandbox.http.get(f"{sandbox.url}/_sandbox/portals/demo/openlines")
    [dialogue] = r.json()["dialogues"]
    return dict(dialogue)


async def test_the_responsible_user_opens_the_dialogue_with_the_chat(world: World) -> None:
    world.hh.says("7001", "APPLICANT", "Сопроводительное письмо", minute=1)
    world.hh.says("7002", "APPLICANT", "Когда собеседование?", minute=2)
    responsible = await world.user_session(2)
    r = await world.open(responsible, {"entity_type_id": 1, "entity_id": world.lead})
    assert r.status_code == 200, r.text
    dialogue = await dialogue_of(world.sandbox)
    assert r.json() == {"dialog_id": f"chat{dialogue['chat_id']}", "forwarded": 2}
    assert [m["text"] for m in dialogue["messages"]] == ["Сопроводительное письмо", "Когда собеседование?"]
    assert [(a.negotiation_id, a.user_id) for a in world.asked] == [(NID, 2)]

    # Known now: the ui answers from the store, no request to the poller; the admin may open it too.
    again = await world.open(world.ui.session(), {"entity_type": "lead", "entity_id": world.lead})
    assert again.json() == {"dialog_id": f"chat{dialogue['chat_id']}", "forwarded": 0} and len(world.asked) == 1
    assert len((await dialogue_of(world.sandbox))["messages"]) == 2

    # The dialogue forgotten (as an older release left it) and a new message: two clicks at once forward it once.
    store = world.ui.rt.store
    await store.redis.delete(store.key(world.ui.portal, "chat", "dialogue"))
    world.hh.says("7003", "APPLICANT", "Жду ответа", minute=3)
    both = await asyncio.gather(*(world.open(world.ui.session(), {"entity_type_id": 1, "entity_id": world.lead})
                                  for _ in range(2)))
    assert [b.status_code for b in both] == [200, 200], [b.text for b in both]
    assert {b.json()["dialog_id"] for b in both} == {f"chat{dialogue['chat_id']}"}
    assert sorted(b.json()["forwarded"] for b in both) == [0, 1]
    assert [m["text"] for m in (await dialogue_of(world.sandbox))["messages"]] == [
        "Сопроводительное письмо", "Когда собеседование?", "Жду ответа"]


async def test_who_may_open_it(world: World) -> None:
    world.hh.says("7001", "APPLICANT", "Здравствуйте", minute=1)
    body = {"entity_type_id": 1, "entity_id": world.lead}
    # Another user reads the lead (their role reads all) but is not responsible for it: as for the card's actions.
    message = refused(await world.open(await world.user_session(3), body), 403, "forbidden")
    assert "ответственный за эту карточку" in message
    # A user whose role reads only their own entities does not see it: as if it were not the app's.
    await world.sandbox.http.post(f"{world.sandbox.url}/_sandbox/portals/demo/users/4/crm-access", json={"read": "own"})
    refused(await world.open(await world.user_session(4), body), 404, "not_found")
    # No session: 401.
    r = await world.ui.http.post("/api/card-chat", json=body)
    assert r.status_code == 401
    assert world.asked == []  # nobody reached the poller
    lines = await world.sandbox.http.get(f"{world.sandbox.url}/_sandbox/portals/demo/openlines")
    assert lines.json()["dialogues"] == []


async def test_every_refusal_in_russian(world: World) -> None:
    admin = world.ui.session()
    body = {"entity_type_id": 1, "entity_id": world.lead}
    # Bad bodies.
    refused(await world.open(admin, {"entity_id": world.lead, "extra": 1}), 422, "validation_error")
    refused(await world.open(admin, {"entity_type_id": 1, "entity_id": 0}), 422, "validation_error")
    # A lead the app did not write; an entity that does not exist.
    assert "не приложением rabota.by" in refused(
        await world.open(admin, {"entity_type_id": 1, "entity_id": world.foreign}), 404, "not_found")
    refused(await world.open(admin, {"entity_type_id": 1, "entity_id": 99999}), 404, "not_found")
    # The chat has no message yet; the negotiation has no chat.
    assert "ещё нет сообщений" in refused(await world.open(admin, body), 409, "chat_empty")
    await world.ui.rt.store.redis.delete(world.ui.rt.store.key(world.ui.portal, "chat", "by-negotiation"))
    world.hh.negotiation_answer = {"id": NID, "chat_id": None}
    assert "нет чата" in refused(await world.open(admin, body), 404, "no_chat")
    # rabota.by unavailable (transient): 503.
    world.hh.negotiation_answer = HhError(503, [], None)
    assert "недоступен" in refused(await world.open(admin, body), 503, "hh_unavailable")
    # Bitrix24 unavailable (transient): 503; the message waits for the next click.
    world.hh.negotiation_answer = {"id": NID, "chat_id": int(CHAT)}
    world.hh.says("7001", "APPLICANT", "Здравствуйте", minute=1)
    knobs = f"{world.sandbox.url}/_sandbox/knobs"
    failing = {"imconnector.send.messages": "INTERNAL_SERVER_ERROR"}
    await world.sandbox.http.put(knobs, json={"failing_methods": failing})
    try:
        assert "Битрикс24" in refused(await world.open(admin, body), 503, "portal_unavailable")
    finally:
        await world.sandbox.http.put(knobs, json={"failing_methods": {}})
    assert (await world.open(admin, body)).status_code == 200
    # The rabota.by account needs a new login (the dialogue not known: the poller would have to read the chat).
    store = world.ui.rt.store
    await store.save_hh(world.ui.portal, HhAccount(access_token="t", relogin_required=True))
    await store.redis.delete(store.key(world.ui.portal, "chat", "dialogue"))
    refused(await world.open(admin, body), 409, "relogin_required")
    # Chats off (no Open Line chosen on «Настройки»).
    await world.ui.rt.store.put_settings(world.ui.portal, SyncSettings(
        responsible_id=1, entity_type="lead", open_line_id=None, stage_map={"response": "NEW", "invitation": "NEW"}))
    assert refused(await world.open(admin, body), 409, "chats_off") == CHATS_OFF
