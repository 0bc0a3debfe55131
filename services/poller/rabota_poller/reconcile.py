"""Reconciliation walk (DESIGN F5): publish negotiations the CRM lacks or whose status moved.

Idle vacancies are skipped by fingerprints stored after their last complete walk: in simple mode the
vacancy's own `counters` (a new response or invitation changes them; moves do not matter there), in
extended mode the collection totals of `GET /negotiations?vacancy_id=` (a move changes two totals).
A full walk every `FULL_WALK_EVERY` polls (and after a re-login) catches what fingerprints cannot, while the
portal's webhooks are not trusted; trusted webhooks bring moves, so then (issue 17) the vacancy counters decide
in both modes (a mode switch walks each vacancy once: the two fingerprints differ).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from rabota_common.app_settings import status_key
from rabota_common.hh_session import TokenSource
from rabota_common.hh_walk import negotiation_pages, vacancies
from rabota_common.models import NegotiationFound
from rabota_common.negotiation_kind import as_kind, enum_id
from rabota_common.runtime import Runtime

from rabota_poller.found import publish_found
from rabota_poller.listing import remember_listing, vacancy_fingerprint

FULL_WALK_EVERY = 12
SENT_TTL_S = 600  # a negotiation published by a poll is not published again for this long

Heartbeat = Callable[[], Awaitable[None]]


def index_fingerprint(index: dict[str, Any]) -> str:
    totals = sorted((str(c.get("id")), (c.get("counters") or {}).get("total"))
                    for c in index.get("collections", []))
    return json.dumps(totals)


def needs_sync(known_state: str | None, current_key: str) -> bool:
    if known_state is None:
        return True
    return known_state not in (current_key, "?")  # "?" = rebuilt from Bitrix24, state unknown: leave it


async def mark_sent(rt: Runtime, portal: str, nid: str, state: str | None) -> bool:
    """Record that the negotiation in this state was published (by a poll or a webhook's expansion); False
    when it already was within SENT_TTL_S."""
    return await rt.store.claim_poll_sent(portal=portal, negotiation_id=nid, state=state, ttl_s=SENT_TTL_S)


async def imported_vacancy(rt: Runtime, portal: str, vacancy: dict[str, Any]) -> None:
    """An import published every negotiation of the vacancy as its list item (read before the walk) counts
    them: the polls after it need not walk it again until its counters move."""
    await rt.store.set_poll_fingerprint(portal=portal, vacancy_id=str(vacancy["id"]),
                                        fingerprint=vacancy_fingerprint(vacancy))


async def import_found(rt: Runtime, portal: str) -> set[str]:
    """Negotiations a running import already handles (its own messages carry them)."""
    progress = await rt.store.get_import(portal)
    if progress.state != "running":
        return set()
    return await rt.store.import_found(portal=portal)


async def reconcile(rt: Runtime, portal: str, full: bool = False, heartbeat: Heartbeat | None = None,
                    trust_webhooks: bool = False) -> int:
    """Walk the account's vacancies; returns how many negotiations were published. With `trust_webhooks`
    the vacancy counters decide in extended mode too (moves come by webhook): no index per vacancy."""
    settings = await rt.store.sync_settings(portal=portal)
    if settings is None:
        return 0
    known: dict[str, str] | None = None  # read when a vacancy needs a walk: an idle poll leaves the ledger be
    busy: set[str] = set()
    fingerprints = await rt.store.poll_fingerprints(portal=portal)
    tokens = TokenSource(rt, portal)
    published = skipped = 0
    for vacancy in await vacancies(tokens):
        vid = str(vacancy["id"])
        if heartbeat is not None:
            await heartbeat()
        index: dict[str, Any] | None = None
        if settings.extended and not trust_webhooks:
            index = await tokens.call(rt.hh.negotiation_collections, vid)
            fingerprint = index_fingerprint(index)
        else:
            fingerprint = vacancy_fingerprint(vacancy)
        if not full and fingerprints.get(vid) == fingerprint:
            skipped += 1
            continue
        if known is None:
            known = await rt.store.ledger_states(portal=portal)
            busy = await import_found(rt, portal)
            # A recorded failure waits for the recruiter's «Повторить» once the cause is fixed (F13):
            # re-sending it every poll would only dead-letter it again.
            busy |= await rt.store.failed_negotiations(portal=portal)
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
                if not await mark_sent(rt, portal, nid, state):
                    continue
                found = NegotiationFound(
                    portal=portal, negotiation_id=nid, vacancy_id=page.vacancy_id, vacancy_name=page.vacancy_name,
                    employer_state=state, updated_at=item.get("updated_at"), source="poll",
                    hh_source=enum_id(item.get("source")), item=item,
                )
                await publish_found(rt, found, new_trace=True)
                published += 1
        await rt.store.set_poll_fingerprint(portal=portal, vacancy_id=vid, fingerprint=fingerprint)
        await remember_listing(rt, portal, vacancy, listed)
    rt.log.info("reconciliation of portal %s: %d published, %d idle vacancies skipped (full=%s)",
                portal, published, skipped, full)
    return published
