"""Writing a group of CRM commands of one portal with as few Bitrix24 requests as possible.

New negotiations are packed into `batch` calls (entity, contact and activity chained with
`$result[...]`). The Redis ledger says what exists; when it cannot be trusted (a redelivery, or a
ledger lost with Redis) one ORIGIN_ID/xmlId list call per 50 negotiations finds what was created.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from rabota_common import subjects
from rabota_common.b24_client import BatchResult
from rabota_common.b24_session import THROTTLE_CAP_S, B24Session, open_session
from rabota_common.bus import publish
from rabota_common.entity_ref import EntityRef, LedgerRef
from rabota_common.errors import PermanentError, TransientError
from rabota_common.hh_time import hh_epoch
from rabota_common.models import CrmCommand, CrmResult
from rabota_common.runtime import Runtime
from rabota_common.store import Failure, WrittenEntity
from rabota_common.transience import classify

from rabota_crm_writer import commands as c
from rabota_crm_writer.notify import notify_failure
from rabota_crm_writer.people import Lookup, Wanted, answers, find_contacts
from rabota_crm_writer.spa_fields import ensure_spa_fields

MAX_COMMANDS = 50
# One REST request may run at most 60 s (limits.md): a create request carries at most this much of files
# (base64), ~30 s at a slow 2 Mbit/s uplink, besides its ≤ 50 commands.
MAX_BATCH_FILE_BYTES = 8 * 1024 * 1024
WRITE_LOCK_TTL_S = 15.0
WRITE_LOCK_WAIT_S = 60.0


@dataclass
class Outcome:
    ok: bool = False
    entity_id: int | None = None
    created: bool = False
    error: BaseException | None = None
    stale: bool = False  # older than what was written: acknowledged, nothing changed


PERMANENT_CODES = ("ACCESS_DENIED", "NOT_FOUND", "CRM_FIELD_ERROR_VALUE_NOT_VALID", "CRM_FIELD_ERROR_REQUIRED", "100",
                   "ERROR_EMPTY_LAYOUT", "FIELD_IS_REQUIRED", "FIELD_IS_REDUNDANT", "ENUM_FIELD", "TOO_MANY_ITEMS",
                   "WRONG_FIELD_VALUE", "ERROR_WRONG_CONTEXT", "CREATE_DYNAMIC_ITEM_RESTRICTED",
                   "INVALID_CREDENTIALS", "insufficient_scope", "")

THROTTLED = ("OPERATION_TIME_LIMIT", "QUERY_LIMIT_EXCEEDED", "OVERLOAD_LIMIT")
# What a recruiter reads for the codes whose portal text is English whatever the portal's language.
RUSSIAN_CAUSES = {"ACCESS_DENIED": "у пользователя приложения нет прав на это действие в CRM",
                  "insufficient_scope": "приложению не выдан нужный доступ (scope)"}


def command_error(error: dict[str, Any], what: str = "") -> BaseException:
    code = str(error.get("error", ""))
    text = str(error.get("error_description", "")) or code
    if code in THROTTLED:  # a nested call throttled: its method waits (the gate blocked it), nothing failed
        return TransientError(f"Bitrix24 command error {code}: {text}",
                              cause=f"Битрикс24 ограничил запросы ({code})", cap_s=THROTTLE_CAP_S)
    if code in PERMANENT_CODES:
        prefix = f"Битрикс24 отклонил запись ({what.lower()})" if what else "Битрикс24 отклонил запись"
        cause = f"{RUSSIAN_CAUSES[code]} ({code}: {text})" if code in RUSSIAN_CAUSES else text
        return PermanentError(f"{prefix}: {cause}", code=code or "rejected")
    return TransientError(f"Bitrix24 command error {code}: {text}")


async def load_pdf(rt: Runtime, cmd: CrmCommand) -> bytes | None:
    if cmd.resume_pdf is not None:  # a small PDF travels in the command itself
        return cmd.resume_pdf
    if not cmd.resume_object:
        return None
    if cmd.resume_object != subjects.resume_object_name(cmd.portal, cmd.negotiation_id):
        # Another portal's (or another negotiation's) PDF: refused, never fetched.
        rt.log.warning("portal %s: resume object %r is not this negotiation's; PDF refused", cmd.portal,
                       cmd.resume_object)
        return None
    store = await rt.broker.object_storage(subjects.RESUMES_BUCKET, declare=False)
    try:
        result = await store.get(cmd.resume_object)
    except Exception:
        rt.log.warning("resume %s is gone from the object store", cmd.resume_object)
        return None
    return bytes(result.data or b"")


async def failure_data(rt: Runtime, cmd: CrmCommand) -> dict[str, Any]:
    """The command as a failure record or a dead letter keeps it for a retry. Failure records sit in Redis
    (encrypted) until retried and dead letters 30 days, so an inline PDF moves to the object store (as large
    ones travel anyway): the PDF is kept 7 days, as before inline PDFs."""
    if cmd.resume_pdf is not None:
        name = subjects.resume_object_name(cmd.portal, cmd.negotiation_id)
        store = await rt.broker.object_storage(subjects.RESUMES_BUCKET, declare=False)
        await store.put(name, cmd.resume_pdf)
        cmd = cmd.model_copy(update={"resume_pdf": None, "resume_object": name})
    return cmd.model_dump(mode="json")


def ledger_ref(entity_type_id: int, entity_id: int, state: str, activity_id: int | None = None) -> LedgerRef:
    return LedgerRef(EntityRef(entity_type_id, entity_id), state, activity_id)


Group = list[tuple[CrmCommand, int]]


def hh_time(cmd: CrmCommand) -> float | None:
    """The command's HeadHunter updated_at in epoch seconds (None: unknown, e.g. an old command)."""
    return hh_epoch(cmd.updated_at)


