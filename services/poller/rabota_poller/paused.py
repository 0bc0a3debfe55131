"""A portal paused by Bitrix24 (`PAYMENT_REQUIRED`: the app's subscription ended).

While paused, work parks (no retry loop) and nothing asks Bitrix24 for anything but the probe: on its poll slot
the poller asks the token broker for a token, and the broker tries one refresh per `PAUSE_PROBE_S`. When one
succeeds the broker publishes `app.b24_resumed`; the poller then republishes the parked work and tells the
responsible user once. (While the subscription is over no notification can reach the portal: the app page's
banner says it meanwhile.)"""

from __future__ import annotations

import time

from rabota_common.b24_session import open_session
from rabota_common.models import AppEvent
from rabota_common.runtime import Runtime

from rabota_poller.relogin import responsible_of, unpark

RESUMED_MESSAGE = ("rabota.by: подписка на приложение снова действует — отклики, пришедшие за время паузы "
                   "({count}), загружаются в CRM.")
RESUMED_TAG = "rabota-sync:b24-resumed"


async def probe_paused(rt: Runtime, portal: str) -> bool:
    """Ask for a token when a paused portal's probe is due (the broker's refresh is the probe); True if asked."""
    record = await rt.store.get_portal(portal)
    if record is None or not record.paused or time.time() < record.probe_at:
        return False
    try:
        reply = await rt.b24_token(portal)
    except Exception as exc:  # the token broker itself is down: the next slot probes again
        rt.log.warning("portal %s paused: probe failed: %s", portal, exc)
        return True
    rt.log.info("portal %s paused (%s): probe %s", portal, record.paused, "succeeded" if reply.ok else reply.error)
    return True


async def resumed(rt: Runtime, event: AppEvent) -> int:
    """app.b24_resumed: republish the parked work, then one notification; returns how many were parked."""
    moved = await unpark(rt, event.portal)
    session = await open_session(rt, event.portal)
    await session.notify_user(await responsible_of(rt, event.portal), RESUMED_MESSAGE.format(count=moved),
                              RESUMED_TAG)
    return moved
