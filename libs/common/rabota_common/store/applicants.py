"""The applicant view of what the crm-writer wrote (the Other responses view, back-sync): the by-entity index
(entity → applicant), each applicant's entities, and each entity's info record (personal fields sealed).

The ui (Other responses) and the poller (back-sync) read the writer's results here, through these methods,
not from a consumer of `crm.result.*`: they ask by entity (which applicant wrote this card, which negotiation
moves with it), at any time and for entities written long before, so a consumer would only rebuild this very
index in a second place; `crm.result.*` carries no applicant or card data, and a CLEAN uninstall must find
every such key by name (lifecycle.py).

Keyed by `EntityRef` (`{entityTypeId}:{id}`). Records from before types were stored are keyed `lead:5` /
`deal:7` / `smart_process:42`; they are still read (see `_legacy_key`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rabota_common.entity_ref import EntityRef, is_smart_process
from rabota_common.store._base import StoreBase, text
from rabota_common.store.failures import Failure, FailuresStore

# Personal data at rest is sealed (Crypto.seal: the personal-data key) by the helpers below.
# What an entity-info record (the Other responses view) says about an applicant; its other fields are ids.
PERSONAL_INFO_FIELDS = frozenset({"vacancy", "status", "created_at"})


@dataclass(frozen=True)
class WrittenEntity:
    """An entity the writer wrote for one applicant, and what the Other responses view shows of it."""

    ref: EntityRef
    applicant_key: str
    info: dict[str, str]


class ApplicantsStore(FailuresStore, StoreBase):
    def seal_info(self, info: dict[str, Any]) -> dict[Any, Any]:
        """An entity-info record (Other responses) as stored: its personal fields sealed, its ids in clear."""
        return {k: self.seal(str(v)) if k in PERSONAL_INFO_FIELDS else str(v) for k, v in info.items()}

    def open_info(self, raw: dict[Any, Any]) -> dict[str, str]:
        return {text(k): self.unseal(v) if text(k) in PERSONAL_INFO_FIELDS else text(v) for k, v in raw.items()}

    def queue_entity_written(self, pipe: Any, portal: str, ref: EntityRef, applicant_key: str,
                             info: dict[str, str]) -> None:
        """Add to `pipe` what the Other responses view and back-sync read about a written entity."""
        key = str(ref)
        pipe.hset(self.key(portal, "by-entity"), key, applicant_key)
        pipe.zadd(self.key(portal, "applicant", applicant_key), {key: ref.entity_id})
        pipe.hset(self.key(portal, "entity-info", key), mapping=self.seal_info(info))
        if ref.legacy:  # the untyped record of the same lead or deal is superseded
            pipe.hdel(self.key(portal, "by-entity"), ref.legacy)
            pipe.zrem(self.key(portal, "applicant", applicant_key), ref.legacy)
            pipe.delete(self.key(portal, "entity-info", ref.legacy))

    async def record_written(self, *, portal: str, negotiation_id: str,
                             written: WrittenEntity | None) -> Failure | None:
        """Record a written negotiation's entity (when there is one) and answer the failure recorded for the
        negotiation before, if any, in one round trip (the failure itself is `FailuresStore`'s to clear)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(self.key(portal, "failures"), negotiation_id)
        if written is not None:
            self.queue_entity_written(pipe, portal, written.ref, written.applicant_key, written.info)
        failure = (await pipe.execute())[0]
        return self.open_failure(failure) if failure else None

    @staticmethod
    def _url_type(info: dict[str, str], entity_id: int) -> int | None:
        """The smart process an old `smart_process:{id}` record was written for, from its card URL
        (`/crm/type/{entityTypeId}/details/{id}/`, written together with the record)."""
        parts = info.get("url", "").strip("/").split("/")
        if len(parts) == 5 and parts[:2] == ["crm", "type"] and parts[3] == "details" and parts[4] == str(entity_id):
            etid = EntityRef.parse_parts(parts[2], str(entity_id))
            if etid is not None and is_smart_process(etid.entity_type_id):
                return etid.entity_type_id
        return None

    async def _legacy_key(self, portal: str, ref: EntityRef) -> str | None:
        """The old key of this exact entity, if it has one: a lead's or deal's, or a smart-process item's
        whose record names this very smart process (never a guess from the id alone)."""
        if ref.legacy:
            return ref.legacy
        if not is_smart_process(ref.entity_type_id):
            return None
        key = f"smart_process:{ref.entity_id}"
        info = await self.entity_info(portal, key)
        return key if self._url_type(info, ref.entity_id) == ref.entity_type_id else None

    async def entity_info(self, portal: str, key: str) -> dict[str, str]:
        return self.open_info(await self.redis.hgetall(self.key(portal, "entity-info", key)))

    async def entity_infos(self, portal: str, keys: list[str]) -> list[dict[str, str]]:
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(self.key(portal, "entity-info", key))
        return [self.open_info(raw) for raw in await pipe.execute()] if keys else []

    async def _entity_field(self, portal: str, ref: EntityRef,
                            read: Callable[[str], Awaitable[str | None]]) -> str | None:
        if not ref.known:
            return None
        value = await read(str(ref))
        if value is None:
            legacy = await self._legacy_key(portal, ref)
            value = await read(legacy) if legacy else None
        return value

    async def entity_applicant(self, portal: str, ref: EntityRef) -> str | None:
        """The applicant key of an entity the app wrote (exactly this type and id)."""
        async def read(key: str) -> str | None:
            raw = await self.redis.hget(self.key(portal, "by-entity"), key)
            return text(raw) if raw else None
        return await self._entity_field(portal, ref, read)

    async def entity_negotiation(self, portal: str, ref: EntityRef) -> str | None:
        """The negotiation an entity the app wrote was last written for (exactly this type and id)."""
        async def read(key: str) -> str | None:
            raw = await self.redis.hget(self.key(portal, "entity-info", key), "negotiation_id")
            return text(raw) if raw else None
        return await self._entity_field(portal, ref, read)

    async def applicant_entities(self, portal: str, applicant_key: str) -> list[tuple[EntityRef, str]]:
        """Every entity written for one applicant, each once, with the key of its info record. An old
        `smart_process:{id}` entry counts only when its records say which smart process and whose it is."""
        members = [text(m) for m in await self.redis.zrange(self.key(portal, "applicant", applicant_key), 0, -1)]
        out: dict[EntityRef, str] = {}
        for member in members:
            ref = EntityRef.parse(member)
            if ref is None:
                continue
            if not ref.known:
                info = await self.entity_info(portal, member)
                etid = self._url_type(info, ref.entity_id)
                owner = await self.redis.hget(self.key(portal, "by-entity"), member)
                if etid is None or not owner or text(owner) != applicant_key:
                    continue
                ref = EntityRef(etid, ref.entity_id)
            if ref not in out or member == str(ref):
                out[ref] = member
        return list(out.items())

    async def applicant_keys_of(self, *, portal: str) -> dict[str, str]:
        """The by-entity index: entity key → applicant key (what a CLEAN uninstall follows)."""
        return {text(k): text(v) for k, v in (await self.redis.hgetall(self.key(portal, "by-entity"))).items()}
