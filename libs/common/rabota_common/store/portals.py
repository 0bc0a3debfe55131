"""Portals: the portal record (tokens encrypted), the set of portals, the webhook-secret mapping and the
portal's CRM mode as last read from Bitrix24."""

from __future__ import annotations

import secrets
import time
from typing import Any

from pydantic import BaseModel

from rabota_common.ids import is_member_id
from rabota_common.store._base import text
from rabota_common.store.replication import ReplicationStore

PORTALS_KEY = "rs:portals"
# status_reason of a portal whose app was removed without CLEAN: its data stays for a reinstall, its sessions end.
UNINSTALLED_REASON = "Приложение удалено с портала"


def webhook_secret_key(secret: str) -> str:
    return f"rs:webhook-secret:{secret}"


class PortalRecord(BaseModel):
    member_id: str
    domain: str
    client_endpoint: str
    access_token: str = ""
    refresh_token: str = ""
    expires_at: float = 0.0
    application_token: str = ""
    status: str = "active"
    status_reason: str = ""
    installed_by: int = 0
    webhook_secret: str = ""
    # A new random value at every install: sessions carry it and end when it changes (reinstall, CLEAN wipe).
    generation: str = ""
    # Paused (not inactive): Bitrix24 refuses the app for now (`payment_required`: the subscription ended).
    # Work parks; the token broker tries one refresh at `probe_at` at the earliest, and work resumes when it
    # succeeds.
    paused: str = ""
    paused_at: float = 0.0
    probe_at: float = 0.0


class PortalsStore(ReplicationStore):
    async def save_portal(self, portal: PortalRecord, old_webhook_secret: str = "") -> None:
        """Write a portal's record (replacing it); a rotated webhook secret's old mapping is removed."""
        key = self.key(portal.member_id, "portal")
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping=self._seal(portal.model_dump()))
        pipe.sadd(PORTALS_KEY, portal.member_id)
        if old_webhook_secret and old_webhook_secret != portal.webhook_secret:
            pipe.delete(webhook_secret_key(old_webhook_secret))
        if portal.webhook_secret:
            pipe.set(webhook_secret_key(portal.webhook_secret), portal.member_id)
        await pipe.execute()

    async def update_portal(self, member_id: str, **fields: Any) -> None:
        await self.redis.hset(self.key(member_id, "portal"), mapping=self._seal(fields))

    async def rotate_portal_tokens(self, member_id: str, **fields: Any) -> None:
        """update_portal for a refresh: Bitrix24 has spent the old refresh token, so the new one is confirmed
        on a replica (`replicated`) in the same round trip, or this raises."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(self.key(member_id, "portal"), mapping=self._seal(fields))
        await self.replicated(pipe=pipe)

    async def pause_portal(self, member_id: str, *, reason: str, probe_at: float) -> bool:
        """Pause the portal until `probe_at` at least; True when it was not paused before (the transition)."""
        key = self.key(member_id, "portal")
        if not await self.redis.hexists(key, "member_id"):
            return False  # no such portal (uninstalled meanwhile): nothing to pause, no partial record made
        started = not await self.redis.hget(key, "paused")
        fields: dict[Any, Any] = {"paused": reason, "probe_at": str(probe_at)}
        if started:
            fields["paused_at"] = str(time.time())
        await self.redis.hset(key, mapping=fields)
        return started

    async def resume_portal(self, member_id: str) -> bool:
        """End a pause; True when the portal was paused (the token broker resumes under the portal's lock)."""
        key = self.key(member_id, "portal")
        if not await self.redis.hget(key, "paused"):
            return False
        await self.redis.hset(key, mapping={"paused": "", "paused_at": "0", "probe_at": "0"})
        return True

    async def get_portal(self, member_id: str) -> PortalRecord | None:
        if not is_member_id(member_id):
            return None
        return await self._get_model(self.key(member_id, "portal"), PortalRecord)

    async def portals(self) -> list[str]:
        return sorted(m for m in (text(v) for v in await self.redis.smembers(PORTALS_KEY)) if is_member_id(m))

    async def portal_by_webhook_secret(self, secret: str) -> str | None:
        value = await self.redis.get(webhook_secret_key(secret))
        portal = text(value) if value else None
        return portal if is_member_id(portal) else None

    async def rotate_webhook_secret(self, portal: str) -> str:
        """A new secret in the portal's webhook URL; the old URL answers 404 from now on."""
        record = await self.get_portal(portal)
        if record is None:  # a secret alone would make a record that no longer validates
            raise LookupError(f"unknown portal {portal}")
        new = secrets.token_urlsafe(24)
        await self.redis.set(webhook_secret_key(new), portal)
        await self.update_portal(portal, webhook_secret=new)
        if record.webhook_secret:
            await self.redis.delete(webhook_secret_key(record.webhook_secret))
        return new

    # -- the portal's CRM mode (crm.settings.mode.get: 1 classic, 2 simple), as the settings form last read it --
    async def put_crm_mode(self, *, portal: str, mode: int) -> None:
        await self.redis.set(self.key(portal, "crm-mode"), str(mode))

    async def crm_mode(self, *, portal: str) -> int | None:
        raw = await self.redis.get(self.key(portal, "crm-mode"))
        return int(text(raw)) if raw and text(raw).isdigit() else None
