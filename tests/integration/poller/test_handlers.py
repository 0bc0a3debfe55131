"""The poller's handlers against a real NATS and Redis, HeadHunter scripted: a webhook becomes one published
negotiation (its resume prefetched), a response-only webhook is kept as evidence without a request, a negotiation
the account cannot see is dropped, and the webhook subscription is created or pointed at the ui once."""

from __future__ import annotations

import time

import pytest
from rabota_common.hh_client import HhError
from rabota_common.models import HhWebhookEvent
from rabota_common.runtime import Runtime
from rabota_common.store import HhAccount, PortalRecord
from rabota_poller import handlers

from tests.integration.poller.support import P1, RESUME, FakeHh, last_found, not_found, with_hh

ITEM = {"id": "501", "employer_state": {"id": "consider"}, "updated_at": "2026-11-02T10:00:00+0300",
        "source": "AUTO_INVITE", "chat_id": 4000000501, "vacancy": {"id": "900", "name": "Курьер"}}


def webhook(action: str, **payload: object) -> HhWebhookEvent:
    return HhWebhookEvent.model_validate({"id": "w1", "subscription_id": "1", "user_id": "2", "action_type": action,
                                          "payload": payload})


async def test_a_webhook_publishes_its_negotiation_and_prefetches_the_resume(bus_rt: Runtime) -> None:
    hh = with_hh(bus_rt, FakeHh({"501": ITEM}))
    await handlers.expand_webhook(bus_rt, P1, webhook("NEW_RESPONSE_OR_INVITATION_VACANCY", topic_id="501",
                                                      vacancy_id="900", resume_id=RESUME))
    found = await last_found(bus_rt)
    assert found is not None and (found.negotiation_id, found.vacancy_id, found.vacancy_name, found.source,
                                  found.employer_state, found.hh_source) == (
        "501", "900", "Курьер", "webhook", "consider", "AUTO_INVITE")
    assert sorted(hh.calls) == sorted(["negotiation 501", f"get /resumes/{RESUME}"])
    cached = await bus_rt.store.cached_resume(portal=P1, resume_id=RESUME)
    assert cached is not None and cached["pdf_pending"]
    assert await bus_rt.store.chat_negotiation(P1, "4000000501") == "501"
    seen, _ = await bus_rt.store.webhook_health(P1)
    assert seen is not None  # webhooks arrive: the poll may trust them


async def test_a_response_only_webhook_is_evidence_without_a_request(bus_rt: Runtime) -> None:
    hh = with_hh(bus_rt, FakeHh())
    await handlers.expand_webhook(bus_rt, P1, webhook(handlers.RESPONSE_ONLY_ACTION, topic_id="777"))
    assert hh.calls == [] and await last_found(bus_rt) is None
    assert await bus_rt.store.negotiation_kind(P1, negotiation_id="777") == "response"


async def test_an_invisible_negotiation_is_dropped_and_an_outage_raised(bus_rt: Runtime) -> None:
    with_hh(bus_rt, FakeHh({"404": not_found(), "503": HhError(503, [], None)}))
    await handlers.expand_webhook(bus_rt, P1, webhook("NEGOTIATION_EMPLOYER_STATE_CHANGE", topic_id="404"))
    assert await last_found(bus_rt) is None
    with pytest.raises(HhError):
        await handlers.expand_webhook(bus_rt, P1, webhook("NEGOTIATION_EMPLOYER_STATE_CHANGE", topic_id="503"))


async def portal_with_account(rt: Runtime) -> str:
    await rt.store.save_portal(PortalRecord(member_id=P1, domain="demo.bitrix24.by",
                                            client_endpoint="https://demo.bitrix24.by/rest/",
                                            expires_at=time.time() + 3600))
    secret = await rt.store.rotate_webhook_secret(P1)
    await rt.store.save_hh(P1, HhAccount(access_token="t", refresh_token="r", expires_at=time.time() + 3600))
    return f"{rt.settings.PUBLIC_URL.rstrip('/')}/hh/webhook/{secret}"


async def test_the_subscription_is_created_repointed_or_kept(bus_rt: Runtime) -> None:
    url = await portal_with_account(bus_rt)
    hh = with_hh(bus_rt, FakeHh())
    await handlers.ensure_subscription(bus_rt, P1)
    assert hh.calls == ["subscriptions", f"subscribe {url}"]
    account = await bus_rt.store.get_hh(P1)
    assert account is not None and account.subscription_id == "new-sub"
    # One subscription per user and app: an old URL is pointed at ours.
    hh = with_hh(bus_rt, FakeHh(subscriptions=[{"id": "s9", "url": "https://old/x", "actions": []}]))
    await handlers.repoint_subscription(bus_rt, P1)
    assert hh.calls == ["subscriptions", f"update s9 {url}"]
    # Already ours with every action: nothing to change.
    actions = [{"type": a} for a in handlers.WEBHOOK_ACTIONS]
    hh = with_hh(bus_rt, FakeHh(subscriptions=[{"id": "s9", "url": url, "actions": actions}]))
    await handlers.ensure_subscription(bus_rt, P1)
    assert hh.calls == ["subscriptions"]
    # A logged-out account is left alone.
    await bus_rt.store.update_hh(P1, relogin_required=True)
    hh = with_hh(bus_rt, FakeHh())
    await handlers.repoint_subscription(bus_rt, P1)
    assert hh.calls == []
