"""Re-login (DESIGN F11): tell the responsible user once, and resume parked work after the re-login."""

from __future__ import annotations

from pydantic import ValidationError
from rabota_common.b24_session import open_session
from rabota_common.bus import republish
from rabota_common.runtime import Runtime

RELOGIN_MESSAGE = (
    "rabota.by: доступ приложения к аккаунту работодателя потерян (например, сменён пароль). "
    "Откройте приложение rabota.by, вкладка «Авторизация», и нажмите «Войти» ещё раз. "
    "Отклики, пришедшие за это время, будут загружены после входа."
)
RELOGIN_TAG = "rabota-sync:hh-relogin"


async def responsible_of(rt: Runtime, portal: str) -> int:
    try:
        settings = await rt.store.sync_settings(portal=portal)
    except ValidationError:
        settings = None  # stored by an older version: the installer is told instead
    if settings is not None:
        return settings.responsible_id
    record = await rt.store.get_portal(portal)
    return record.installed_by if record and record.installed_by > 0 else 1


async def notify_relogin(rt: Runtime, portal: str) -> bool:
    """One `im.notify.system.add` per lost connection (the key is cleared on re-login)."""
    account = await rt.store.get_hh(portal)
    if account is None or not account.relogin_required:
        return False  # already logged in again
    if not await rt.store.claim_relogin_notice(portal=portal):
        return False
    try:
        session = await open_session(rt, portal)
        await session.notify_user(await responsible_of(rt, portal), RELOGIN_MESSAGE, RELOGIN_TAG)
    except BaseException:
        await rt.store.clear_relogin_notice(portal=portal)
        raise
    rt.log.info("portal %s: responsible user told to log in to rabota.by again", portal)
    return True


async def unpark(rt: Runtime, portal: str) -> int:
    moved = 0
    while batch := await rt.store.take_parked(portal):
        for subject_name, data in batch:
            try:
                await republish(rt.broker, subject_name, data)
            except Exception:
                await rt.store.park(portal, subject_name, data)
                raise
            moved += 1
    if moved:
        rt.log.info("portal %s: %d parked messages resumed", portal, moved)
    return moved
