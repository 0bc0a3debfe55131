"""The reconciliation poll loop: every POLL_INTERVAL_S per connected portal with saved settings, by one
replica at a time (Redis keys), with the webhook subscription watchdog.

Idle cost (DESIGN §9, issue 17): a tick reads only the portals' `due` keys (one MGET); each portal polls in
its own slot of its interval (a hash of its id), so many portals do not fire together. A portal whose
webhooks are trusted (`webhooks_trusted`) is reconciled every RECONCILE_INTERVAL_S (an hour) with its vacancy
list only, walking the vacancies whose counters moved; any other portal every POLL_INTERVAL_S with the
periodic full walks, as before. A poll that finds what the webhooks had not brought makes the portal
untrusted (until a webhook is seen again) and checks the subscription; so do the full-walk polls.
"""

from __future__ import annotations

import asyncio
import time
import zlib

from opentelemetry import trace
from rabota_common.budget import bulk
from rabota_common.errors import HhAuthLost
from rabota_common.runtime import Runtime
from rabota_common.transience import classify

from rabota_poller.chats import reconcile_chats
from rabota_poller.handlers import ensure_subscription
from rabota_poller.paused import probe_paused
from rabota_poller.reconcile import FULL_WALK_EVERY, reconcile
from rabota_poller.relogin import unpark

TICK_S = 5.0
IMPORT_STALE_S = 6 * 3600
RUN_LOCK_S = 900
MISSED_TTL_S = 24 * 3600  # a portal that missed webhooks is polled as before this long, unless one comes
# A webhook seen this shortly before a poll, or during it, may be the one bringing what the poll found (its
# expansion still fetching the negotiation): delivery works, so that find is no miss.
WEBHOOK_IN_FLIGHT_S = 5.0
_tracer = trace.get_tracer(__name__)


async def poll_portal(rt: Runtime, portal: str) -> bool:
    """One due poll of one portal; False when it is not due, not ready or another replica has it."""
    account = await rt.store.get_hh(portal)
    if account is None or not account.access_token or account.relogin_required:
        return False
    if await rt.store.get_settings(portal) is None:
        return False
    progress = await rt.store.get_import(portal)
    if progress.state == "idle":
        # Saving the settings starts the initial import, which walks everything: a poll before it would
        # publish the whole account ahead of it, untracked, and hold the import's first responses back.
        return False
    if progress.state == "running" and time.time() - progress.started_at < IMPORT_STALE_S:
        return False  # the import walks everything anyway
    trusted = await webhooks_trusted(rt, portal, account.subscription_id)
    interval = max(rt.settings.RECONCILE_INTERVAL_S, rt.settings.POLL_INTERVAL_S) if trusted else \
        rt.settings.POLL_INTERVAL_S
    if not await rt.store.claim_poll_slot(portal=portal, until_next_s=next_slot_s(portal, interval)):
        return False
    if not await rt.store.claim_poll_run(portal=portal, owner=rt.service, ttl_s=RUN_LOCK_S):
        return False
    try:
        # The span each found negotiation's own trace links to.
        with _tracer.start_as_current_span("poll", attributes={"rabota.portal": portal}) as span:
            await unpark(rt, portal)  # anything parked after the re-login's own unpark
            count = await rt.store.next_poll_count(portal=portal)
            # Trusted webhooks bring moves and new responses: the vacancy counters only check that none was
            # lost. Without them, today's polling: periodic full walks (and the index in extended mode).
            full = not trusted and count % FULL_WALK_EVERY == 1
            span.set_attributes({"rabota.full_walk": full, "rabota.webhooks_trusted": trusted})
            started = time.time()
            with bulk():  # a reconciliation yields the HeadHunter budget to webhooks' new responses
                published = await reconcile(rt, portal, full=full, trust_webhooks=trusted)
            if published and not await webhook_in_flight(rt, portal, started):
                # Found what the webhooks had not brought: poll as before until a webhook is seen again.
                await rt.store.webhook_missed(portal, MISSED_TTL_S)
                if trusted:
                    await rt.store.move_poll_slot(portal=portal,
                                                  until_next_s=next_slot_s(portal, rt.settings.POLL_INTERVAL_S))
            if full or trusted:
                # The chat webhooks' safety net: with the full walk, or each hourly trusted reconciliation.
                await reconcile_chats(rt, portal)
            if full or published:
                # A healthy subscription leaves the poll nothing to find; checking it every poll cost
                # HeadHunter a request per portal per interval.
                await ensure_subscription(rt, portal)
    finally:
        await rt.store.release_poll_run(portal=portal)
    return True


async def webhook_in_flight(rt: Runtime, portal: str, poll_started: float) -> bool:
    """A webhook was seen just before or during the poll: what the poll found may be its negotiation."""
    seen, _ = await rt.store.webhook_health(portal)
    return seen is not None and seen >= poll_started - WEBHOOK_IN_FLIGHT_S


async def webhooks_trusted(rt: Runtime, portal: str, subscription_id: str) -> bool:
    """Healthy webhooks: the subscription is in place and no poll found a response they had missed, or a
    webhook has been seen since it did. (An idle portal sees no webhooks: silence is not a fault; a lost
    response is, and the reconciliation finds it within its interval.)"""
    if not subscription_id:
        return False
    seen, missed = await rt.store.webhook_health(portal)
    return missed is None or (seen is not None and seen > missed)


def next_slot_s(portal: str, interval_s: float, now: float | None = None) -> int:
    """Seconds until the portal's next slot: the moments when (time + phase) is a multiple of the interval,
    the phase a hash of the portal. At least half an interval away, so a poll outside its slot (the first
    one) is not followed by another at once."""
    interval = max(1, round(interval_s))
    phase = zlib.crc32(portal.encode()) % interval
    wait = interval - (int(time.time() if now is None else now) + phase) % interval
    return wait + interval if wait * 2 < interval else wait


async def _due(rt: Runtime, portals: list[str]) -> list[str]:
    """The portals whose slot has come: one MGET per tick instead of reading every portal's records."""
    if not portals:
        return []
    try:
        return await rt.store.due_portals(portals=portals)
    except Exception:
        rt.log.exception("cannot read poll marks")
        return []


async def poll_loop(rt: Runtime, stop: asyncio.Event) -> None:
    tick = min(TICK_S, rt.settings.POLL_INTERVAL_S)
    while not stop.is_set():
        for portal in await _due(rt, await _portals(rt)):
            if stop.is_set():
                break
            try:
                await probe_paused(rt, portal)
                await poll_portal(rt, portal)
            except HhAuthLost as exc:
                rt.log.warning("poll of portal %s stopped: %s", portal, exc)
            except Exception:
                rt.log.exception("poll of portal %s failed", portal)
        try:
            await asyncio.wait_for(stop.wait(), timeout=tick)
        except TimeoutError:
            pass


async def _portals(rt: Runtime) -> list[str]:
    try:
        return await rt.store.portals()
    except Exception as exc:
        cause = classify(exc)
        if cause.kind == "transient":  # Redis restarting or failing over: the next tick lists them
            rt.log.warning("cannot list portals: %s (%s)", cause.reason, exc)
        else:
            rt.log.exception("cannot list portals")
        return []
