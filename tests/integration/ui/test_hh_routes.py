"""HeadHunter's endpoints of the ui: the webhook receiver (known secret, the connected account's subscription,
events published to JetStream before the answer, a cap on pending ones) and the OAuth redirect page."""

from __future__ import annotations

import json
from typing import Any

from rabota_common import subjects
from rabota_common.models import HhWebhookEvent
from rabota_common.store import HhAccount

from tests.integration.ui.conftest import Ui

EVENT: dict[str, Any] = {"id": "9001", "subscription_id": "700001", "user_id": "3001",
                         "action_type": "NEW_RESPONSE_OR_INVITATION_VACANCY",
                         "payload": {"topic_id": "501", "vacancy_id": "900", "resume_id": None}}


async def connected(ui: Ui) -> str:
    await ui.rt.store.save_hh(ui.portal, HhAccount(access_token="t", subscription_id="700001", user_id="3001"))
    return await ui.rt.store.rotate_webhook_secret(ui.portal)


async def published(ui: Ui) -> list[HhWebhookEvent]:
    name = subjects.subject(subjects.HH_WEBHOOK, portal=ui.portal)
    js = ui.rt.broker.connection.jetstream()
    info = await js.stream_info(subjects.stream_of(name))
    events = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(subjects.stream_of(name), seq)
        if msg.subject == name:
            events.append(HhWebhookEvent.model_validate(json.loads(msg.data or b"{}")))
    return events


async def test_a_webhook_of_the_connected_account_is_published_once(ui: Ui) -> None:
    secret = await connected(ui)
    for _ in range(2):  # HeadHunter's retry of the same event
        r = await ui.http.post(f"/hh/webhook/{secret}", json=EVENT)
        assert r.status_code == 200 and r.json() == {"ok": True}
    assert [e.id for e in await published(ui)] == ["9001"]


async def test_what_is_ignored_and_what_is_refused(ui: Ui) -> None:
    secret = await connected(ui)
    assert (await ui.http.post("/hh/webhook/wrong", json=EVENT)).status_code == 404
    r = await ui.http.post(f"/hh/webhook/{secret}", json={**EVENT, "action_type": "VACANCY_ARCHIVED_2027"})
    assert r.json() == {"ok": True, "ignored": "action"}
    r = await ui.http.post(f"/hh/webhook/{secret}", json={**EVENT, "subscription_id": "700002"})
    assert r.json() == {"ok": True, "ignored": "subscription"}
    r = await ui.http.post(f"/hh/webhook/{secret}", json={**EVENT, "user_id": "0"})  # newer spec: subscription decides
    assert r.json() == {"ok": True}
    for body, error in ((b"{", "нужен JSON"), (b"[]", "нет action_type"),
                        (json.dumps({**EVENT, "payload": {"topic_id": "../x"}}).encode(), "topic_id")):
        r = await ui.http.post(f"/hh/webhook/{secret}", content=body)
        assert r.status_code == 400 and r.json()["error"] == "bad_webhook" and error in r.json()["message"], body
    assert len(await published(ui)) == 1


async def test_pending_webhooks_are_capped_per_portal(ui: Ui) -> None:
    secret = await connected(ui)
    ui.rt.settings.WEBHOOK_PENDING_PER_PORTAL = 2
    codes = [(await ui.http.post(f"/hh/webhook/{secret}", json={**EVENT, "id": str(9100 + n)})).status_code
             for n in range(3)]
    assert codes == [200, 200, 429]


async def test_the_oauth_redirect_hands_the_code_to_the_app_window(ui: Ui) -> None:
    r = await ui.http.get("/hh/callback", params={"code": "C0DE", "state": "ST4TE"})
    assert r.status_code == 200 and "C0DE" in r.text and "ST4TE" in r.text
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "no-referrer"
