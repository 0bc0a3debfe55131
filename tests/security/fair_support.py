"""Helpers of tests/security/test_fair.py: a ui-only stack with an installed portal seeded straight into
Redis (the identity flow is not under test here) and a session of one of its users."""

from __future__ import annotations

import redis.asyncio as aioredis
from rabota_common.crypto import SESSION, Crypto
from rabota_common.settings import SANDBOX_APP_SECRET_KEY
from rabota_common.store import PortalRecord, Store

PORTAL_A = "a" * 32
PORTAL_B = "b" * 32
GENERATION = "f00dfeed"  # the install generation of the seeded portals; sessions carry it


async def seed_portal(redis_url: str, member_id: str) -> tuple[aioredis.Redis, Store]:
    client = aioredis.Redis.from_url(redis_url)
    store = Store(client, Crypto(SANDBOX_APP_SECRET_KEY))
    await store.save_portal(PortalRecord(member_id=member_id, domain=f"{member_id[:6]}.bitrix24.by",
                                         client_endpoint=f"https://{member_id[:6]}.bitrix24.by/rest/",
                                         generation=GENERATION))
    return client, store


def session_for(member_id: str, user_id: int, is_admin: bool = True) -> str:
    """A session as the ui issues it (deps.new_session): role and install generation, session-signing key."""
    return Crypto(SANDBOX_APP_SECRET_KEY).sign(
        {"kind": "session", "p": member_id, "u": user_id, "a": is_admin, "g": GENERATION}, 3600, purpose=SESSION)


def failed_command(member_id: str, negotiation_id: str) -> dict[str, object]:
    """A CrmCommand as a failure record keeps it (the writer left it failed)."""
    from rabota_common.models import ActivityContent, ContactData, CrmCommand

    cmd = CrmCommand(portal=member_id, negotiation_id=negotiation_id, vacancy_id="1", kind="response",
                     hh_status="response", entity_type="lead", entity_type_id=1, responsible_id=1,
                     title="Отклик", contact=ContactData(name="Иван"), comments="", created_date="01-12-2026",
                     status_name="Отклик", vacancy_name="Вакансия", applicant_key=negotiation_id,
                     activity=ActivityContent(title="Отклик", vacancy="Вакансия", full_name="Иван",
                                              applicant_key=negotiation_id))
    return cmd.model_dump(mode="json")
