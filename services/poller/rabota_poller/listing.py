"""What each vacancy's negotiation lists held at their last complete walk, keyed by the vacancy's counters.

A vacancy whose `counters` (responses, invitations) have not moved since has the same negotiations, so
«Новые отклики» answers from here instead of walking HeadHunter again: after the first walk (or an
import, or a poll, which record theirs too) one count costs only the vacancy list.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rabota_common.budget import bulk
from rabota_common.hh_session import TokenSource
from rabota_common.hh_walk import negotiation_pages, vacancies
from rabota_common.runtime import Runtime

WALKS_IN_PARALLEL = 4  # vacancies listed at once; the shared bucket still paces every request
LISTING_TTL_S = 7 * 24 * 3600


def vacancy_fingerprint(vacancy: dict[str, Any]) -> str:
    counters = vacancy.get("counters") or {}
    return json.dumps([counters.get("responses"), counters.get("invitations")])


async def remember_listing(rt: Runtime, portal: str, vacancy: dict[str, Any], ids: set[str]) -> None:
    """Record a complete walk of one vacancy; `vacancy` is the list item read before the walk began."""
    await rt.store.remember_listing(portal=portal, vacancy_id=str(vacancy["id"]),
                                    fingerprint=vacancy_fingerprint(vacancy), ids=ids, ttl_s=LISTING_TTL_S)


async def _cached(rt: Runtime, portal: str, vacancy: dict[str, Any]) -> set[str] | None:
    return await rt.store.cached_listing(portal=portal, vacancy_id=str(vacancy["id"]),
                                         fingerprint=vacancy_fingerprint(vacancy))


async def _walk(rt: Runtime, portal: str, tokens: TokenSource, vacancy: dict[str, Any]) -> set[str]:
    ids: set[str] = set()
    async for page in negotiation_pages(tokens, vacancy):
        ids.update(str(item["id"]) for item in page.items)
    await remember_listing(rt, portal, vacancy, ids)
    return ids


NEW_RESPONSES_CACHE_S = 60
NEW_RESPONSES_LOCK_WAIT_S = 110.0


async def count_new(rt: Runtime, portal: str) -> int:
    """The «Новые отклики» count: HeadHunter's ids are walked at most once a minute per portal, under a
    single-flight lock (concurrent clicks share one walk) and at bulk priority (after every live request of
    any portal); the comparison with the ledger is fresh on every call."""
    seen = await rt.store.get_new_responses_seen(portal)
    if seen is None:
        async with rt.store.lock(f"new-responses:{portal}", ttl_s=30.0, wait_s=NEW_RESPONSES_LOCK_WAIT_S):
            seen = await rt.store.get_new_responses_seen(portal)  # a concurrent click's walk answers it
            if seen is None:
                with bulk():
                    seen = await walk_seen(rt, portal)
                await rt.store.put_new_responses_seen(portal, seen, NEW_RESPONSES_CACHE_S)
    return len(seen - await rt.store.known_negotiations(portal))


async def walk_seen(rt: Runtime, portal: str) -> set[str]:
    """Responses and invitations HeadHunter has that the CRM lacks; lists only (no resume is opened,
    so nothing is marked viewed). Vacancies unchanged since their last walk are not walked again."""
    tokens = TokenSource(rt, portal)
    seen: set[str] = set()
    stale: list[dict[str, Any]] = []
    for vacancy in await vacancies(tokens):
        ids = await _cached(rt, portal, vacancy)
        if ids is None:
            stale.append(vacancy)
        else:
            seen |= ids
    gate = asyncio.Semaphore(WALKS_IN_PARALLEL)

    async def walk(vacancy: dict[str, Any]) -> set[str]:
        async with gate:
            return await _walk(rt, portal, tokens, vacancy)

    for ids in await asyncio.gather(*(walk(v) for v in stale)):
        seen |= ids
    return seen
