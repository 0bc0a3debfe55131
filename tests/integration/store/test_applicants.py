from __future__ import annotations

from rabota_common.entity_ref import EntityRef
from rabota_common.store import Failure, Store, WrittenEntity

from tests.integration.store.support import P1, all_values

INFO = {"vacancy": "Повар", "status": "Отклик", "created_at": "01.02.2026", "negotiation_id": "n1"}


async def test_written_entities_read_back_per_applicant_personal_fields_sealed(store: Store) -> None:
    lead = WrittenEntity(EntityRef(1, 5), "app1", dict(INFO, url="/crm/lead/details/5/"))
    item = WrittenEntity(EntityRef(1040, 42), "app1", dict(INFO, url="/crm/type/1040/details/42/", negotiation_id="n2"))
    assert await store.record_written(portal=P1, negotiation_id="n1", written=lead) is None
    assert await store.record_written(portal=P1, negotiation_id="n2", written=item) is None
    assert "Повар".encode() not in await all_values(store.redis)
    assert await store.entity_applicant(P1, EntityRef(1040, 42)) == "app1"
    assert await store.entity_applicant(P1, EntityRef(1038, 42)) is None  # another smart process's item 42
    assert await store.entity_negotiation(P1, EntityRef(1, 5)) == "n1"
    entities = await store.applicant_entities(P1, "app1")
    assert [ref for ref, _ in entities] == [EntityRef(1, 5), EntityRef(1040, 42)]
    infos = await store.entity_infos(P1, [key for _, key in entities])
    assert [i["vacancy"] for i in infos] == ["Повар", "Повар"] and infos[1]["negotiation_id"] == "n2"
    assert await store.applicant_keys_of(portal=P1) == {"1:5": "app1", "1040:42": "app1"}


async def test_legacy_records_are_read_and_superseded(store: Store) -> None:
    pipe = store.redis.pipeline(transaction=False)  # as an older version wrote them
    pipe.hset(store.key(P1, "by-entity"), mapping={"lead:5": "app1", "smart_process:42": "app1"})
    pipe.zadd(store.key(P1, "applicant", "app1"), {"lead:5": 5, "smart_process:42": 42})
    pipe.hset(store.key(P1, "entity-info", "lead:5"), mapping=store.seal_info(dict(INFO, url="/crm/lead/details/5/")))
    pipe.hset(store.key(P1, "entity-info", "smart_process:42"),
              mapping=store.seal_info(dict(INFO, url="/crm/type/1040/details/42/")))
    await pipe.execute()
    assert await store.entity_applicant(P1, EntityRef(1, 5)) == "app1"
    assert await store.entity_applicant(P1, EntityRef(1040, 42)) == "app1"  # its URL names this smart process
    assert await store.entity_applicant(P1, EntityRef(1038, 42)) is None  # never a guess from the id alone
    assert [ref for ref, _ in await store.applicant_entities(P1, "app1")] == [EntityRef(1, 5), EntityRef(1040, 42)]
    lead = WrittenEntity(EntityRef(1, 5), "app1", dict(INFO, url="/crm/lead/details/5/"))
    await store.record_written(portal=P1, negotiation_id="n1", written=lead)
    assert await store.applicant_keys_of(portal=P1) == {"1:5": "app1", "smart_process:42": "app1"}


async def test_record_written_answers_the_earlier_failure(store: Store) -> None:
    await store.add_failure(P1, Failure(negotiation_id="n1", reason="Поле не найдено"))
    failure = await store.record_written(portal=P1, negotiation_id="n1", written=None)
    assert failure is not None and failure.reason == "Поле не найдено"
    assert [f.negotiation_id for f in await store.failures(P1)] == ["n1"]  # clearing it is the caller's