@dataclass
class Plan:
    """What one group needs: creations, activities for entities that exist, updates of state."""

    new: list[int] = field(default_factory=list)
    activities: list[tuple[int, int]] = field(default_factory=list)
    updates: list[tuple[int, int]] = field(default_factory=list)
    spa_types: dict[int, int] = field(default_factory=dict)
    contacts: dict[str, int] = field(default_factory=dict)  # applicant key -> contact id, known or found

    def spa_type(self, cmd: CrmCommand) -> int | None:
        """The type `id` naming the command's smart-process user fields (None: not a smart process)."""
        return self.spa_types.get(cmd.entity_type_id) if c.kind_of(cmd).type_ufs else None


async def write_group(rt: Runtime, portal: str, group: Group) -> list[Outcome]:
    """Write commands of one portal; `int` is the delivery attempt. One outcome per command.

    The same negotiation can arrive twice in one batch (an import and a webhook, a retry and a poll):
    only its latest command is written, and every copy gets that outcome, so nothing is created twice.
    One replica at a time writes a portal: two replicas never both create the contact of one applicant
    (and the portal's budget is shared anyway)."""
    latest: dict[str, int] = {}
    for i, (cmd, _) in enumerate(group):
        # The copy HeadHunter saw last wins, whatever the order they came in (a webhook overtakes an import).
        kept = latest.get(cmd.negotiation_id)
        if kept is None or (hh_time(cmd) or 0.0) >= (hh_time(group[kept][0]) or 0.0):
            latest[cmd.negotiation_id] = i
    unique = sorted(latest.values())
    try:
        async with rt.store.lock(f"write:{portal}", ttl_s=WRITE_LOCK_TTL_S, wait_s=WRITE_LOCK_WAIT_S):
            written = await _write_unique(rt, portal, [group[i] for i in unique])
    except TimeoutError as exc:
        raise TransientError(f"another replica is writing portal {portal}: {exc}", delay_s=2.0) from exc
    by_nid = {group[i][0].negotiation_id: outcome for i, outcome in zip(unique, written, strict=True)}
    return [by_nid[cmd.negotiation_id] for cmd, _ in group]


