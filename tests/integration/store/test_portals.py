from __future__ import annotations

import pytest
from rabota_common.store import PortalRecord, Store

from tests.integration.store.support import P1, P2, all_values


async def test_portal_record_secrets_sealed_and_webhook_secret_rotation(store: Store) -> None:
    await store.save_portal(PortalRecord(member_id=P1, domain="a.bitrix24.by", client_endpoint="https://a/rest/",
                                         access_token="AT-1", refresh_token="RT-1", webhook_secret="old"))
    assert b"AT-1" not in await all_values(store.redis)
    assert await store.portals() == [P1]
    assert await store.portal_by_webhook_secret("old") == P1
    new = await store.rotate_webhook_secret(P1)
    assert await store.portal_by_webhook_secret("old") is None
    assert await store.portal_by_webhook_secret(new) == P1
    record = await store.get_portal(P1)
    assert record is not None and record.webhook_secret == new and record.access_token == "AT-1"
    await store.update_portal(P1, status="paused")
    assert (await store.get_portal(P1) or record).status == "paused"


async def test_rotating_the_webhook_secret_of_an_unknown_portal_writes_nothing(store: Store) -> None:
    with pytest.raises(LookupError):
        await store.rotate_webhook_secret(P2)
    assert await store.get_portal(P2) is None and await store.portals() == []


async def test_a_portal_id_that_is_not_a_member_id_is_no_key(store: Store) -> None:
    assert await store.get_portal("../x") is None
    await store.redis.set("rs:webhook-secret:evil", "not-a-member-id")
    assert await store.portal_by_webhook_secret("evil") is None


async def test_crm_mode(store: Store) -> None:
    assert await store.crm_mode(portal=P2) is None
    await store.put_crm_mode(portal=P2, mode=2)
    assert await store.crm_mode(portal=P2) == 2
