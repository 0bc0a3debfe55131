"""store/replication.py and the writes confirmed through it, on the tests' single Redis (no replica): without
confirmation (wait_replicas 0, a single Redis) they are plain writes; asked to confirm on a replica that is not
there, the write is made and NotReplicated (transient) says it is not safe yet. The failover itself:
tests/integration/test_redis_sentinel.py and tests/reliability/test_redis_failover.py."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from rabota_common.crypto import Crypto
from rabota_common.errors import NotReplicated
from rabota_common.store import HhAccount, PortalRecord, Store

from tests.integration.store.support import P1, all_values


async def test_without_confirmation_the_writes_are_plain(store: Store) -> None:
    assert store.wait_replicas == 0
    assert await store.replication_id() == ""
    assert await store.replicated() == []
    assert await store.replicated("any-id") == []  # nothing to compare without confirmation
    pipe = store.redis.pipeline(transaction=False)
    pipe.set("rs:replication-test", "1")
    pipe.get("rs:replication-test")
    assert await store.replicated(pipe=pipe) == [True, b"1"]
    await store.mark_writing(portal=P1)
    assert not await store.ledger_trusted(portal=P1)  # the mark was set (and is dropped by the check)


async def test_rotated_tokens_are_sealed_like_updates(store: Store) -> None:
    await store.save_portal(PortalRecord(member_id=P1, domain="a.bitrix24.by", client_endpoint="https://a/rest/",
                                         access_token="AT-1", refresh_token="RT-1"))
    await store.rotate_portal_tokens(P1, access_token="AT-2", refresh_token="RT-2", expires_at=5.0)
    record = await store.get_portal(P1)
    assert record is not None and (record.access_token, record.refresh_token, record.expires_at) == ("AT-2", "RT-2",
                                                                                                      5.0)
    await store.save_hh(P1, HhAccount(access_token="HH-AT", refresh_token="HH-RT", user_id="u1"))
    await store.rotate_hh_tokens(P1, access_token="HH-AT-2", refresh_token="HH-RT-2")
    account = await store.get_hh(P1)
    assert account is not None and (account.access_token, account.refresh_token) == ("HH-AT-2", "HH-RT-2")
    blob = await all_values(store.redis)
    assert b"AT-2" not in blob and b"RT-2" not in blob


async def test_a_missing_replica_is_reported_after_the_write(redis_client: aioredis.Redis) -> None:
    store = Store(redis_client, Crypto("store-tests"), wait_replicas=1, wait_ms=50)
    since = await store.replication_id()
    assert since  # the primary's replication id
    with pytest.raises(NotReplicated, match="0 of 1"):
        await store.replicated(since)
    with pytest.raises(NotReplicated, match="primary changed"):
        await store.replicated("an-id-of-another-primary")
    with pytest.raises(NotReplicated):
        await store.record_created(P1, {}, {"applicant-1": 7})
    assert await store.get_contact(P1, "applicant-1") == 7  # written; only its confirmation is missing
