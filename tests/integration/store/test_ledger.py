from __future__ import annotations

from rabota_common.entity_ref import EntityRef, LedgerRef
from rabota_common.store import Store

from tests.integration.store.support import P1


async def test_refs_read_as_ledger_refs_with_their_stamps(store: Store) -> None:
    assert await store.ledger_refs(portal=P1, negotiation_ids=[]) == ([], [])
    await store.record_created(P1, {"n1": LedgerRef(EntityRef(2, 12), "response", 0)}, {"app1": 77})
    await store.set_entity(P1, "n2", "lead:5:invitation")  # written before types were stored
    await store.set_written_at(P1, {"n1": 1700000000.5})
    refs, stamps = await store.ledger_refs(portal=P1, negotiation_ids=["n1", "n2", "n3"])
    assert refs == [LedgerRef(EntityRef(2, 12), "response", 0), LedgerRef(EntityRef(1, 5), "invitation"), None]
    assert stamps == [1700000000.5, None, None]
    assert await store.ledger_ref(portal=P1, negotiation_id="n2") == LedgerRef(EntityRef(1, 5), "invitation")
    assert await store.ledger_ref(portal=P1, negotiation_id="n3") is None
    assert await store.known_negotiations(P1) == {"n1", "n2"}
    assert await store.get_contact(P1, "app1") == 77 and await store.get_contact(P1, "app2") is None
    await store.set_contact(P1, "app2", 78)
    assert await store.get_contact(P1, "app2") == 78


async def test_ledger_states_read_the_state_part(store: Store) -> None:
    for nid, raw in (("1", "lead:10:response:5"), ("2", "lead:11:interview"), ("3", "lead:12:?:0")):
        await store.set_entity(P1, nid, raw)
    assert await store.ledger_states(portal=P1) == {"1": "response", "2": "interview", "3": "?"}


async def test_trust_marks(store: Store) -> None:
    assert not await store.ledger_trusted(portal=P1)  # no epoch: the CRM is checked before creating
    await store.start_ledger_epoch(portal=P1)
    epoch = await store.redis.get(store.key(P1, "ledger", "epoch"))
    await store.start_ledger_epoch(portal=P1)  # kept as it was
    assert await store.redis.get(store.key(P1, "ledger", "epoch")) == epoch
    assert await store.ledger_trusted(portal=P1)
    await store.mark_writing(portal=P1)
    await store.clear_writing(portal=P1)
    assert await store.ledger_trusted(portal=P1)
    await store.mark_writing(portal=P1)  # a writer died between creating and recording
    assert not await store.ledger_trusted(portal=P1)
    assert not await store.ledger_trusted(portal=P1)  # the epoch is gone with the mark