async def _write_unique(rt: Runtime, portal: str, group: Group) -> list[Outcome]:
    write = GroupWrite(rt, await open_session(rt, portal), portal, group)
    return await write.run()


def _plan_from_ledger(group: Group, refs: list[LedgerRef | None], written_at: list[float | None], plan: Plan,
                      outcomes: list[Outcome], trust_ledger: bool) -> bool:
    """Plans each command from its ledger entry; False once a new one makes the ledger untrustworthy."""
    for i, ((cmd, attempt), ref, last) in enumerate(zip(group, refs, written_at, strict=True)):
        if ref is not None and ref.entity.known and ref.entity.entity_type_id == cmd.entity_type_id:
            _plan_known(i, cmd, ref, last, plan, outcomes)
        else:
            # Not in the ledger, or recorded under another entity type (the settings switched from smart
            # process A to B, or an old untyped `smart_process:{id}`): its entity of this type is looked
            # up by origin id, never taken to be the item of this type that has the other's id.
            plan.new.append(i)
            trust_ledger = trust_ledger and attempt == 1 and ref is None
    return trust_ledger


def _plan_known(i: int, cmd: CrmCommand, ref: LedgerRef, last: float | None, plan: Plan,
                outcomes: list[Outcome]) -> None:
    """A command whose entity the ledger knows: an activity to add, a state to update, or nothing to do."""
    if ref.needs_activity:
        plan.activities.append((i, ref.entity_id))
    stamp = hh_time(cmd)
    # A copy older than what was written (an import's listing overtaken by a webhook, two quick
    # changes mapped concurrently) must not move the entity back to an earlier status.
    stale = stamp is not None and last is not None and stamp < last
    if ref.state != cmd.hh_status and not stale:
        plan.updates.append((i, ref.entity_id))
    elif not ref.needs_activity:
        outcomes[i] = Outcome(ok=True, entity_id=ref.entity_id, stale=stale)


def _new_by_type(group: Group, plan: Plan) -> dict[tuple[str, int], list[int]]:
    by_type: dict[tuple[str, int], list[int]] = {}
    for i in plan.new:
        cmd = group[i][0]
        by_type.setdefault((cmd.entity_type, cmd.entity_type_id), []).append(i)
    return by_type


def _lookup_cmds(group: Group, by_type: dict[tuple[str, int], list[int]]
                 ) -> tuple[dict[str, c.Cmd], dict[str, tuple[str, list[int]]]]:
    """Origin id lookups of entities and activities per 50 negotiations, and one probe per entity type."""
    cmds: dict[str, c.Cmd] = {}
    keys: dict[str, tuple[str, list[int]]] = {}
    for (etype, etid), idx in by_type.items():
        for start in range(0, len(idx), 50):
            chunk = idx[start:start + 50]
            key = f"find{len(keys)}"
            ids = [group[i][0].negotiation_id for i in chunk]
            cmds[key] = c.lookup(etype, etid, ids)
            cmds[f"act{key}"] = c.lookup_activities(ids)
            keys[key] = (etype, chunk)
    for etype, etid in by_type:
        cmds[f"probe{etype}{etid}"] = c.probe(etype, etid)
    return cmds, keys


def _add_contact_lookups(cmds: dict[str, c.Cmd], group: Group, plan: Plan) -> None:
    """Lookups of the new negotiations' applicants whose contact the ledger does not know, per 50."""
    applicants = sorted({group[i][0].applicant_key for i in plan.new if c.kind_of(group[i][0]).client})
    unknown = [a for a in applicants if a not in plan.contacts]
    for start in range(0, len(unknown), 50):
        cmds[f"contacts{start}"] = c.lookup_contacts(unknown[start:start + 50])


