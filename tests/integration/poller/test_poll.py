"""One due poll of one portal (poll_portal) against a real NATS and Redis, the reconciliation itself recorded
instead of walking HeadHunter: only connected portals with settings and a finished import poll, once per slot;
a portal whose webhooks are trusted is reconciled from its vacancy counters, and one that missed a webhook falls
back to polling, its subscription checked."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rabota_common.app_settings import SyncSettings
from rabota_common.runtime import Runtime
from rabota_common.store import HhAccount
from rabota_poller import poll

from tests.integration.poller.support import P1

SETTINGS = SyncSettings(responsible_id=1, entity_type="lead", stage_map={"response": "NEW", "invitation": "NEW"})


class Recorder:
    def __init__(self, published: int = 0) -> None:
        self.published = published
        self.calls: list[tuple[Any, ...]] = []

    async def reconcile(self, rt: Runtime, portal: str, full: bool = False, trust_webhooks: bool = False,
                        **kw: Any) -> int:
        self.calls.append(("reconcile", full, trust_webhooks))
        return self.published

    async def reconcile_chats(self, rt: Runtime, portal: str) -> int:
        self.calls.append(("chats",))
        return 0

    async def ensure_subscription(self, rt: Runtime, portal: str) -> None:
        self.calls.append(("subscription",))


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    for name in ("reconcile", "reconcile_chats", "ensure_subscription"):
        monkeypatch.setattr(poll, name, getattr(rec, name))
    return rec


async def ready(rt: Runtime, subscription_id: str = "") -> None:
    await rt.store.save_hh(P1, HhAccount(access_token="t", subscription_id=subscription_id,
                                         expires_at=time.time() + 3600))
    await rt.store.put_settings(P1, SETTINGS)
    import_id = await rt.store.start_import(P1)
    await rt.store.finish_listing(P1, import_id)  # nothing found: the import is done


async def test_only_a_ready_portal_polls_once_per_slot(bus_rt: Runtime, recorder: Recorder) -> None:
    assert not await poll.poll_portal(bus_rt, P1)  # not connected
    await bus_rt.store.save_hh(P1, HhAccount(access_token="t"))
    assert not await poll.poll_portal(bus_rt, P1)  # no settings
    await bus_rt.store.put_settings(P1, SETTINGS)
    assert not await poll.poll_portal(bus_rt, P1)  # the initial import has not started
    import_id = await bus_rt.store.start_import(P1)
    assert not await poll.poll_portal(bus_rt, P1)  # the import walks everything anyway
    await bus_rt.store.finish_listing(P1, import_id)
    assert recorder.calls == []
    assert await poll.poll_portal(bus_rt, P1)
    assert recorder.calls[0] == ("reconcile", True, False)  # the first poll of an untrusted portal walks it all
    assert not await poll.poll_portal(bus_rt, P1)  # the slot is taken until the next one


async def test_trusted_webhooks_are_reconciled_from_counters(bus_rt: Runtime, recorder: Recorder) -> None:
    await ready(bus_rt, subscription_id="700001")
    assert await poll.webhooks_trusted(bus_rt, P1, "700001")
    assert not await poll.webhooks_trusted(bus_rt, P1, "")  # no subscription: nothing to trust
    assert await poll.poll_portal(bus_rt, P1)
    assert recorder.calls == [("reconcile", False, True), ("chats",)]  # the subscription is not asked


async def test_a_poll_that_finds_missed_work_stops_trusting_the_webhooks(bus_rt: Runtime,
                                                                         recorder: Recorder) -> None:
    await ready(bus_rt, subscription_id="700001")
    recorder.published = 2
    assert await poll.poll_portal(bus_rt, P1)
    assert recorder.calls == [("reconcile", False, True), ("chats",), ("subscription",)]
    assert not await poll.webhooks_trusted(bus_rt, P1, "700001")
    await bus_rt.store.webhook_seen(P1, 3600)  # a webhook arrives again
    assert await poll.webhooks_trusted(bus_rt, P1, "700001")


async def test_a_find_while_a_webhook_comes_is_no_miss(bus_rt: Runtime, recorder: Recorder,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The poll lists a response whose webhook is being expanded (seen, its negotiation still being fetched):
    delivery works, so the portal stays trusted and its subscription is not asked."""
    await ready(bus_rt, subscription_id="700001")
    recorder.published = 1
    listing = recorder.reconcile

    async def with_webhook(*args: Any, **kw: Any) -> int:
        await bus_rt.store.webhook_seen(P1, 3600)
        return await listing(*args, **kw)

    monkeypatch.setattr(poll, "reconcile", with_webhook)
    assert await poll.poll_portal(bus_rt, P1)
    assert recorder.calls == [("reconcile", False, True), ("chats",), ("subscription",)]
    assert await poll.webhooks_trusted(bus_rt, P1, "700001")
