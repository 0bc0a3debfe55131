import asyncio

import nats
from rabota_common.bus import ensure_jetstream
from rabota_common.crypto import Crypto
from rabota_common.store import HhAccount, PortalRecord, Store
from rabota_common.subjects import portal_of

M1 = "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1"  # member_ids: 32 lowercase hex characters
M2 = "e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2"  # member_ids: 32 lowercase hex characters
M3 = "f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3"  # member_ids: 32 lowercase hex characters


async def test_tokens_encrypted_at_rest_and_portal_wipe(redis_client):
    store = Store(redis_client, Crypto("k"))
    await store.save_portal(PortalRecord(member_id=M1, domain="d", client_endpoint="e",
                                         access_token="AT-secret", refresh_token="RT-secret",
                                         application_token="APP-secret", webhook_secret="ws1"))
    await store.save_portal(PortalRecord(member_id=M2, domain="d2", client_endpoint="e2"))
    await store.save_hh(M1, HhAccount(access_token="HH-AT", refresh_token="HH-RT", is_admin=True))
    dump = b""
    async for key in redis_client.scan_iter():
        if await redis_client.type(key) == b"hash":
            dump += b"".join(k + v for k, v in (await redis_client.hgetall(key)).items())
    for secret in (b"AT-secret", b"RT-secret", b"APP-secret", b"HH-AT", b"HH-RT"):
        assert secret not in dump
    portal = await store.get_portal(M1)
    assert portal and portal.access_token == "AT-secret"
    hh = await store.get_hh(M1)
    assert hh and hh.is_admin and hh.refresh_token == "HH-RT"
    assert await store.portal_by_webhook_secret("ws1") == M1
    await store.wipe_portal(M1)
    assert await store.get_portal(M1) is None and await store.get_hh(M1) is None
    assert await store.get_portal(M2) is not None


async def test_import_counting_is_idempotent(redis_client):
    store = Store(redis_client, Crypto("k"))
    import_id = await store.start_import(M3)
    assert await store.add_found(M3, import_id, ["1", "2", "2"]) == ["1", "2"]
    assert await store.add_found(M3, import_id, ["2", "3"]) == ["3"]
    await store.finish_listing(M3, import_id)
    for nid in ("1", "1", "2", "3"):
        await store.count_result(M3, import_id, nid, ok=nid != "3")
    progress = await store.get_import(M3)
    assert (progress.found, progress.imported, progress.failed, progress.state) == (3, 2, 1, "done")


async def test_single_flight_lock(redis_client):
    store = Store(redis_client, Crypto("k"))
    inside = 0
    peak = 0

    async def worker():
        nonlocal inside, peak
        async with store.lock("x"):
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.02)
            inside -= 1

    await asyncio.gather(*(worker() for _ in range(5)))
    assert peak == 1


async def test_jetstream_layout_is_idempotent(nats_url):
    await ensure_jetstream(nats_url)
    await ensure_jetstream(nats_url)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    names = {s.config.name for s in await js.streams_info()}
    assert {"HH_WEBHOOK", "HH_NEGOTIATION", "CRM_COMMAND", "CRM_RESULT", "APP", "DLQ"} <= names
    first = await js.publish("hh.negotiation.p", b"{}", headers={"Nats-Msg-Id": "p:1:response"})
    again = await js.publish("hh.negotiation.p", b"{}", headers={"Nats-Msg-Id": "p:1:response"})
    assert again.duplicate and not first.duplicate
    await js.object_store("resumes")
    await nc.close()


async def test_an_existing_deployment_gets_the_import_subject(nats_url):
    """A stream created before hh.negotiation.import.{portal} existed is widened at start, keeping its messages;
    the live and bulk consumers' filters split its subjects."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.add_stream(name="HH_NEGOTIATION", subjects=["hh.negotiation.*"], duplicate_window=120.0)
    await js.publish("hh.negotiation.p", b"{}")
    await ensure_jetstream(nats_url)
    info = await js.stream_info("HH_NEGOTIATION")
    assert info.config.subjects == ["hh.negotiation.>"] and info.state.messages == 1
    await js.publish("hh.negotiation.import.p", b"{}")
    live = await js.pull_subscribe("hh.negotiation.*", durable="live", stream="HH_NEGOTIATION")
    bulk = await js.pull_subscribe("hh.negotiation.import.*", durable="bulk", stream="HH_NEGOTIATION")
    assert [m.subject for m in await live.fetch(5, timeout=1.0)] == ["hh.negotiation.p"]
    assert [m.subject for m in await bulk.fetch(5, timeout=1.0)] == ["hh.negotiation.import.p"]
    assert portal_of("hh.negotiation.import.p") == "p"
    await nc.close()
