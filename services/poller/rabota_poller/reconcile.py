"""Reconciliation walk (DESIGN F5): publish negotiations the CRM lacks or whose status moved.

Idle vacancies are skipped by fingerprints stored after their last complete walk: in simple mode the
vacancy's own `counters` (a new response or invitation changes them; moves do not matter there), in
extended mode the collection totals of `GET /negotiations?vacancy_id=` (a move changes two totals).
A full walk every `FULL_WALK_EVERY` polls (and after a re-login) catches what fingerprints cannot.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from rabota_common.app_settings import SyncSettings, status_key
from rabota_common.entity_ref import LedgerRef
from rabota_common.hh_session import TokenSource
from rabota_common.hh_walk import negotiation_pages, vacancies
from rabota_common.models import NegotiationFound
from rabota_common.negotiation_kind import as_kind, enum_id
from rabota_common.runtime import Runtime
from rabota_common.store import text

from rabota_poller.found import publish_found
from rabota_poller.listing import remember_listing, vacancy_fingerprint

FULL_WALK_EVERY = 12
SENT_TTL_S = 600  # a negotiation published by a poll is not published again for this long

Heartbeat = Callable[[], Awaitable[None]]


def ledger_states(raw: dict[Any, Any]) -> dict[str, str]:
    """negotiation id → the status key the CRM entity carries (a `LedgerRef`)."""
    return {text(k): LedgerRef.parse(text(v)).state for k, v in raw.items()}


def index_fingerprint(index: dict[str, Any]) -> str:
    totals = sorted((str(c.get("id")), (c.get("counters") or {}).get("total"))
                    for c in index.get("collections", []))
    return json.dumps(totals)


def needs_sync(known_state: str | None, current_key: str) -> bool:
    if known_state is None:
        return True
    return known_state not in (current_key, "?")  # "?" = rebuilt from Bitrix24, state unknown: leave it


async def import_found(rt: Runtime, portal: str) -> set[str]:
    """Negotiations a running import already handles (its own messages carry them)."""
    progress = await rt.store.get_import(portal)
    if progress.state != "running":
        return set()
    return {text(m) for m in await rt.redis.smembers(rt.store.key(portal, "import", "found"))}


async def reconcile(rt: Runtime, portal: str, full: bool = False, heartbeat: Heartbeat | None = None) -> int:
    """Walk the account's vacancies; returns how many negotiations were published."""
    raw = await rt.store.get_settings(portal)
    if raw is None:
        return 0
    settings = SyncSettings.model_validate(raw)
    known: dict[str, str] | None = None  # read when a vacancy needs a walk: an idle poll leaves the ledger be
    busy: set[str] = set()
    fp_key = rt.store.key(portal, "poll", "fingerprint")
    fingerprints = {text(k): text(v) for k, v in (await rt.redis.hgetall(fp_key)).items()}
    tokens = TokenSource(rt, portal)
    published = skipped = 0
    for vacancy in await vacancies(tokens):
        vid = str(vacancy["id"])
        if heartbeat is not None:
            await heartbeat()
        index: dict[str, Any] | None = None
        if settings.extended:
            index = await tokens.call(rt.hh.negotiation_collections, vid)
            fingerprint = index_fingerprint(index)
        else:
            fingerprint = vacancy_fingerprint(vacancy)
        if not full and fingerprints.get(vid) == fingerprint:
            skipped += 1
            continue
        if known is None:
            known = ledger_states(await rt.redis.hgetall(rt.store.key(portal, "ledger", "entity")))
            busy = await import_found(rt, portal)
            # A recorded failure waits for the recruiter's «Повторить» once the cause is fixed (F13):
            # re-sending it every poll would only dead-letter it again.
            busy |= {text(k) for k in await rt.redis.hkeys(rt.store.key(portal, "failures"))}
        listed: set[str] = set()
        async for page in negotiation_pages(tokens, vacancy, index):
            for item in page.items:
                nid = str(item["id"])
                listed.add(nid)
                state = enum_id(item.get("employer_state"))
                known_state = known.get(nid)
                # In simple mode the status is the kind, decided once and kept: the written one stands.
                current = status_key(settings, state, item.get("source"), kind=as_kind(known_state))
                if nid in busy or not needs_sync(known_state, current):
                    continue
                sent_key = rt.store.key(portal, "poll", "sent", f"{nid}:{state}")
                if not await rt.redis.set(sent_key, "1", nx=True, ex=SENT_TTL_S):
                    continue
                await rt.store.track(portal, sent_key)  # a CLEAN uninstall finds it by name
                found = NegotiationFound(
                    portal=portal, negotiation_id=nid, vacancy_id=page.vacancy_id, vacancy_name=page.vacancy_name,
                    employer_state=state, updated_at=item.get("updated_at"), source="poll",
                    hh_source=enum_id(item.get("source")), item=item,
                )
                await publish_found(rt, found, new_trace=True)
                published += 1
        await rt.redis.hset(fp_key, vid, fingerprint)
        await remember_listing(rt, portal, vacancy, listed)
    rt.log.info("reconciliation of portal %s: %d published, %d idle vacancies skipped (full=%s)",
                portal, published, skipped, full)
    return published