def _by_size(chunk: list[int], pdfs: dict[int, bytes | None]) -> list[list[int]]:
    """A create chunk cut so that no request carries more than MAX_BATCH_FILE_BYTES of files (60 s)."""
    parts: list[list[int]] = [[]]
    size = 0
    for i in chunk:
        need = len(pdfs[i] or b"") * 4 // 3
        if parts[-1] and size + need > MAX_BATCH_FILE_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(i)
        size += need
    return parts


@dataclass
class GroupWrite:
    """The write of one portal's group: plan from the ledger, then `drop_existing` (when the ledger cannot be
    trusted), `create`, `add_activities` and `update`; one outcome per command."""

    rt: Runtime
    session: B24Session
    portal: str
    group: Group
    plan: Plan = field(default_factory=Plan)
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.outcomes = [Outcome() for _ in self.group]

    async def run(self) -> list[Outcome]:
        rt = self.rt
        refs, written_at = await rt.store.ledger_refs(portal=self.portal,
                                                      negotiation_ids=[cmd.negotiation_id for cmd, _ in self.group])
        await self.known_contacts()
        trust_ledger = await self.ledger_trusted()
        trust_ledger = _plan_from_ledger(self.group, refs, written_at, self.plan, self.outcomes, trust_ledger)
        await self.prepare_spa_types()
        # The epoch says "the ledger is complete". It is created only when the portal held none of our
        # entities; a trusted ledger keeps the epoch it has (setting it again could revive one a flush just
        # wiped mid-group, and the ledger would claim to be complete while missing everything before).
        # It is set before creating: a flush during the group then wipes it together with what was recorded.
        if self.plan.new and not trust_ledger and await self.drop_existing():
            await rt.store.start_ledger_epoch(portal=self.portal)
        await self.find_people()
        await self.create()
        await self.add_activities()
        await self.update()
        await self.record_written_at(written_at)
        return self.outcomes

    async def known_contacts(self) -> None:
        """The ledger's contacts of the group's applicants (leads have none)."""
        for applicant in {cmd.applicant_key for cmd, _ in self.group if c.kind_of(cmd).client}:
            contact_id = await self.rt.store.get_contact(self.portal, applicant)
            if contact_id is not None:
                self.plan.contacts[applicant] = contact_id

    async def ledger_trusted(self) -> bool:
        # Read the epoch after the ledger: a flush wipes both at once and the epoch comes back only with a
        # complete ledger, so "epoch present now" means what was read above is the whole truth. Everything
        # below works on this snapshot and never re-reads the ledger.
        # A writer died (or a batch failed) between creating in Bitrix24 and recording it: the ledger may
        # miss entities and contacts from now on. We hold the portal's lock, so nobody is writing now.
        return await self.rt.store.ledger_trusted(portal=self.portal)

    async def prepare_spa_types(self) -> None:
        """The smart processes' fields; commands of a type whose fields cannot be had fail, and are not created."""
        group, plan = self.group, self.plan
        for etid in {cmd.entity_type_id for cmd, _ in group if c.kind_of(cmd).type_ufs}:
            try:
                plan.spa_types[etid] = await ensure_spa_fields(self.rt, self.session, self.portal, etid)
            except PermanentError as exc:
                for i, (cmd, _) in enumerate(group):
                    if cmd.entity_type_id == etid:
                        self.outcomes[i] = Outcome(error=exc)
                plan.new = [i for i in plan.new if group[i][0].entity_type_id != etid]

    def wanted(self, indices: list[int], leads: bool) -> dict[str, Wanted]:
        """The applicants of these new negotiations to look up (F17): their contact unknown to the ledger, the
        settings saying to link (`link_existing`); leads (`leads`) or deals and smart processes."""
        wanted: dict[str, Wanted] = {}
        for i in indices:
            cmd = self.group[i][0]
            kind = c.kind_of(cmd)
            if not cmd.link_existing or not (kind.person if leads else kind.client) \
                    or cmd.applicant_key in self.plan.contacts:
                continue
            phones, emails = c.lookup_values(cmd)
            if phones or emails:
                wanted.setdefault(cmd.applicant_key, Wanted(phones, emails))
        return wanted

    async def take_contacts(self, found: dict[str, int]) -> None:
        for applicant, contact_id in found.items():
            self.plan.contacts[applicant] = contact_id
            await self.rt.store.set_contact(self.portal, applicant, contact_id)

    async def find_people(self) -> None:
        """F17: the applicants of new deals and smart-process items whose contact the ledger does not know, looked
        up by phone and e-mail before their contact would be created (one request for the group; leads look up
        inside their create request, see `_create_chunk`). A contact found is linked and remembered."""
        wanted = self.wanted(self.plan.new, leads=False)
        if wanted:
            await self.take_contacts(await find_contacts(self.session, wanted))

    def chunk_cost(self, chunk: list[int]) -> int:
        """Commands of a create request: each new entity's, and the lookups of its leads' applicants."""
        creates = sum(c.kind_of(self.group[i][0]).commands_per_new for i in chunk)
        return creates + len(Lookup(self.wanted(chunk, leads=True)).cmds)

    async def record_written_at(self, written_at: list[float | None]) -> None:
        await self.rt.store.set_written_at(self.portal, {
            cmd.negotiation_id: stamp
            for (cmd, _), outcome, last in zip(self.group, self.outcomes, written_at, strict=True)
            if outcome.ok and (stamp := hh_time(cmd)) is not None and (last is None or stamp > last)})

    async def drop_existing(self) -> bool:
        """The ledger cannot be trusted: find entities, activities and contacts by their origin ids (the old
        methods' ORIGIN_ID is crm.item's `originId`). True when the portal holds none of our entities of these
        types (an empty ledger is then complete)."""
        by_type = _new_by_type(self.group, self.plan)
        cmds, keys = _lookup_cmds(self.group, by_type)
        empty = True
        _add_contact_lookups(cmds, self.group, self.plan)
        remaining: list[int] = []
        for part_start in range(0, len(cmds), MAX_COMMANDS):
            part = dict(list(cmds.items())[part_start:part_start + MAX_COMMANDS])
            result = await self.session.batch(part)
            if result.errors:
                raise TransientError(f"lookup failed: {result.errors}")
            empty = await self._take_probes_and_contacts(part, result, by_type, empty)
            await self._take_found(keys, part, result, remaining)
        self.plan.new = sorted(remaining)
        return empty

    async def _take_probes_and_contacts(self, part: dict[str, c.Cmd], result: BatchResult,
                                        by_type: dict[tuple[str, int], list[int]], empty: bool) -> bool:
        """Records the contacts found; False once a probe finds one of our entities (else `empty` as given)."""
        for key in part:
            if key.startswith("probe"):
                etype = next(t for t, e in by_type if key == f"probe{t}{e}")
                empty = empty and c.probe_empty(etype, result.result.get(key))
            if key.startswith("contacts"):
                for applicant, contact_id in c.found_contacts(result.result.get(key)).items():
                    self.plan.contacts[applicant] = contact_id
                    await self.rt.store.set_contact(self.portal, applicant, contact_id)
        return empty

    async def _take_found(self, keys: dict[str, tuple[str, list[int]]], part: dict[str, c.Cmd],
                          result: BatchResult, remaining: list[int]) -> None:
        """Entities found are recorded in the ledger and planned for activity and update; the rest stay new."""
        for key, (etype, chunk) in keys.items():
            if key not in part:
                continue
            found = c.found_ids(etype, result.result.get(key))
            acts = c.found_activities(result.result.get(f"act{key}"))
            for i in chunk:
                cmd = self.group[i][0]
                entity_id = found.get(cmd.negotiation_id)
                if entity_id is None:
                    remaining.append(i)
                    continue
                activity_id = acts.get((cmd.negotiation_id, cmd.entity_type_id, entity_id), 0)
                await self.rt.store.set_entity(self.portal, cmd.negotiation_id,
                                               ledger_ref(cmd.entity_type_id, entity_id, "?", activity_id))
                if not activity_id:
                    self.plan.activities.append((i, entity_id))
                self.plan.updates.append((i, entity_id))

    async def create(self) -> None:
        """The new negotiations' entities, contacts and activities, ≤ 50 commands and ≤ MAX_BATCH_FILE_BYTES
        of files per request."""
        chunk: list[int] = []
        for i in self.plan.new:
            if chunk and self.chunk_cost([*chunk, i]) > MAX_COMMANDS:
                await self._create_chunks(chunk)
                chunk = []
            chunk.append(i)
        if chunk:
            await self._create_chunks(chunk)

    async def _create_chunks(self, chunk: list[int]) -> None:
        # The chunk's PDFs come from the object store at once, not one round trip after another.
        loaded = await asyncio.gather(*(load_pdf(self.rt, self.group[i][0]) for i in chunk))
        pdfs = dict(zip(chunk, loaded, strict=True))
        for part in _by_size(chunk, pdfs):
            await self._create_chunk(part, pdfs)

    def _create_cmds(self, chunk: list[int], pdfs: dict[int, bytes | None]) -> dict[str, c.Cmd]:
        cmds: dict[str, c.Cmd] = {}
        contacts_seen: dict[str, str | int] = {}
        for i in chunk:
            cmd = self.group[i][0]
            contact_ref: str | int | None = None
            if c.kind_of(cmd).person:  # a lead: linked to a contact already in the CRM, never creates one
                contact_ref = self.plan.contacts.get(cmd.applicant_key)
            elif c.kind_of(cmd).client:
                known = self.plan.contacts.get(cmd.applicant_key)
                if known:
                    contact_ref = known
                elif cmd.applicant_key in contacts_seen:
                    contact_ref = contacts_seen[cmd.applicant_key]
                else:
                    cmds[f"c{i}"] = c.contact_add(cmd)
                    contact_ref = contacts_seen[cmd.applicant_key] = c.entity_ref(f"c{i}")
            cmds[f"e{i}"] = c.entity_add(cmd, pdfs[i], contact_ref, self.plan.spa_type(cmd))
            cmds[f"a{i}"] = c.activity_add(cmd, c.entity_ref(f"e{i}"))
        return cmds

    async def _create_chunk(self, chunk: list[int], pdfs: dict[int, bytes | None]) -> None:
        rt, portal, plan = self.rt, self.portal, self.plan
        # Leads of applicants who may be in the CRM already: looked up in this same request (ahead of the
        # adds), linked by an update afterwards only when someone is found (`link_leads`).
        lookup = Lookup(self.wanted(chunk, leads=True))
        cmds = {**lookup.cmds, **self._create_cmds(chunk, pdfs)}
        # Marked while Bitrix24 may hold what the ledger does not: a crash (or an unanswered batch) leaves
        # the mark, and the next group stops trusting the ledger.
        # With a Redis replica the mark is on it before Bitrix24 creates anything (Store.mark_writing).
        await rt.store.mark_writing(portal=portal)
        result = await self.session.batch(cmds)
        created: dict[str, LedgerRef] = {}
        new_contacts: dict[str, int] = {}
        for i in chunk:
            cmd = self.group[i][0]
            if f"c{i}" in result.result:
                contact_id = c.entity_id_of(result.result[f"c{i}"])
                plan.contacts[cmd.applicant_key] = new_contacts[cmd.applicant_key] = contact_id
            if f"e{i}" in result.errors or f"e{i}" not in result.result:
                error = result.errors.get(f"e{i}") or result.errors.get(f"c{i}") or {"error": "UNKNOWN"}
                self.outcomes[i] = Outcome(error=command_error(error))
                continue
            entity_id = c.entity_id_of(result.result[f"e{i}"])
            activity_id = c.activity_id_of(result.result.get(f"a{i}")) if f"a{i}" in result.result else 0
            created[cmd.negotiation_id] = ledger_ref(cmd.entity_type_id, entity_id, cmd.hh_status, activity_id)
            if not activity_id:
                error = result.errors.get(f"a{i}") or {"error": "UNKNOWN", "error_description": "activity missing"}
                rt.log.warning("activity of negotiation %s failed: %s", cmd.negotiation_id, error)
                self.outcomes[i] = Outcome(entity_id=entity_id, created=True,
                                           error=command_error(error, "Дело в таймлайне"))
                continue
            self.outcomes[i] = Outcome(ok=True, entity_id=entity_id, created=True)
        # Recorded at once (and confirmed on a replica), before the mark goes: a crash in between leaves the mark.
        await rt.store.record_created(portal, created, new_contacts)
        await rt.store.clear_writing(portal=portal)
        if lookup.cmds:
            await self.link_leads(chunk, created, await lookup.resolve(self.session, answers(lookup.cmds, result)))

    async def link_leads(self, chunk: list[int], created: dict[str, LedgerRef], found: dict[str, int]) -> None:
        """The leads just created for applicants found in the CRM are bound to their contact (a repeat lead)."""
        if not found:
            return
        await self.take_contacts(found)
        cmds = {f"l{i}": c.link_contact(self.group[i][0], created[nid].entity_id, found[key])
                for i in chunk if (nid := self.group[i][0].negotiation_id) in created
                and (key := self.group[i][0].applicant_key) in found}
        result = await self.session.batch(cmds) if cmds else None
        if result is not None and result.errors:  # the lead is written; only its link is missing
            self.rt.log.warning("portal %s: %d leads not bound to their contact: %s", self.portal,
                                len(result.errors), sorted({str(e.get("error")) for e in result.errors.values()}))

    async def add_activities(self) -> None:
        """Timeline activities of entities that exist without one (a failed add, or found after a crash)."""
        todo = self.plan.activities
        for start in range(0, len(todo), MAX_COMMANDS - 1):
            await self._add_activities(todo[start:start + MAX_COMMANDS - 1])

    async def _add_activities(self, part: list[tuple[int, int]]) -> None:
        group = self.group
        # An add may have succeeded before a crash kept it from the ledger: look first, add the rest.
        seen = await self.session.batch({"find": c.lookup_activities([group[i][0].negotiation_id for i, _ in part])})
        if seen.errors:
            raise TransientError(f"activity lookup failed: {seen.errors}")
        existing = c.found_activities(seen.result.get("find"))
        have = {i: existing.get((group[i][0].negotiation_id, group[i][0].entity_type_id, e), 0) for i, e in part}
        missing = [(i, e) for i, e in part if not have[i]]
        result = await self.session.batch({f"a{i}": c.activity_add(group[i][0], e) for i, e in missing}) \
            if missing else None
        for i, entity_id in part:
            cmd = group[i][0]
            activity_id = have[i]
            if not activity_id and result is not None and f"a{i}" in result.result:
                activity_id = c.activity_id_of(result.result.get(f"a{i}"))
            if not activity_id:
                error = (result.errors.get(f"a{i}") if result else None) or {"error": "UNKNOWN"}
                self.outcomes[i] = Outcome(entity_id=entity_id, error=command_error(error, "Дело в таймлайне"))
                continue
            known = await self.rt.store.ledger_ref(portal=self.portal, negotiation_id=cmd.negotiation_id)
            state = known.state if known else "?"
            await self.rt.store.set_entity(self.portal, cmd.negotiation_id,
                                           ledger_ref(cmd.entity_type_id, entity_id, state, activity_id))
            self.outcomes[i] = Outcome(ok=True, entity_id=entity_id)

    async def update(self) -> None:
        """A new status (stage and the status field) for the entities that exist."""
        group, plan, outcomes = self.group, self.plan, self.outcomes
        for start in range(0, len(plan.updates), MAX_COMMANDS):
            part = plan.updates[start:start + MAX_COMMANDS]
            cmds = {f"u{i}": c.entity_update(group[i][0], entity_id, plan.spa_type(group[i][0]))
                    for i, entity_id in part}
            result = await self.session.batch(cmds)
            for i, entity_id in part:
                cmd = group[i][0]
                if f"u{i}" in result.errors:
                    outcomes[i] = Outcome(entity_id=entity_id, error=command_error(result.errors[f"u{i}"]))
                    continue
                known = await self.rt.store.ledger_ref(portal=self.portal, negotiation_id=cmd.negotiation_id)
                activity = known.activity_id if known else None
                await self.rt.store.set_entity(self.portal, cmd.negotiation_id,
                                               ledger_ref(cmd.entity_type_id, entity_id, cmd.hh_status, activity))
                if outcomes[i].error is None:  # a failed activity of this entity stays a failure
                    outcomes[i] = Outcome(ok=True, entity_id=entity_id, created=outcomes[i].created)


