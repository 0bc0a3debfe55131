"""References to CRM entities, one parser for all (the ledger, the by-entity index, the applicant sets and
the entity-info records).

An entity is named by its Bitrix24 `entityTypeId` and id: `{entityTypeId}:{id}` (`1:5` a lead, `2:7` a
deal, `1038:42` item 42 of the smart process 1038). Item ids are numbered per smart process, so an id
without its type names nothing: after a switch from smart process A to B, B's item 42 is not A's.

Records written before types were stored read as before: `lead:5` is `1:5` and `deal:7` is `2:7`. The old
`smart_process:42` did not say which smart process it was, and guessing (the portal's current settings)
is exactly what would make B's item 42 stand for A's: it reads as an entity of unknown type
(`entity_type_id` 0), which equals no real entity, so nothing (back-sync above all) acts on it. The
writer rewrites such a ledger entry in the typed form once it finds the entity by its origin id.
"""

from __future__ import annotations

from dataclasses import dataclass

LEAD, DEAL, CONTACT = 1, 2, 3
UNKNOWN_TYPE = 0
# Bitrix24 numbers smart processes from 128 (CCrmOwnerType::DynamicTypeStart; newer portals from 1030).
FIRST_DYNAMIC_TYPE = 128
MAX_ID = 2**31 - 1

_LEGACY_TYPES = {"lead": LEAD, "deal": DEAL, "contact": CONTACT}
_NAMES = {LEAD: "lead", DEAL: "deal"}


def _int(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 10 else None


def type_name(entity_type_id: int) -> str:
    """The app's word for a type (`lead`, `deal`, `smart_process`), as the API answers it."""
    return _NAMES.get(entity_type_id, "smart_process")


def is_smart_process(entity_type_id: int) -> bool:
    return FIRST_DYNAMIC_TYPE <= entity_type_id <= MAX_ID


@dataclass(frozen=True)
class EntityRef:
    entity_type_id: int  # 0: an old `smart_process:{id}` record, type unknown
    entity_id: int

    def __str__(self) -> str:
        return f"{self.entity_type_id}:{self.entity_id}"

    @property
    def known(self) -> bool:
        return self.entity_type_id > 0 and self.entity_id > 0

    @property
    def entity_type(self) -> str:
        return type_name(self.entity_type_id)

    @property
    def legacy(self) -> str | None:
        """The untyped form records of leads and deals had before (`lead:5`); none for smart processes."""
        name = _NAMES.get(self.entity_type_id)
        return f"{name}:{self.entity_id}" if name else None

    def same(self, other: EntityRef | None) -> bool:
        """Exactly this entity: same known type, same id (an unknown type equals nothing)."""
        return other is not None and self.known and other.known and self == other

    @classmethod
    def parse_parts(cls, kind: str, entity_id: str) -> EntityRef | None:
        eid = _int(entity_id)
        if eid is None:
            return None
        etid = _int(kind)
        if etid is None:
            etid = _LEGACY_TYPES.get(kind, UNKNOWN_TYPE if kind == "smart_process" else -1)
        return cls(etid, eid) if etid >= 0 else None

    @classmethod
    def parse(cls, raw: str) -> EntityRef | None:
        """`1038:42`, or an old `lead:5` / `deal:7` / `smart_process:42`; None when it is neither."""
        kind, _, eid = raw.partition(":")
        return cls.parse_parts(kind, eid)


@dataclass(frozen=True)
class LedgerRef:
    """What the ledger knows about a negotiation: `{entityTypeId}:{entity id}:{hh state}[:{activity id}]`
    (before types were stored: `{lead|deal|smart_process}:{id}:{state}[:{activity}]`, read as above).

    Activity id 0 means the entity exists but its timeline activity does not (yet); a ref without
    the part comes from before activities were recorded and counts as complete.
    """

    entity: EntityRef
    state: str
    activity_id: int | None = None

    @property
    def entity_id(self) -> int:
        return self.entity.entity_id

    def __str__(self) -> str:
        tail = "" if self.activity_id is None else f":{self.activity_id}"
        return f"{self.entity}:{self.state}{tail}"

    @classmethod
    def parse(cls, raw: str) -> LedgerRef:
        parts = raw.split(":")
        entity = EntityRef.parse_parts(parts[0], parts[1] if len(parts) > 1 else "")
        activity = int(parts[3]) if len(parts) > 3 and parts[3].lstrip("-").isdigit() else None
        return cls(entity or EntityRef(UNKNOWN_TYPE, 0), parts[2] if len(parts) > 2 else "?", activity)

    @property
    def needs_activity(self) -> bool:
        return self.activity_id == 0
