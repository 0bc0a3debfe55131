"""Writing a group of CRM commands of one portal with as few Bitrix24 requests as possible.

New negotiations are packed into `batch` calls (entity, contact and activity chained with
`$result[...]`). The Redis ledger says what exists; when it cannot be trusted (a redelivery, or a
ledger lost with Redis) one ORIGIN_ID/xmlId list call per 50 negotiations finds what was created.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rabota_common import subjects
from rabota_common.b24_client import B24Error, BatchResult
from rabota_common.bus import publish
from rabota_common.errors import PermanentError, TransientError
from rabota_common.models import CrmCommand, CrmResult
from rabota_common.runtime import Runtime
from rabota_common.store import Failure

from rabota_crm_writer import commands as c

MAX_COMMANDS = 50


@dataclass
class Outcome:
    ok: bool = False
    entity_id: int | None = None
    created: bool = False
    error: BaseException | None = None


@dataclass
class Session:
    """Token of one portal for one group, refreshed once if Bitrix24 says it expired."""

    rt: Runtime
    portal: str
    token: str = ""
    endpoint: str = ""
    refreshed: bool = field(default=False)

    async def start(self) -> None:
        reply = await self.rt.b24_token(self.portal)
        self._take(reply.ok, reply.access_token, reply.client_endpoint, reply.error)

    def _take(self, ok: bool, token: str | None, endpoint: str | None, error: str | None) -> None:
        if not ok or not token or not endpoint:
            if error and error.startswith("inactive"):
                raise PermanentError("Портал Битрикс24 недоступен для приложения (нужна переустановка или оплата)")
            raise TransientError(f"no Bitrix24 token: {error}")
        self.token, self.endpoint = token, endpoint

    async def batch(self, cmds: dict[str, c.Cmd]) -> BatchResult:
        try:
            return await self.rt.b24.batch(self.endpoint, self.token, cmds)
        except B24Error as exc:
            if exc.expired_token and not self.refreshed:
                self.refreshed = True
                reply = await self.rt.b24_token(self.portal, stale_token=self.token)
                self._take(reply.ok, reply.access_token, reply.client_endpoint, reply.error)
                return await self.rt.b24.batch(self.endpoint, self.token, cmds)
            if exc.throttled:
                raise TransientError(str(exc), delay_s=5.0) from exc
            raise


PERMANENT_CODES = ("ACCESS_DENIED", "NOT_FOUND", "CRM_FIELD_ERROR_VALUE_NOT_VALID", "100",
                   "INVALID_CREDENTIALS", "insufficient_scope", "")


def command_error(error: dict[str, Any]) -> BaseException:
    code = str(error.get("error", ""))
    text = str(error.get("error_description", "")) or code
    if code in PERMANENT_CODES:
        return PermanentError(f"Битрикс24 отклонил запись: {text}", code=code or "rejected")
    return TransientError(f"Bitrix24 command error {code}: {text}")


async def load_pdf(rt: Runtime, cmd: CrmCommand) -> bytes | None:
    if not cmd.resume_object:
        return None
    store = await rt.broker.object_storage(subjects.RESUMES_BUCKET, declare=False)
    try:
        result = await store.get(cmd.resume_object)
    except Exception:
        rt.log.warning("resume %s is gone from the object store", cmd.resume_object)
        return None
    return bytes(result.data or b"")


def ledger_ref(entity_type: str, entity_id: int, state: str) -> str:
    return f"{entity_type}:{entity_id}:{state}"


async def write_group(rt: Runtime, portal: str, group: list[tuple[CrmCommand, int]]) -> list[Outcome]:
    """Write commands of one portal; `int` is the delivery attempt. One outcome per command."""
    outcomes = [Outcome() for _ in group]
    session = Session(rt, portal)
    await session.start()
    epoch_key = rt.store.key(portal, "ledger", "epoch")
    trust_ledger = bool(await rt.redis.exists(epoch_key))
    new: list[int] = []
    updates: list[tuple[int, int]] = []
    for i, (cmd, attempt) in enumerate(group):
        ref = await rt.store.get_entity(portal, cmd.negotiation_id)
        if ref:
            _, entity_id, state = ref.split(":", 2)
            if state != cmd.hh_status:
                updates.append((i, int(entity_id)))
            else:
                outcomes[i] = Outcome(ok=True, entity_id=int(entity_id))
        else:
            new.append(i)
            trust_ledger = trust_ledger and attempt == 1
    if new and not trust_ledger:
        new = await _drop_existing(rt, session, portal, group, new, outcomes, updates)
    await _create(rt, session, portal, group, new, outcomes)
    await _update(rt, session, portal, group, updates, outcomes)
    await rt.redis.set(epoch_key, str(time.time()))
    return outcomes


async def _drop_existing(rt: Runtime, session: Session, portal: str, group: list[tuple[CrmCommand, int]],
                         new: list[int], outcomes: list[Outcome], updates: list[tuple[int, int]]) -> list[int]:
    by_type: dict[tuple[str, int], list[int]] = {}
    for i in new:
        cmd = group[i][0]
        by_type.setdefault((cmd.entity_type, cmd.entity_type_id), []).append(i)
    cmds: dict[str, c.Cmd] = {}
    keys: dict[str, tuple[str, list[int]]] = {}
    for (etype, etid), idx in by_type.items():
        for start in range(0, len(idx), 50):
            chunk = idx[start:start + 50]
            key = f"find{len(cmds)}"
            cmds[key] = c.lookup(etype, etid, [group[i][0].negotiation_id for i in chunk])
            keys[key] = (etype, chunk)
    result = await session.batch(cmds)
    if result.errors:
        raise TransientError(f"lookup failed: {result.errors}")
    remaining = []
    for key, (etype, chunk) in keys.items():
        found = c.found_ids(etype, result.result.get(key))
        for i in chunk:
            cmd = group[i][0]
            entity_id = found.get(cmd.negotiation_id)
            if entity_id is None:
                remaining.append(i)
                continue
            await rt.store.set_entity(portal, cmd.negotiation_id, ledger_ref(etype, entity_id, "?"))
            updates.append((i, entity_id))
    return sorted(remaining)


async def _create(rt: Runtime, session: Session, portal: str, group: list[tuple[CrmCommand, int]],
                  new: list[int], outcomes: list[Outcome]) -> None:
    chunk: list[int] = []
    size = 0
    for i in new:
        need = c.COMMANDS_PER_NEW[group[i][0].entity_type]
        if size + need > MAX_COMMANDS:
            await _create_chunk(rt, session, portal, group, chunk, outcomes)
            chunk, size = [], 0
        chunk.append(i)
        size += need
    if chunk:
        await _create_chunk(rt, session, portal, group, chunk, outcomes)


async def _create_chunk(rt: Runtime, session: Session, portal: str, group: list[tuple[CrmCommand, int]],
                        chunk: list[int], outcomes: list[Outcome]) -> None:
    cmds: dict[str, c.Cmd] = {}
    contacts_seen: dict[str, str | int] = {}
    for i in chunk:
        cmd = group[i][0]
        contact_ref: str | int | None = None
        if cmd.entity_type != "lead":
            known = await rt.store.get_contact(portal, cmd.applicant_key)
            if known:
                contact_ref = known
            elif cmd.applicant_key in contacts_seen:
                contact_ref = contacts_seen[cmd.applicant_key]
            else:
                cmds[f"c{i}"] = c.contact_add(cmd)
                contact_ref = contacts_seen[cmd.applicant_key] = f"$result[c{i}]"
        cmds[f"e{i}"] = c.entity_add(cmd, await load_pdf(rt, cmd), contact_ref)
        cmds[f"a{i}"] = c.activity_add(cmd, c.entity_ref(cmd.entity_type, f"e{i}"))
    result = await session.batch(cmds)
    for i in chunk:
        cmd = group[i][0]
        if f"c{i}" in result.result:
            await rt.store.set_contact(portal, cmd.applicant_key, int(result.result[f"c{i}"]))
        if f"e{i}" in result.errors or f"e{i}" not in result.result:
            error = result.errors.get(f"e{i}") or result.errors.get(f"c{i}") or {"error": "UNKNOWN"}
            outcomes[i] = Outcome(error=command_error(error))
            continue
        entity_id = c.entity_id_of(cmd.entity_type, result.result[f"e{i}"])
        await rt.store.set_entity(portal, cmd.negotiation_id, ledger_ref(cmd.entity_type, entity_id, cmd.hh_status))
        if f"a{i}" in result.errors:
            rt.log.warning("activity of negotiation %s failed: %s", cmd.negotiation_id, result.errors[f"a{i}"])
        outcomes[i] = Outcome(ok=True, entity_id=entity_id, created=True)


async def _update(rt: Runtime, session: Session, portal: str, group: list[tuple[CrmCommand, int]],
                  updates: list[tuple[int, int]], outcomes: list[Outcome]) -> None:
    for start in range(0, len(updates), MAX_COMMANDS):
        part = updates[start:start + MAX_COMMANDS]
        cmds = {f"u{i}": c.entity_update(group[i][0], entity_id) for i, entity_id in part}
        result = await session.batch(cmds)
        for i, entity_id in part:
            cmd = group[i][0]
            if f"u{i}" in result.errors:
                outcomes[i] = Outcome(error=command_error(result.errors[f"u{i}"]))
                continue
            await rt.store.set_entity(portal, cmd.negotiation_id, ledger_ref(cmd.entity_type, entity_id, cmd.hh_status))
            outcomes[i] = Outcome(ok=True, entity_id=entity_id)


async def report(rt: Runtime, cmd: CrmCommand, outcome: Outcome) -> None:
    """Count, record failures and tell the others (crm.result)."""
    if outcome.ok:
        await rt.store.clear_failure(cmd.portal, cmd.negotiation_id)
        if outcome.entity_id is not None:
            await remember_entity(rt, cmd, outcome.entity_id)
    elif isinstance(outcome.error, PermanentError):
        await rt.store.add_failure(cmd.portal, Failure(
            negotiation_id=cmd.negotiation_id, reason=outcome.error.reason, data=cmd.model_dump(mode="json")))
    else:
        return
    await rt.store.count_result(cmd.portal, cmd.import_id, cmd.negotiation_id, outcome.ok)
    await publish(rt.broker, subjects.subject(subjects.CRM_RESULT, portal=cmd.portal), CrmResult(
        portal=cmd.portal, negotiation_id=cmd.negotiation_id, import_id=cmd.import_id, ok=outcome.ok,
        entity_type=cmd.entity_type if outcome.ok else None, entity_id=outcome.entity_id,
        created=outcome.created, reason=None if outcome.ok else str(outcome.error)))


ENTITY_PATHS = {"lead": "/crm/lead/details/{id}/", "deal": "/crm/deal/details/{id}/",
                "smart_process": "/crm/type/{type}/details/{id}/"}


async def remember_entity(rt: Runtime, cmd: CrmCommand, entity_id: int) -> None:
    """What the Other responses view lists: every entity of one applicant."""
    ref = f"{cmd.entity_type}:{entity_id}"
    url = ENTITY_PATHS[cmd.entity_type].format(id=entity_id, type=cmd.entity_type_id)
    pipe = rt.redis.pipeline(transaction=False)
    pipe.hset(rt.store.key(cmd.portal, "by-entity"), ref, cmd.applicant_key)
    pipe.zadd(rt.store.key(cmd.portal, "applicant", cmd.applicant_key), {ref: entity_id})
    pipe.hset(rt.store.key(cmd.portal, "entity-info", ref), mapping={
        "vacancy": cmd.vacancy_name, "status": cmd.status_name, "created_at": cmd.created_date, "url": url,
        "negotiation_id": cmd.negotiation_id})
    await pipe.execute()
