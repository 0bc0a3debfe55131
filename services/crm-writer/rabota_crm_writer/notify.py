"""Telling the responsible user once per cause that responses cannot be written (DESIGN F13)."""

from __future__ import annotations

from rabota_common.b24_client import B24Error
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
        token = await rt.b24_token(cmd.portal)
        if not token.ok or not token.access_token or not token.client_endpoint:
            raise B24Error(401, "NO_TOKEN", str(token.error))
        await rt.b24.call(token.client_endpoint, token.access_token, "im.notify.system.add", {
            "USER_ID": cmd.responsible_id, "MESSAGE": message, "TAG": f"rabota-sync:{cause_digest(reason)}"})
    except Exception as exc:  # the failure itself is recorded; let a later one try to notify again
        await rt.store.release_failure_notice(portal=cmd.portal, reason=reason)
        rt.log.warning("notification about %r failed: %s", reason, exc)
        return False
    return True
