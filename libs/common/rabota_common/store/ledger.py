"""The ledger (idempotency, DESIGN §4): negotiation → `LedgerRef`, applicant → contact, when each negotiation's
last written command was current, and the two marks that say whether the ledger can be trusted (the epoch:
"complete"; writing: "Bitrix24 may hold what the ledger does not")."""

from __future__ import annotations

import time
from typing import Any

from rabota_common.entity_ref import LedgerRef
from rabota_common.store._base import text
from rabota_common.store.replication import ReplicationStore


def _ref(value: Any) -> LedgerRef | None:
    return LedgerRef.parse(text(value)) if value else None


class LedgerStore(ReplicationStore):
    async def ledger_ref(self, *, portal: str, negotiation_id: str) -> LedgerRef | None:
        return _ref(await self.redis.hget(self.key(portal, "ledger", "entity"), negotiation_id))

    async def ledger_refs(self, *, portal: str, negotiation_ids: list[str]
                          ) -> tuple[list[LedgerRef | None], list[float | None]]:
        """The ledger refs of several negotiations and when (HeadHunter's updated_at, epoch seconds) each one's
        last written command was current, in one round trip."""
        if not negotiation_ids:
            return [], []
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(self.key(portal, "ledger", "entity"), negotiation_ids)
        pipe.hmget(self.key(portal, "ledger", "written-at"), negotiation_ids)
        refs, stamps = await pipe.execute()
        return [_ref(v) for v in refs], [float(text(v)) if v else None for v in stamps]

    async def ledger_states(self, *, portal: str) -> dict[str, str]:
        """negotiation id → the status key the CRM entity carries."""
        raw = await self.redis.hgetall(self.key(portal, "ledger", "entity"))
        return {text(k): ref.state for k, v in raw.items() if (ref := _ref(v)) is not None}

    async def record_created(self, portal: str, entities: dict[str, LedgerRef], contacts: dict[str, int]) -> None:
        """Ledger entries of what one Bitrix24 batch created (negotiation -> ref, applicant -> contact), confirmed
        on a replica in the same round trip (`replicated`): only then may the writer drop its "writing" mark."""
        pipe = self.redis.pipeline(transaction=False)
        if contacts:
            pipe.hset(self.key(portal, "ledger", "contact"), mapping={k: str(v) for k, v in contacts.items()})
        if entities:
            refs: dict[Any, Any] = {k: str(v) for k, v in entities.items()}
            pipe.hset(self.key(portal, "ledger", "entity"), mapping=refs)
        await self.replicated(pipe=pipe)

    async def set_written_at(self, portal: str, stamps: dict[str, float]) -> None:
        if stamps:
            await self.redis.hset(self.key(portal, "ledger", "written-at"),
                                  mapping={k: repr(v) for k, v in stamps.items()})

    async def set_entity(self, portal: str, negotiation_id: str, ref: LedgerRef | str) -> None:
        """One ledger entry (a str is written as it is: records of older versions, in tests)."""
        await self.redis.hset(self.key(portal, "ledger", "entity"), negotiation_id, str(ref))

    async def negotiation_kind(self, portal: str, *, negotiation_id: str, decide: str | None = None) -> str | None:
        """Response or invitation, as first decided for the negotiation (the ledger's `kind` hash): with
        `decide`, that decision is kept unless one was made before (HSETNX), and the kept one is returned, so
        it never flips later; without, only read (None: not decided yet)."""
        key = self.key(portal, "ledger", "kind")
        if decide is not None:
            await self.redis.hsetnx(key, negotiation_id, decide)
        value = await self.redis.hget(key, negotiation_id)
        return text(value) if value else None

    async def known_negotiations(self, portal: str) -> set[str]:
        keys = await self.redis.hkeys(self.key(portal, "ledger", "entity"))
        return {text(k) for k in keys}

    async def get_contact(self, portal: str, applicant_key: str) -> int | None:
        value = await self.redis.hget(self.key(portal, "ledger", "contact"), applicant_key)
        return int(text(value)) if value else None

    async def set_contact(self, portal: str, applicant_key: str, contact_id: int) -> None:
        await self.redis.hset(self.key(portal, "ledger", "contact"), applicant_key, str(contact_id))

    # -- trust marks -----------------------------------------------------------------------------
    async def ledger_trusted(self, *, portal: str) -> bool:
        """Whether the ledger is complete (its epoch is there). A writing mark left by a writer that died
        between creating in Bitrix24 and recording it drops the epoch: the ledger may miss entities from
        then on. Call it after reading the ledger, holding the portal's write lock."""
        epoch, writing = self.key(portal, "ledger", "epoch"), self.key(portal, "ledger", "writing")
        trusted = bool(await self.redis.exists(epoch))
        if await self.redis.exists(writing):
            await self.redis.delete(epoch, writing)
            trusted = False
        return trusted

    async def start_ledger_epoch(self, *, portal: str) -> None:
        """The ledger is complete from now on (kept if it already was)."""
        await self.redis.set(self.key(portal, "ledger", "epoch"), str(time.time()), nx=True)

    async def mark_writing(self, *, portal: str) -> None:
        """The crm-writer's mark, set while Bitrix24 may hold entities the ledger does not (see the writer),
        confirmed on a replica in the same round trip before anything is created: a failover that lost the mark
        together with the ledger entries after it would leave a complete-looking ledger, and the next delivery
        would create the entities again; a mark that survives makes the next group look them up instead."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self.key(portal, "ledger", "writing"), "1")
        await self.replicated(pipe=pipe)

    async def clear_writing(self, *, portal: str) -> None:
        await self.redis.delete(self.key(portal, "ledger", "writing"))
