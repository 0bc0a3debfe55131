"""Telling the responsible user once per cause that responses cannot be written (DESIGN F13)."""

from __future__ import annotations

from rabota_common.b24_session import open_session
from rabota_common.models import CrmCommand
from rabota_common.runtime import Runtime
from rabota_common.store import cause_digest

NOTIFY_TTL_S = 7 * 24 * 3600


async def notify_failure(rt: Runtime, cmd: CrmCommand, reason: str) -> bool:
    """One `im.notify.system.add` per portal and cause (Redis SET NX); True when one was sent."""
    if not await rt.store.claim_failure_notice(portal=cmd.portal, reason=reason, ttl_s=NOTIFY_TTL_S):
        return False
    message = (f"rabota.by: отклики не попадают в CRM. Причина: {reason}. "
               "Исправьте причину и нажмите «Повторить» в приложении rabota.by (вкладка «Настройки»).")
    try:
        session = await open_session(rt, cmd.portal)
        await session.notify_user(cmd.responsible_id, message, f"rabota-sync:{cause_digest(reason)}")
    except Exception as exc:  # the failure itself is recorded; let a later one try to notify again
        await rt.store.release_failure_notice(portal=cmd.portal, reason=reason)
        rt.log.warning("notification about %r failed: %s", reason, exc)
        return False
    return True
