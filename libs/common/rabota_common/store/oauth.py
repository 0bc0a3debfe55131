"""OAuth state: single-use nonces of the ui's sign-in flows."""

from __future__ import annotations

import secrets

from rabota_common.store._base import StoreBase, text


def state_key(nonce: str) -> str:
    return f"rs:oauth-state:{nonce}"


class OAuthStore(StoreBase):
    async def remember_state(self, nonce: str, ttl_s: int, owner: str = "1") -> None:
        await self.redis.set(state_key(nonce), owner, ex=ttl_s)

    async def consume_state(self, nonce: str, owner: str = "1") -> bool:
        """True once for a remembered nonce of this owner (`{portal}:{user}`), never again."""
        value = await self.redis.getdel(state_key(nonce))
        return bool(value) and secrets.compare_digest(text(value), owner)
