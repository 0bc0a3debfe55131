"""The reconciliation poll loop: every POLL_INTERVAL_S per connected portal with saved settings, by one
replica at a time (Redis keys), with the webhook subscription watchdog."""

from __future__ import annotations

import asyncio
import time

from opentelemetry import trace
from rabota_common.errors import HhAuthLost
from rabota_common.runtime import Runtime

from rabota_poller.handlers import ensure_subscription
from rabota_poller.reconcile import FULL_WALK_EVERY, reconcile
from rabota_poller.relogin import unpark

TICK_S = 5.0
IMPORT_STALE_S = 6 * 3600
RUN_LOCK_S = 900
_tracer = trace.get_tracer(__name__)


async def poll_portal(rt: Runtime, portal: str) -> bool:
    """One due poll of one portal; False when it is not due, not ready or another replica has it."""
    account = await rt.store.get_hh(portal)
    if account is None or not account.access_token or account.relogin_required:
        return False
    if await rt.store.get_settings(portal) is None:
        return False
    progress = await rt.store.get_import(portal)
    if progress.state == "running" and time.time() - progress.started_at < IMPORT_STALE_S:
        return False  # the import walks everything anyway
    interval = max(1, round(rt.settings.POLL_INTERVAL_S))
    if not await rt.redis.set(rt.store.key(portal, "poll", "due"), "1", nx=True, ex=interval):
        return False
    lock = rt.store.key(portal, "poll", "running")
    if not await rt.redis.set(lock, rt.service, nx=True, ex=RUN_LOCK_S):
        return False
    try:
        # The span each found negotiation's own trace links to.
        with _tracer.start_as_current_span("poll", attributes={"rabota.portal": portal}) as span:
            await unpark(rt, portal)  # anything parked after the re-login's own unpark
            await ensure_subscription(rt, portal)
            count = await rt.redis.incr(rt.store.key(portal, "poll", "count"))
            full = count % FULL_WALK_EVERY == 1
            span.set_attribute("rabota.full_walk", full)
            await reconcile(rt, portal, full=full)
    finally:
        await rt.redis.delete(lock)
    return True


async def poll_loop(rt: Runtime, stop: asyncio.Event) -> None:
    tick = min(TICK_S, rt.settings.POLL_INTERVAL_S)
    while not stop.is_set():
        for portal in await _portals(rt):
            if stop.is_set():
                break
            try:
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
    except Exception:
        rt.log.exception("cannot list portals")
        return []
