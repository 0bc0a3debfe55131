"""People already in the CRM (F17): the contact of an applicant found by phone or e-mail before one is created.

`crm.duplicate.findbycomm` takes ≤ 20 values a call and answers only which contacts hold any of them, not which
value matched. So the lookup goes in two steps, each one `batch`:
1. the group's applicants' values, 20 a command (a group of 50 new applicants with a phone and an e-mail is
   6 commands, one request); most answers are empty and the lookup ends here;
2. only for a command that found someone and names several applicants: one command per applicant and type,
   to tell whose contact it is.
An applicant matched by several contacts gets the one found by both phone and e-mail, else by phone, else by
e-mail; among equals the oldest (lowest id). A lookup that fails is logged and creating goes on as before
(a duplicate is better than a response not written)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from rabota_common.b24_client import BatchResult

from rabota_crm_writer import commands as c

BATCH_MAX = 50
log = logging.getLogger("rabota_crm_writer.people")
TYPES = ("PHONE", "EMAIL")


class Batcher(Protocol):
    async def batch(self, cmds: dict[str, c.Cmd]) -> BatchResult: ...


@dataclass
class Wanted:
    """One applicant's values: phones (normalised) and e-mails."""

    phones: list[str]
    emails: list[str]

    def of(self, comm_type: str) -> list[str]:
        return self.phones if comm_type == "PHONE" else self.emails


@dataclass
class _Chunk:
    comm_type: str
    values: list[str]
    applicants: set[str] = field(default_factory=set)


def _chunks(wanted: dict[str, Wanted]) -> list[_Chunk]:
    chunks: list[_Chunk] = []
    for comm_type in TYPES:
        current = _Chunk(comm_type, [])
        for applicant, values in sorted(wanted.items()):
            for value in values.of(comm_type):
                if len(current.values) == c.FIND_VALUES_MAX:
                    chunks.append(current)
                    current = _Chunk(comm_type, [])
                if value not in current.values:
                    current.values.append(value)
                current.applicants.add(applicant)
        if current.values:
            chunks.append(current)
    return chunks


def answers(cmds: dict[str, c.Cmd], result: BatchResult) -> dict[str, list[int]]:
    """Each lookup command's contact ids from a batch answer; a failed command finds nobody."""
    for key, error in result.errors.items():
        if key in cmds:  # its applicants are created as before; the error names no personal data
            log.warning("crm.duplicate.findbycomm %s failed: %s", key,
                        error.get("error") if isinstance(error, dict) else error)
    return {k: c.found_by_comm(result.result.get(k)) for k in cmds}


async def _run(session: Batcher, cmds: dict[str, c.Cmd]) -> dict[str, list[int]]:
    """Each command's contact ids, ≤ 50 commands a request."""
    out: dict[str, list[int]] = {}
    keys = list(cmds)
    for start in range(0, len(keys), BATCH_MAX):
        part = {k: cmds[k] for k in keys[start:start + BATCH_MAX]}
        out.update(answers(part, await session.batch(part)))
    return out


class Lookup:
    """The first step's commands for some applicants (`dup{n}`), to send alone or inside another batch."""

    def __init__(self, wanted: dict[str, Wanted]) -> None:
        self.wanted = wanted
        self.chunks = _chunks(wanted)
        self.cmds = {f"dup{n}": c.find_by_comm(ch.comm_type, ch.values) for n, ch in enumerate(self.chunks)}

    async def resolve(self, session: Batcher, first: dict[str, list[int]]) -> dict[str, int]:
        """applicant -> contact, from the first step's answers (and a second step where they are ambiguous)."""
        return await _resolve(session, self.wanted, self.chunks, first)


def _pick(by_phone: set[int], by_email: set[int]) -> int | None:
    both = by_phone & by_email
    for ids in (both, by_phone, by_email):
        if ids:
            return min(ids)
    return None


async def find_contacts(session: Batcher, wanted: dict[str, Wanted]) -> dict[str, int]:
    """applicant -> the contact already in the CRM with their phone or e-mail (those found)."""
    lookup = Lookup(wanted)
    return await lookup.resolve(session, await _run(session, lookup.cmds))


async def _resolve(session: Batcher, wanted: dict[str, Wanted], chunks: list[_Chunk],
                   first: dict[str, list[int]]) -> dict[str, int]:
    matched: dict[str, dict[str, set[int]]] = {}  # applicant -> type -> contact ids
    ask: dict[str, tuple[str, str]] = {}
    for n, chunk in enumerate(chunks):
        ids = first.get(f"dup{n}") or []
        if not ids:
            continue
        if len(chunk.applicants) == 1:
            applicant = next(iter(chunk.applicants))
            matched.setdefault(applicant, {}).setdefault(chunk.comm_type, set()).update(ids)
            continue
        for applicant in chunk.applicants:
            ask[f"one{len(ask)}"] = (applicant, chunk.comm_type)
    if ask:
        second = await _run(session, {k: c.find_by_comm(t, wanted[a].of(t)) for k, (a, t) in ask.items()})
        for key, (applicant, comm_type) in ask.items():
            if second.get(key):
                matched.setdefault(applicant, {}).setdefault(comm_type, set()).update(second[key])
    out: dict[str, int] = {}
    for applicant, by_type in matched.items():
        contact_id = _pick(by_type.get("PHONE", set()), by_type.get("EMAIL", set()))
        if contact_id is not None:
            out[applicant] = contact_id
    return out
