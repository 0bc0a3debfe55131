"""Ledger and entity references: the typed form, the legacy forms read back, and which entities are the same."""

from __future__ import annotations

from rabota_common.entity_ref import EntityRef, LedgerRef
from rabota_crm_writer.writer import ledger_ref


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
