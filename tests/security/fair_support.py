"""Helpers of tests/security/test_fair.py: a ui-only stack with an installed portal seeded straight into
Redis (the identity flow is not under test here) and a session of one of its users."""

from __future__ import annotations

import redis.asyncio as aioredis
from rabota_common.crypto import Crypto
from rabota_common.settings import SANDBOX_APP_SECRET_KEY
from rabota_common.store import PortalRecord, Store

PORTAL_A = "a" * 32
PORTAL_B = "b" * 32


async def seed_portal(redis_url: str, member_id: str) -> tuple[aioredis.Redis, Store]:
    client = aioredis.Redis.from_url(redis_url)
    store = Store(client, Crypto(SANDBOX_APP_SECRET_KEY))
    await store.save_portal(PortalRecord(member_id=member_id, domain=f"{member_id[:6]}.bitrix24.by",
                                         client_endpoint=f"https://{member_id[:6]}.bitrix24.by/rest/"))
    return client, store


def session_for(member_id: str, user_id: int) -> str:
    return Crypto(SANDBOX_APP_SECRET_KEY).sign({"kind": "session", "p": member_id, "u": user_id}, 3600)
