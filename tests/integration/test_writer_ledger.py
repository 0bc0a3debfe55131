"""crm-writer pieces against a real Redis: ledger refs, notification dedupe, SPA field names."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

from rabota_common.crypto import Crypto
from rabota_common.entity_ref import EntityRef, LedgerRef
from rabota_common.models import B24Token
from rabota_common.store import Store
from rabota_crm_writer import commands as c
from rabota_crm_writer.notify import notify_failure
from rabota_crm_writer.writer import ledger_ref

P1 = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"  # member_ids: 32 lowercase hex characters
P2 = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"  # member_ids: 32 lowercase hex characters


def test_ledger_ref_round_trip_and_legacy_form() -> None:
    ref = LedgerRef.parse(str(ledger_ref(2, 12, "response", 0)))
    assert ref.entity == EntityRef(2, 12) and ref.entity_id == 12 and ref.state == "response" and ref.needs_activity
    assert str(ref) == "2:12:response:0"
    assert str(LedgerRef.parse("1038:42:invitation:77")) == "1038:42:invitation:77"
    # Written before types were stored: a lead and a deal read with their type and are written back typed.
    assert str(LedgerRef.parse("lead:5:invitation:77")) == "1:5:invitation:77"
    legacy = LedgerRef.parse("lead:5:invitation")
    assert legacy.entity == EntityRef(1, 5) and legacy.activity_id is None and not legacy.needs_activity
    assert LedgerRef.parse("deal:7:response:3").entity == EntityRef(2, 7)
    # An old smart-process ref does not say which smart process: its type is unknown and it equals nothing.
    spa = LedgerRef.parse("smart_process:42:discard:9")
    assert spa.entity == EntityRef(0, 42) and not spa.entity.known and spa.state == "discard"
    assert not EntityRef(1038, 42).same(spa.entity) and not spa.entity.same(spa.entity)
    assert EntityRef(1038, 42).same(EntityRef(1038, 42)) and not EntityRef(1038, 42).same(EntityRef(1040, 42))
    assert EntityRef.parse("nonsense:1") is None and EntityRef.parse("1:x") is None


async def test_entity_records_are_typed_and_old_ones_still_read(redis_client: Any) -> None:
    store = Store(redis_client, Crypto("k"))
    p = "e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5"  # a member_id
    info = {"vacancy": "V", "status": "S", "created_at": "2026-01-01", "negotiation_id": "n1"}
    # Before the upgrade: an untyped lead, and item 42 of smart process 1038 (its URL names the type).
    await redis_client.hset(store.key(p, "by-entity"), mapping={"lead:5": "app1", "smart_process:42": "app1"})
    await redis_client.zadd(store.key(p, "applicant", "app1"), {"lead:5": 5, "smart_process:42": 42})
    await redis_client.hset(store.key(p, "entity-info", "lead:5"), mapping=dict(info, url="/crm/lead/details/5/"))
    await redis_client.hset(store.key(p, "entity-info", "smart_process:42"),
                            mapping=dict(info, url="/crm/type/1038/details/42/", negotiation_id="n2"))
    assert await store.entity_applicant(p, EntityRef(1, 5)) == "app1"
    assert await store.entity_negotiation(p, EntityRef(1038, 42)) == "n2"
    # Item 42 of another smart process, and a deal 5, are not those entities.
    assert await store.entity_applicant(p, EntityRef(1040, 42)) is None
    assert await store.entity_negotiation(p, EntityRef(1040, 42)) is None
    assert await store.entity_applicant(p, EntityRef(2, 5)) is None
    assert await store.entity_applicant(p, EntityRef(0, 42)) is None
    assert [(str(r), k) for r, k in await store.applicant_entities(p, "app1")] == [
        ("1:5", "lead:5"), ("1038:42", "smart_process:42")]
    # Written again after the upgrade: typed keys, the old lead record superseded, each entity listed once.
    pipe = redis_client.pipeline(transaction=False)
    store.queue_entity_written(pipe, p, EntityRef(1, 5), "app1", dict(info, url="/crm/lead/details/5/"))
    store.queue_entity_written(pipe, p, EntityRef(1040, 42), "app2", dict(info, url="/crm/type/1040/details/42/"))
    await pipe.execute()
    assert not await redis_client.hexists(store.key(p, "by-entity"), "lead:5")
    assert await store.entity_applicant(p, EntityRef(1, 5)) == "app1"
    assert await store.entity_applicant(p, EntityRef(1040, 42)) == "app2"
    assert await store.entity_applicant(p, EntityRef(1038, 42)) == "app1"
    assert [str(r) for r, _ in await store.applicant_entities(p, "app1")] == ["1:5", "1038:42"]
    assert [str(r) for r, _ in await store.applicant_entities(p, "app2")] == ["1040:42"]
    # An old smart-process entry whose records now belong to someone else is not listed for this applicant.
    await redis_client.hset(store.key(p, "by-entity"), "smart_process:42", "app3")
    assert [str(r) for r, _ in await store.applicant_entities(p, "app1")] == ["1:5"]


def test_spa_user_field_names_and_file_format() -> None:
    assert c.spa_uf(1, c.UF_STATUS) == "UF_CRM_1_RABOTABY_STATUS"
    method, params = c.lookup_activities(["1", "2"])
    assert method == "crm.activity.list" and params["filter"]["@ORIGIN_ID"] == ["1", "2"]
    assert c.found_activities([{"ID": "9", "ORIGIN_ID": "1", "OWNER_TYPE_ID": "2", "OWNER_ID": "4"}]) == {
        ("1", 2, 4): 9}


class FakeB24:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def call(self, endpoint: str, token: str, method: str, params: dict[str, Any]) -> Any:
        self.calls.append((method, params))
        return 1


async def test_one_notification_per_portal_and_cause(redis_client: Any) -> None:
    store = Store(redis_client, Crypto("k"))
    b24 = FakeB24()

    async def b24_token(portal: str, stale_token: str | None = None) -> B24Token:
        return B24Token(ok=True, access_token="t", client_endpoint="http://x/rest/")

    rt: Any = SimpleNamespace(redis=redis_client, store=store, b24=b24, b24_token=b24_token,
                              log=logging.getLogger("test"))
    cmd: Any = SimpleNamespace(portal=P1, responsible_id=3)
    assert await notify_failure(rt, cmd, "Не заполнено обязательное поле X")
    assert not await notify_failure(rt, cmd, "Не заполнено обязательное поле X")
    assert await notify_failure(rt, cmd, "Другая причина")
    other: Any = SimpleNamespace(portal=P2, responsible_id=3)
    assert await notify_failure(rt, other, "Не заполнено обязательное поле X")
    assert [m for m, _ in b24.calls] == ["im.notify.system.add"] * 3
    assert b24.calls[0][1]["USER_ID"] == 3 and "обязательное поле" in b24.calls[0][1]["MESSAGE"]
