"""Redis state (DESIGN §4). One key prefix per portal; secrets are encrypted before they reach Redis."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from rabota_common.crypto import Crypto
from rabota_common.entity_ref import EntityRef, is_smart_process
from rabota_common.ids import is_member_id
from rabota_common.ids import member_id as valid_member_id

M = TypeVar("M", bound=BaseModel)


def text(value: Any) -> str:
    """Redis answers bytes; the store speaks str."""
    return value.decode() if isinstance(value, bytes) else str(value)

SECRET_FIELDS = frozenset({"access_token", "refresh_token", "application_token"})

# Personal data at rest is sealed (Crypto.seal: the personal-data key) by the helpers below.
# What an entity-info record (the Other responses view) says about an applicant; its other fields are ids.
PERSONAL_INFO_FIELDS = frozenset({"vacancy", "status", "created_at"})


# status_reason of a portal whose app was removed without CLEAN: its data stays for a reinstall, its sessions end.
UNINSTALLED_REASON = "Приложение удалено с портала"
# A transient cause is listed while seen within WAITING_RECENT_S; the record goes after WAITING_TTL_S without one.
WAITING_RECENT_S = 120.0
WAITING_TTL_S = 900


class PortalRecord(BaseModel):
    member_id: str
    domain: str
    client_endpoint: str
    access_token: str = ""
    refresh_token: str = ""
    expires_at: float = 0.0
    application_token: str = ""
    status: str = "active"
    status_reason: str = ""
    installed_by: int = 0
    webhook_secret: str = ""
    # A new random value at every install: sessions carry it and end when it changes (reinstall, CLEAN wipe).
    generation: str = ""


class HhAccount(BaseModel):
    access_token: str = ""
    refresh_token: str = ""
    expires_at: float = 0.0
    user_id: str = ""
    employer_id: str = ""
    employer_name: str = ""
    manager_id: str = ""
    manager_name: str = ""
    is_admin: bool = False
    relogin_required: bool = False
    subscription_id: str = ""


class ImportProgress(BaseModel):
    import_id: str = ""
    state: str = "idle"
    found: int = 0
    processed: int = 0
    imported: int = 0
    failed: int = 0
    listing_done: bool = False
    started_at: float = 0.0
    finished_at: float = 0.0


class Failure(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    negotiation_id: str
    reason: str
    stage: str = "crm-writer"
    at: float = Field(default_factory=time.time)
    data: dict[str, Any] = Field(default_factory=dict)


# One processed negotiation of the current import, counted once; the import is done when the listing is
# complete and every found negotiation is processed. One round trip instead of five per written response.
_COUNT_RESULT = """
if redis.call('HGET', KEYS[1], 'import_id') ~= ARGV[1] then return 0 end
if redis.call('SADD', KEYS[2], ARGV[2]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'processed', 1)
redis.call('HINCRBY', KEYS[1], ARGV[3], 1)
local v = redis.call('HMGET', KEYS[1], 'state', 'listing_done', 'processed', 'found')
if v[1] == 'running' and v[2] == '1' and tonumber(v[3]) >= tonumber(v[4] or '0') then
  redis.call('HSET', KEYS[1], 'state', 'done', 'finished_at', ARGV[4])
