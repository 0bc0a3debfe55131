"""The portal's HeadHunter account: its record (tokens encrypted), the one-portal-per-account binding, who was
connected before a logout, the daily resume view limit and the once-per-loss re-login notice."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from rabota_common.store._base import text
from rabota_common.store.portals import UNINSTALLED_REASON, PortalsStore

_CAS = "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[1], ARGV[2]) return 1 end return 0"
_DEL_IF = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class HhAccount(BaseModel):
    access_token: str = ""
    refresh_token: str = ""
    expires_at: float = 0.0
    user_id: str = ""
    employer_id: str = ""
    employer_name: str = ""
    manager_id: str = ""
    manager_name: str = ""
    is_admin: bool = False
    relogin_required: bool = False
    subscription_id: str = ""


def hh_account_key(hh_user_id: str) -> str:
    return f"rs:hh-account:{hh_user_id}"


class HhStore(PortalsStore):
    async def save_hh(self, portal: str, account: HhAccount) -> None:
        await self.redis.delete(self.key(portal, "hh"))
        await self.redis.hset(self.key(portal, "hh"), mapping=self._seal(account.model_dump()))

    async def update_hh(self, portal: str, **fields: Any) -> None:
        await self.redis.hset(self.key(portal, "hh"), mapping=self._seal(fields))

    async def rotate_hh_tokens(self, portal: str, **fields: Any) -> None:
        """update_hh for a refresh, confirmed on a replica (see rotate_portal_tokens)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(self.key(portal, "hh"), mapping=self._seal(fields))
        await self.replicated(pipe=pipe)

    async def get_hh(self, portal: str) -> HhAccount | None:
        return await self._get_model(self.key(portal, "hh"), HhAccount)

    async def delete_hh(self, portal: str) -> None:
        await self.release_hh_account(portal)
        await self.redis.delete(self.key(portal, "hh"))

    async def webhook_account(self, portal: str) -> tuple[str, str]:
        """(subscription_id, user_id) of the connected HeadHunter account, "" when unknown: one HMGET, no
        decryption, so that the webhook receiver answers within HeadHunter's 2 seconds."""
        sub, user = await self.redis.hmget(self.key(portal, "hh"), ["subscription_id", "user_id"])
        return (text(sub) if sub else "", text(user) if user else "")

    # -- one portal per HeadHunter account ----------------------------------------------------------

    async def hh_account_owner(self, hh_user_id: str) -> str | None:
        value = await self.redis.get(hh_account_key(hh_user_id))
        return text(value) if value else None

    async def claim_hh_account(self, hh_user_id: str, portal: str) -> str | None:
        """Bind a HeadHunter user to this portal. Answers the other portal that holds it (nothing bound
        then), or None when it is this portal's now. A stale binding (its portal no longer holds that
        account) is taken over."""
        key = hh_account_key(hh_user_id)
        if await self.redis.set(key, portal, nx=True):
            return None
        owner = await self.hh_account_owner(hh_user_id)
        if owner is None or owner == portal:
            await self.redis.set(key, portal)
            return None
        held = await self.get_hh(owner)
        if held is not None and held.user_id == hh_user_id:
            record = await self.get_portal(owner)
            if record is not None and record.status_reason != UNINSTALLED_REASON:
                return owner
            # The app was removed from that portal (its data kept for a reinstall): the account moves here,
            # and the removed portal keeps none of its tokens.
            await self.redis.delete(self.key(owner, "hh"))
        # Compare-and-set: only the stale owner's binding is replaced, never a concurrent new one.
        swapped = await self.redis.eval(_CAS, 1, key, owner, portal)
        return None if swapped else await self.hh_account_owner(hh_user_id)

    async def release_hh_account(self, portal: str, hh_user_id: str | None = None) -> None:
        """Drop the binding of the portal's HeadHunter user (or of `hh_user_id`) if this portal holds it."""
        if hh_user_id is None:
            raw = await self.redis.hget(self.key(portal, "hh"), "user_id")
            hh_user_id = text(raw) if raw else ""
        if hh_user_id:
            await self.redis.eval(_DEL_IF, 1, hh_account_key(hh_user_id), portal)

    async def remember_last_hh(self, portal: str, account: HhAccount) -> None:
        """Who was connected before a logout: the next login with another account resets the sync state."""
        await self.redis.hset(self.key(portal, "hh-last"), mapping={"user_id": account.user_id,
                                                                    "employer_id": account.employer_id})

    async def last_hh(self, portal: str) -> tuple[str, str] | None:
        raw = await self.redis.hgetall(self.key(portal, "hh-last"))
        if not raw:
            return None
        data = {text(k): text(v) for k, v in raw.items()}
        return data.get("user_id", ""), data.get("employer_id", "")

    # -- rabota.by's daily resume view limit (the mapper waits it out; /api/import says so) ---------
    async def set_view_limit(self, *, portal: str, ttl_s: int) -> None:
        await self.redis.set(self.key(portal, "view-limit"), "1", ex=max(1, ttl_s))

    async def view_limit_reached(self, *, portal: str) -> bool:
        return bool(await self.redis.exists(self.key(portal, "view-limit")))

    # -- the re-login notice: one per lost connection, cleared on re-login ----------------------------
    async def claim_relogin_notice(self, *, portal: str) -> bool:
        """True for the one caller that is to send the notice of this loss."""
        return await self._claim(self.key(portal, "relogin-notified"))

    async def clear_relogin_notice(self, *, portal: str) -> None:
        await self.redis.delete(self.key(portal, "relogin-notified"))
