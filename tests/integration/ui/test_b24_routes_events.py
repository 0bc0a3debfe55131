"""Bitrix24's events to the ui, through the app in process (a real NATS and Redis): only events carrying the
portal's application token count; an uninstall ends the sessions (or wipes the portal when asked to clean); an
entity moved in Bitrix24 goes to the poller only with back-sync on; operators' replies go to chat.reply once."""

from __future__ import annotations

import json
from typing import Any

from rabota_common import subjects
from rabota_common.app_settings import SyncSettings
from rabota_common.chats import ChatReply
from rabota_common.models import AppEvent
from rabota_common.store import UNINSTALLED_REASON

from tests.integration.ui.conftest import Ui

EXTENDED = {k: f"S_{k}" for k in ("response", "consider", "phone_interview", "assessment", "interview", "offer",
                                  "hired", "discard")}


async def with_token(ui: Ui) -> dict[str, str]:
    await ui.rt.store.update_portal(ui.portal, application_token="app-token-1")
    return {"auth[member_id]": ui.portal, "auth[application_token]": "app-token-1"}


async def last(ui: Ui, name: str) -> dict[str, Any] | None:
    try:
        msg = await ui.rt.broker.connection.jetstream().get_last_msg(subjects.stream_of(name), name)
    except Exception:
        return None
    return dict(json.loads(msg.data or b"{}"))


async def test_events_need_the_portals_application_token(ui: Ui) -> None:
    auth = await with_token(ui)
    assert (await ui.http.post("/b24/events", data={**auth, "event": "ONSOMETHINGNEW"})).json() == {
        "ok": True, "ignored": "ONSOMETHINGNEW"}
    for over, status, error in (({"auth[application_token]": "forged"}, 403, "bad_application_token"),
                                ({"auth[member_id]": "*"}, 400, "bad_member_id"),
                                ({"auth[member_id]": "d" * 32}, 403, "unknown_portal"),
                                ({"event": ""}, 400, "bad_event")):
        r = await ui.http.post("/b24/events", data={**auth, "event": "ONAPPUNINSTALL", **over})
        assert (r.status_code, r.json()["error"]) == (status, error), over
    assert (await ui.rt.store.get_portal(ui.portal)).status == "active"  # type: ignore[union-attr]


async def test_an_uninstall_ends_the_sessions_or_wipes_the_portal(ui: Ui) -> None:
    auth = await with_token(ui)
    session = {"Authorization": ui.session()}
    assert (await ui.http.get("/api/settings", headers=session)).status_code == 200
    r = await ui.http.post("/b24/events", data={**auth, "event": "ONAPPUNINSTALL", "data[CLEAN]": "0"})
    assert r.json() == {"ok": True}
    portal = await ui.rt.store.get_portal(ui.portal)
    assert portal is not None and (portal.status, portal.status_reason) == ("inactive", UNINSTALLED_REASON)
    assert (await ui.http.get("/api/settings", headers=session)).status_code == 401
    await ui.rt.store.update_portal(ui.portal, status="active", status_reason="")
    await ui.http.post("/b24/events", data={**auth, "event": "ONAPPUNINSTALL", "data[CLEAN]": "1"})
    assert await ui.rt.store.get_portal(ui.portal) is None


async def test_entity_updates_reach_the_poller_only_with_back_sync(ui: Ui) -> None:
    auth = await with_token(ui)
    form = {**auth, "event": "ONCRMDEALUPDATE", "data[FIELDS][ID]": "42"}
    name = subjects.subject(subjects.APP_EVENT, event="crm_entity_updated", portal=ui.portal)
    assert (await ui.http.post("/b24/events", data=form)).json() == {"ok": True, "forwarded": False}
    await ui.rt.store.put_settings(ui.portal, SyncSettings(responsible_id=1, entity_type="deal", extended=True,
                                                           back_sync=True, stage_map=EXTENDED))
    assert (await ui.http.post("/b24/events", data=form)).json() == {"ok": True, "forwarded": True}
    event = await last(ui, name)
    assert event is not None and AppEvent.model_validate(event).data == {"entity_type_id": 2, "entity_id": 42}
    bad = {**form, "data[FIELDS][ID]": "0"}
    assert (await ui.http.post("/b24/events", data=bad)).json()["forwarded"] is False


async def test_operators_replies_go_to_the_poller(ui: Ui) -> None:
    auth = await with_token(ui)
    form = {**auth, "event": "ONIMCONNECTORMESSAGEADD", "data[CONNECTOR]": "rabotaby", "data[LINE]": "1",
            "data[MESSAGES][0][im][chat_id]": "17", "data[MESSAGES][0][im][message_id]": "42",
            "data[MESSAGES][0][message][user_id]": "1", "data[MESSAGES][0][message][text]": "Здравствуйте",
            "data[MESSAGES][0][chat][id]": "5000000001",
            "data[MESSAGES][1][im][chat_id]": "17", "data[MESSAGES][1][chat][id]": "../x"}  # not understood
    assert (await ui.http.post("/b24/events", data=form)).json() == {"ok": True, "forwarded": 1}
    reply = await last(ui, subjects.subject(subjects.CHAT_REPLY, portal=ui.portal))
    assert reply is not None and ChatReply.model_validate(reply).text == "Здравствуйте"
    other = {**form, "data[CONNECTOR]": "another_connector"}
    assert (await ui.http.post("/b24/events", data=other)).json() == {"ok": True, "forwarded": 0}