end
return 1
"""


# Atomic check-and-add of a pending webhook: concurrent requests of one portal never pass the cap together.
_PENDING_ADD = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class Store:
    """Typed access to every Redis key the product uses."""

    def __init__(self, redis: Redis, crypto: Crypto) -> None:
        self.redis = redis
        self.crypto = crypto
        self._count_result = redis.register_script(_COUNT_RESULT)

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def key(portal: str, *parts: str) -> str:
        """`rs:{member_id}:…`; a portal id that is not a member_id never becomes (part of) a key."""
        return ":".join(("rs", valid_member_id(portal), *parts))

    async def track(self, portal: str, *keys: str) -> None:
        """Remember per-portal keys whose names come from data (`resume-cache:<id>`, `notified:<digest>`…)
        in the portal's index, so that a CLEAN uninstall finds them without a pattern."""
        if keys:
            await self.redis.sadd(self.key(portal, "index"), *keys)

    def _seal(self, data: dict[str, Any]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for name, value in data.items():
            if name in SECRET_FIELDS and value:
                out[name] = self.crypto.encrypt(str(value))
            elif isinstance(value, bool):
                out[name] = "1" if value else "0"
            else:
                out[name] = str(value)
        return out

    def _open(self, raw: dict[Any, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for k, v in raw.items():
            name, value = text(k), text(v)
            data[name] = self.crypto.decrypt(value) if name in SECRET_FIELDS and value else value
        return data

    def seal(self, plain: str) -> str:
        """Personal data as stored: encrypted with the personal-data key."""
        return self.crypto.seal(plain)

    def unseal(self, stored: Any) -> str:
        """A stored personal value in clear (a value from before encryption is returned as it is)."""
        return self.crypto.unseal(text(stored))

    def seal_json(self, data: Any) -> str:
        return self.crypto.seal_json(data)

    def unseal_json(self, stored: Any) -> Any:
        return self.crypto.unseal_json(text(stored))

    def seal_info(self, info: dict[str, Any]) -> dict[Any, Any]:
        """An entity-info record (Other responses) as stored: its personal fields sealed, its ids in clear."""
        return {k: self.seal(str(v)) if k in PERSONAL_INFO_FIELDS else str(v) for k, v in info.items()}

    def open_info(self, raw: dict[Any, Any]) -> dict[str, str]:
        return {text(k): self.unseal(v) if text(k) in PERSONAL_INFO_FIELDS else text(v) for k, v in raw.items()}

    def open_failure(self, stored: Any) -> Failure:
        """A stored failure record (holding the whole CRM command) in clear."""
        return Failure.model_validate_json(self.unseal(stored))

    async def _get_model(self, key: str, model: type[M]) -> M | None:
        raw = await self.redis.hgetall(key)
        if not raw:
            return None
        data = self._open(raw)
        for name, field in model.model_fields.items():
            if field.annotation is bool and name in data:
                data[name] = data[name] == "1"
        return model.model_validate(data)

    # -- portals -------------------------------------------------------------------------------
    async def save_portal(self, portal: PortalRecord, old_webhook_secret: str = "") -> None:
        """Write a portal's record (replacing it); a rotated webhook secret's old mapping is removed."""
        key = self.key(portal.member_id, "portal")
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping=self._seal(portal.model_dump()))
        pipe.sadd("rs:portals", portal.member_id)
        if old_webhook_secret and old_webhook_secret != portal.webhook_secret:
            pipe.delete(f"rs:webhook-secret:{old_webhook_secret}")
        if portal.webhook_secret:
            pipe.set(f"rs:webhook-secret:{portal.webhook_secret}", portal.member_id)
        await pipe.execute()

    async def update_portal(self, member_id: str, **fields: Any) -> None:
        await self.redis.hset(self.key(member_id, "portal"), mapping=self._seal(fields))

    async def get_portal(self, member_id: str) -> PortalRecord | None:
        if not is_member_id(member_id):
            return None
        return await self._get_model(self.key(member_id, "portal"), PortalRecord)

    async def portals(self) -> list[str]:
        return sorted(m for m in (text(v) for v in await self.redis.smembers("rs:portals")) if is_member_id(m))

    async def portal_by_webhook_secret(self, secret: str) -> str | None:
        value = await self.redis.get(f"rs:webhook-secret:{secret}")
        portal = text(value) if value else None
        return portal if is_member_id(portal) else None

    # Every per-portal key with a fixed name (DESIGN §4); keys named after data are found through the
    # hashes that list them (by-entity, listing:fingerprint) or the portal's index (Store.track).
    FIXED_KEYS: tuple[tuple[str, ...], ...] = (
        ("portal",), ("hh",), ("settings",), ("import",), ("import", "found"), ("import", "done"),
        ("import", "walked"), ("failures",), ("parked",), ("ledger", "entity"), ("ledger", "contact"),
        ("ledger", "written-at"), ("ledger", "writing"), ("ledger", "epoch"), ("ledger", "kind"), ("crm-mode",),
        ("view-limit",),
        ("by-entity",), ("relogin-notified",), ("poll", "running"), ("poll", "fingerprint"), ("poll", "due"),
        ("poll", "count"), ("listing", "fingerprint"), ("hh-last",), ("webhooks-pending",), ("feedback",),
        ("new-responses", "seen"), ("index",),
    )

    async def portal_keys(self, member_id: str) -> set[str]:
        """The names of every key of one portal, without a pattern (no SCAN MATCH, no KEYS)."""
        keys = {self.key(member_id, *parts) for parts in self.FIXED_KEYS}
        by_entity = await self.redis.hgetall(self.key(member_id, "by-entity"))
        for ref, applicant in by_entity.items():
            keys.add(self.key(member_id, "entity-info", text(ref)))
            keys.add(self.key(member_id, "applicant", text(applicant)))
        for vacancy in await self.redis.hkeys(self.key(member_id, "listing", "fingerprint")):
            keys.add(self.key(member_id, "listing", "ids", text(vacancy)))
        prefix = self.key(member_id, "")
        keys |= {k for k in (text(v) for v in await self.redis.smembers(self.key(member_id, "index")))
                 if k.startswith(prefix)}
        return keys

    async def wipe_portal(self, member_id: str) -> int:
        """Delete every key of one portal (ONAPPUNINSTALL with CLEAN=1) and nothing else: its keys by name,
        its webhook-secret mapping and its membership of rs:portals."""
        valid_member_id(member_id)
        portal = await self.get_portal(member_id)
        if portal and portal.webhook_secret:
            await self.redis.delete(f"rs:webhook-secret:{portal.webhook_secret}")
        await self.release_hh_account(member_id)
        names = sorted(await self.portal_keys(member_id))
        deleted = 0
        for start in range(0, len(names), 500):
            deleted += int(await self.redis.delete(*names[start:start + 500]))
        await self.redis.srem("rs:portals", member_id)
        await self.redis.srem("rs:feedback-portals", member_id)
        return deleted

    # -- HeadHunter account --------------------------------------------------------------------
    async def save_hh(self, portal: str, account: HhAccount) -> None:
        await self.redis.delete(self.key(portal, "hh"))
        await self.redis.hset(self.key(portal, "hh"), mapping=self._seal(account.model_dump()))

    async def update_hh(self, portal: str, **fields: Any) -> None:
        await self.redis.hset(self.key(portal, "hh"), mapping=self._seal(fields))

    async def get_hh(self, portal: str) -> HhAccount | None:
        return await self._get_model(self.key(portal, "hh"), HhAccount)

    async def delete_hh(self, portal: str) -> None:
        await self.release_hh_account(portal)
        await self.redis.delete(self.key(portal, "hh"))

    # -- one portal per HeadHunter account ----------------------------------------------------------
    @staticmethod
    def _hh_account_key(hh_user_id: str) -> str:
        return f"rs:hh-account:{hh_user_id}"

    async def hh_account_owner(self, hh_user_id: str) -> str | None:
        value = await self.redis.get(self._hh_account_key(hh_user_id))
        return text(value) if value else None

    async def claim_hh_account(self, hh_user_id: str, portal: str) -> str | None:
        """Bind a HeadHunter user to this portal. Answers the other portal that holds it (nothing bound
        then), or None when it is this portal's now. A stale binding (its portal no longer holds that
        account) is taken over."""
        key = self._hh_account_key(hh_user_id)
        if await self.redis.set(key, portal, nx=True):
            return None
        owner = await self.hh_account_owner(hh_user_id)
        if owner is None or owner == portal:
            await self.redis.set(key, portal)
            return None
        held = await self.get_hh(owner)
        if held is not None and held.user_id == hh_user_id:
            record = await self.get_portal(owner)
            if record is not None and record.status_reason != UNINSTALLED_REASON:
                return owner
            # The app was removed from that portal (its data kept for a reinstall): the account moves here,
            # and the removed portal keeps none of its tokens.
            await self.redis.delete(self.key(owner, "hh"))
        # Compare-and-set: only the stale owner's binding is replaced, never a concurrent new one.
        swapped = await self.redis.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[1], ARGV[2]) return 1 end "
            "return 0", 1, key, owner, portal)
        return None if swapped else await self.hh_account_owner(hh_user_id)

    async def release_hh_account(self, portal: str, hh_user_id: str | None = None) -> None:
        """Drop the binding of the portal's HeadHunter user (or of `hh_user_id`) if this portal holds it."""
        if hh_user_id is None:
            raw = await self.redis.hget(self.key(portal, "hh"), "user_id")
            hh_user_id = text(raw) if raw else ""
        if hh_user_id:
            await self.redis.eval(
                "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
                1, self._hh_account_key(hh_user_id), portal)

    async def remember_last_hh(self, portal: str, account: HhAccount) -> None:
        """Who was connected before a logout: the next login with another account resets the sync state."""
        await self.redis.hset(self.key(portal, "hh-last"), mapping={"user_id": account.user_id,
                                                                    "employer_id": account.employer_id})

    async def last_hh(self, portal: str) -> tuple[str, str] | None:
        raw = await self.redis.hgetall(self.key(portal, "hh-last"))
        if not raw:
            return None
        data = {text(k): text(v) for k, v in raw.items()}
        return data.get("user_id", ""), data.get("employer_id", "")

    async def reset_sync_state(self, portal: str) -> None:
        """Forget what the portal's previous HeadHunter account synced (another account was connected):
        import progress, the ledger (and its epoch, so the writer checks the CRM before it creates),
        parked work, failures and the walk caches. Settings and the CRM's own data stay."""
        await self.redis.delete(
            self.key(portal, "import"), self.key(portal, "import", "found"), self.key(portal, "import", "done"),
            self.key(portal, "import", "walked"),
            self.key(portal, "ledger", "entity"), self.key(portal, "ledger", "contact"),
            self.key(portal, "ledger", "written-at"), self.key(portal, "ledger", "epoch"),
            self.key(portal, "ledger", "kind"),
            self.key(portal, "parked"), self.key(portal, "failures"), self.key(portal, "view-limit"),
            self.key(portal, "relogin-notified"), self.key(portal, "listing", "fingerprint"),
            self.key(portal, "poll", "fingerprint"), self.key(portal, "poll", "count"),
            self.key(portal, "new-responses", "seen"),
        )

    async def rotate_webhook_secret(self, portal: str) -> str:
        """A new secret in the portal's webhook URL; the old URL answers 404 from now on."""
        record = await self.get_portal(portal)
        new = secrets.token_urlsafe(24)
        await self.redis.set(f"rs:webhook-secret:{new}", portal)
        await self.update_portal(portal, webhook_secret=new)
        if record is not None and record.webhook_secret:
            await self.redis.delete(f"rs:webhook-secret:{record.webhook_secret}")
        return new
    # -- webhooks in flight ---------------------------------------------------------------------
    async def webhook_account(self, portal: str) -> tuple[str, str]:
        """(subscription_id, user_id) of the connected HeadHunter account, "" when unknown: one HMGET, no
        decryption, so that the webhook receiver answers within HeadHunter's 2 seconds."""
        sub, user = await self.redis.hmget(self.key(portal, "hh"), ["subscription_id", "user_id"])
        return (text(sub) if sub else "", text(user) if user else "")

    async def webhook_pending_add(self, portal: str, message: str, cap: int, horizon_s: float = 600.0) -> bool:
        """Count one received webhook of the portal as pending until the poller settles it (`webhook_done`);
        False, and nothing counted, when `cap` are pending. Entries older than `horizon_s` are dropped, so a
        count lost to a crash heals by itself; a redelivered copy (same message) counts once."""
        added = await self.redis.register_script(_PENDING_ADD)(
            keys=[self.key(portal, "webhooks-pending")],
            args=[time.time() - horizon_s, time.time(), message, cap, int(horizon_s) + 60])
        return bool(added)

    async def webhook_done(self, portal: str, message: str) -> None:
        await self.redis.zrem(self.key(portal, "webhooks-pending"), message)

    # -- settings ------------------------------------------------------------------------------
    async def put_settings(self, portal: str, settings: dict[str, Any]) -> None:
        await self.redis.set(self.key(portal, "settings"), json.dumps(settings))

    async def get_settings(self, portal: str) -> dict[str, Any] | None:
        raw = await self.redis.get(self.key(portal, "settings"))
        return json.loads(raw) if raw else None

    # -- import progress -----------------------------------------------------------------------
    async def start_import(self, portal: str) -> str:
        import_id = uuid.uuid4().hex[:12]
        key = self.key(portal, "import")
        await self.redis.delete(key, self.key(portal, "import", "found"), self.key(portal, "import", "done"),
                                self.key(portal, "import", "walked"))
        await self.redis.hset(key, mapping={
            "import_id": import_id, "state": "running", "found": 0, "processed": 0, "imported": 0,
            "failed": 0, "listing_done": "0", "started_at": time.time(), "finished_at": 0,
        })
        return import_id

    async def add_found(self, portal: str, import_id: str, negotiation_ids: list[str]) -> list[str]:
        """Record negotiations found by an import; returns those not seen before in it."""
        if not negotiation_ids or not await self._is_current_import(portal, import_id):
            return []
        key = self.key(portal, "import", "found")
        pipe = self.redis.pipeline(transaction=False)
        for nid in negotiation_ids:
            pipe.sadd(key, nid)
        added = await pipe.execute()
        new = [nid for nid, was_added in zip(negotiation_ids, added, strict=True) if was_added]
        if new:
            await self.redis.hincrby(self.key(portal, "import"), "found", len(new))
        return new

    async def already_found(self, portal: str, negotiation_ids: list[str]) -> set[str]:
        """Negotiations the current import has recorded as found (and so published before)."""
        if not negotiation_ids:
            return set()
        flags = await self.redis.smismember(self.key(portal, "import", "found"), negotiation_ids)
        return {nid for nid, flag in zip(negotiation_ids, flags, strict=True) if flag}

    async def walked_vacancies(self, portal: str, import_id: str) -> set[str]:
        """Vacancies the import has listed completely: a listing restarted after a crash skips them."""
        if not await self._is_current_import(portal, import_id):
            return set()
        return {text(v) for v in await self.redis.smembers(self.key(portal, "import", "walked"))}

    async def mark_walked(self, portal: str, import_id: str, vacancy_id: str) -> None:
        """A vacancy listed completely is progress: the listing's failure count starts again, so that a long
        walk is given up only after failures in a row, not after a few spread over many minutes."""
        if await self._is_current_import(portal, import_id):
            await self.redis.sadd(self.key(portal, "import", "walked"), vacancy_id)
            await self.redis.hdel(self.key(portal, "import"), "listing_failures")

    async def finish_listing(self, portal: str, import_id: str) -> None:
        if await self._is_current_import(portal, import_id):
            await self.redis.hset(self.key(portal, "import"), "listing_done", "1")
            await self._maybe_done(portal)

    async def count_result(self, portal: str, import_id: str | None, negotiation_id: str, ok: bool) -> None:
        """Count one processed negotiation of an import, once, whatever the redeliveries."""
        if import_id:
            await self._count_result(keys=[self.key(portal, "import"), self.key(portal, "import", "done")],
                                     args=[import_id, negotiation_id, "imported" if ok else "failed", time.time()])

    async def _is_current_import(self, portal: str, import_id: str) -> bool:
        current = await self.redis.hget(self.key(portal, "import"), "import_id")
        return bool(current) and text(current) == import_id

    async def _maybe_done(self, portal: str) -> None:
        progress = await self.get_import(portal)
        if progress.state == "running" and progress.listing_done and progress.processed >= progress.found:
            await self.redis.hset(self.key(portal, "import"), mapping={
                "state": "done", "finished_at": time.time()})

    async def get_import(self, portal: str) -> ImportProgress:
        return await self._get_model(self.key(portal, "import"), ImportProgress) or ImportProgress()

    # -- ledger (idempotency) ------------------------------------------------------------------
    async def get_entity(self, portal: str, negotiation_id: str) -> str | None:
        value = await self.redis.hget(self.key(portal, "ledger", "entity"), negotiation_id)
        return text(value) if value else None

    async def get_entities(self, portal: str, negotiation_ids: list[str]
                           ) -> tuple[list[str | None], list[float | None]]:
        """The ledger refs of several negotiations and when (HeadHunter's updated_at, epoch seconds) each one's
        last written command was current, in one round trip."""
        if not negotiation_ids:
            return [], []
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(self.key(portal, "ledger", "entity"), negotiation_ids)
        pipe.hmget(self.key(portal, "ledger", "written-at"), negotiation_ids)
        refs, stamps = await pipe.execute()
        return [text(v) if v else None for v in refs], [float(text(v)) if v else None for v in stamps]

    async def record_created(self, portal: str, entities: dict[str, str], contacts: dict[str, int]) -> None:
        """Ledger entries of what one Bitrix24 batch created (negotiation -> ref, applicant -> contact)."""
        pipe = self.redis.pipeline(transaction=False)
        if contacts:
            pipe.hset(self.key(portal, "ledger", "contact"), mapping={k: str(v) for k, v in contacts.items()})
        if entities:
            refs: dict[Any, Any] = dict(entities)
            pipe.hset(self.key(portal, "ledger", "entity"), mapping=refs)
        await pipe.execute()

    async def set_written_at(self, portal: str, stamps: dict[str, float]) -> None:
        if stamps:
            await self.redis.hset(self.key(portal, "ledger", "written-at"),
                                  mapping={k: repr(v) for k, v in stamps.items()})

    async def set_entity(self, portal: str, negotiation_id: str, ref: str) -> None:
        await self.redis.hset(self.key(portal, "ledger", "entity"), negotiation_id, ref)

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

    # -- CRM entities written: by-entity index, applicant sets, entity-info records ---------------
    # Keyed by `EntityRef` (`{entityTypeId}:{id}`). Records from before types were stored are keyed
    # `lead:5` / `deal:7` / `smart_process:42`; they are still read (see `_legacy_key`).
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

    async def _entity_field(self, portal: str, ref: EntityRef, read: Any) -> str | None:
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

    # -- parked work (waits for a HeadHunter re-login, DESIGN F11) --------------------------------
    async def park(self, portal: str, subject_name: str, data: dict[str, Any]) -> None:
        await self.redis.rpush(self.key(portal, "parked"), self.seal_json({"subject": subject_name, "data": data}))

    async def take_parked(self, portal: str, limit: int = 1000) -> list[tuple[str, dict[str, Any]]]:
        """Pop up to `limit` parked messages (oldest first)."""
        raw = await self.redis.lpop(self.key(portal, "parked"), limit)
        out = []
        for item in raw or []:
            body = self.unseal_json(item)
            out.append((str(body["subject"]), dict(body["data"])))
        return out

    # -- failures ------------------------------------------------------------------------------
    async def add_failure(self, portal: str, failure: Failure) -> None:
        await self.redis.hset(self.key(portal, "failures"), failure.negotiation_id,
                              self.seal(failure.model_dump_json()))

    async def failures(self, portal: str) -> list[Failure]:
        raw = await self.redis.hvals(self.key(portal, "failures"))
        return sorted((self.open_failure(v) for v in raw), key=lambda f: f.at)

    async def clear_failure(self, portal: str, negotiation_id: str) -> None:
        await self.redis.hdel(self.key(portal, "failures"), negotiation_id)

    # -- waiting (transient causes) --------------------------------------------------------------
    async def note_waiting(self, portal: str, reason: str, now: float | None = None) -> None:
        """A message waits on a transient cause: kept as cause → last seen, the hash gone when none is seen
        for WAITING_TTL_S (reasons are party names and codes, never personal data)."""
        key = self.key(portal, "waiting")
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, reason[:200], str(now if now is not None else time.time()))
        pipe.expire(key, WAITING_TTL_S)
        await pipe.execute()

    async def waiting(self, portal: str, within_s: float = WAITING_RECENT_S, now: float | None = None) -> list[str]:
        """The transient causes seen in the last `within_s` seconds, the most recent first."""
        now = now if now is not None else time.time()
        seen = [(float(text(v)), text(k)) for k, v in (await self.redis.hgetall(self.key(portal, "waiting"))).items()]
        return [reason for at, reason in sorted(seen, reverse=True) if now - at <= within_s]

    async def clear_waiting(self, portal: str) -> None:
        await self.redis.delete(self.key(portal, "waiting"))

    # -- OAuth state (single use) --------------------------------------------------------------
    async def remember_state(self, nonce: str, ttl_s: int, owner: str = "1") -> None:
        await self.redis.set(f"rs:oauth-state:{nonce}", owner, ex=ttl_s)

    async def consume_state(self, nonce: str, owner: str = "1") -> bool:
        """True once for a remembered nonce of this owner (`{portal}:{user}`), never again."""
        value = await self.redis.getdel(f"rs:oauth-state:{nonce}")
        return bool(value) and secrets.compare_digest(text(value), owner)

    # -- feedback ------------------------------------------------------------------------------
    async def add_feedback(self, portal: str, entry: dict[str, Any], keep: int = 500) -> None:
        """Append to the portal's feedback list (encrypted: it holds personal data), keeping its newest `keep`
        entries; operators read it with `Store.feedback(portal)`, and `rs:feedback-portals` lists the portals
        that sent any."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(self.key(portal, "feedback"), self.seal_json(dict(entry, portal=portal)))
        pipe.ltrim(self.key(portal, "feedback"), -keep, -1)
        pipe.sadd("rs:feedback-portals", portal)
        await pipe.execute()

    async def feedback(self, portal: str, start: int = 0, end: int = -1) -> list[dict[str, Any]]:
        """One portal's feedback entries in clear, oldest first (an entry from before encryption reads as is)."""
        stored = await self.redis.lrange(self.key(portal, "feedback"), start, end)
        return [dict(self.unseal_json(raw)) for raw in stored]

    async def feedback_portals(self) -> list[str]:
        return sorted(text(m) for m in await self.redis.smembers("rs:feedback-portals"))

    # -- «Новые отклики»: HeadHunter's negotiation ids, cached about a minute per portal ---------
    async def get_new_responses_seen(self, portal: str) -> set[str] | None:
        raw = await self.redis.get(self.key(portal, "new-responses", "seen"))
        return None if raw is None else {str(i) for i in json.loads(text(raw))}

    async def put_new_responses_seen(self, portal: str, seen: set[str], ttl_s: int) -> None:
        await self.redis.set(self.key(portal, "new-responses", "seen"), json.dumps(sorted(seen)), ex=ttl_s)

    # -- failure retries (single flight) -------------------------------------------------------
    async def claim_retry(self, portal: str, failure_id: str, ttl_s: int) -> bool:
        """True for the first retry of a failure within ttl_s; False while one is already in flight."""
        key = self.key(portal, "retry", failure_id)
        if not await self.redis.set(key, "1", nx=True, ex=ttl_s):
            return False
        await self.track(portal, key)  # a CLEAN uninstall finds it by name
        return True

    async def release_retry(self, portal: str, failure_id: str) -> None:
        await self.redis.delete(self.key(portal, "retry", failure_id))

    # -- single-flight lock --------------------------------------------------------------------
    @asynccontextmanager
    async def lock(self, name: str, ttl_s: float = 30.0, wait_s: float = 30.0) -> AsyncIterator[None]:
        """A Redis lock so that one replica at a time runs a critical section (a token refresh, the writes
        of one portal). Renewed while held, so a long section keeps it and a killed holder frees it in ttl_s."""
        import asyncio

        token = secrets.token_hex(8)
        key = f"rs:lock:{name}"
        deadline = time.monotonic() + wait_s
        while not await self.redis.set(key, token, nx=True, px=int(ttl_s * 1000)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"lock {name} busy")
            await asyncio.sleep(0.05)

        async def renew() -> None:
            while True:
                await asyncio.sleep(ttl_s / 3)
                await self.redis.eval(
                    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) "
                    "end return 0", 1, key, token, int(ttl_s * 1000))

        renewal = asyncio.create_task(renew())
        try:
            yield
        finally:
            renewal.cancel()
            await asyncio.gather(renewal, return_exceptions=True)
            await self.redis.eval(
                "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
                1, key, token,
            )