async def report(rt: Runtime, cmd: CrmCommand, outcome: Outcome, final: bool = False) -> None:
    """Count, record failures (permanent ones, or an unforeseen one on its last try: `final`), notify, tell the
    others. A transient cause is never recorded: the command waits for it (consume.fail)."""
    if outcome.ok:
        # A stale copy leaves the Other responses view with the status written last.
        await remember_written(rt, cmd, None if outcome.stale else outcome.entity_id)
    elif isinstance(outcome.error, PermanentError) or (final and outcome.error is not None):
        reason = outcome.error.reason if isinstance(outcome.error, PermanentError) else (
            f"Не удалось записать в Битрикс24 после {rt.settings.MAX_DELIVER} попыток: "
            f"{classify(outcome.error).reason}")
        await rt.store.add_failure(cmd.portal, Failure(
            negotiation_id=cmd.negotiation_id, reason=reason, data=await failure_data(rt, cmd)))
        await notify_failure(rt, cmd, reason)
    else:
        return
    await rt.store.count_result(cmd.portal, cmd.import_id, cmd.negotiation_id, outcome.ok)
    await publish(rt.broker, subjects.subject(subjects.CRM_RESULT, portal=cmd.portal), CrmResult(
        portal=cmd.portal, negotiation_id=cmd.negotiation_id, import_id=cmd.import_id, ok=outcome.ok,
        entity_type=cmd.entity_type if outcome.ok else None, entity_id=outcome.entity_id,
        created=outcome.created, reason=None if outcome.ok else str(outcome.error)))


ENTITY_PATHS = {"lead": "/crm/lead/details/{id}/", "deal": "/crm/deal/details/{id}/",
                "smart_process": "/crm/type/{type}/details/{id}/"}


async def remember_written(rt: Runtime, cmd: CrmCommand, entity_id: int | None) -> None:
    """What the Other responses view lists (every entity of one applicant), and no failure record for a
    written negotiation (its cause may notify again should it come back). One round trip when none was."""
    written: WrittenEntity | None = None
    if entity_id is not None:
        url = ENTITY_PATHS[cmd.entity_type].format(id=entity_id, type=cmd.entity_type_id)
        written = WrittenEntity(EntityRef(cmd.entity_type_id, entity_id), cmd.applicant_key, {
            "vacancy": cmd.vacancy_name, "status": cmd.status_name, "created_at": cmd.created_date, "url": url,
            "negotiation_id": cmd.negotiation_id})
    failure = await rt.store.record_written(portal=cmd.portal, negotiation_id=cmd.negotiation_id, written=written)
    if failure is not None:
        await rt.store.release_failure_notice(portal=cmd.portal, reason=failure.reason)
        await rt.store.clear_failure(cmd.portal, cmd.negotiation_id)
