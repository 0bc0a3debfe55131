"""Walking HeadHunter with a token that survives expiry: vacancies, collections, pages (reference §4, §9)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from rabota_common.hh_session import TokenSource

__all__ = ["MAX_DEPTH", "FoundPage", "negotiation_pages", "vacancies"]

# HeadHunter refuses to page deeper than this many items of one list (hhru/api#98).
MAX_DEPTH = 2000


@dataclass
class FoundPage:
    vacancy_id: str
    vacancy_name: str
    items: list[dict[str, Any]]


async def vacancies(tokens: TokenSource) -> list[dict[str, Any]]:
    token = await tokens.get()
    assert token.employer_id
    if token.is_admin:
        managers = await tokens.call(tokens.rt.hh.managers, token.employer_id)
        manager_ids = [str(m["id"]) for m in managers]
    else:
        manager_ids = [str(token.manager_id)]
    seen: dict[str, dict[str, Any]] = {}
    for manager_id in manager_ids:
        for vacancy in await tokens.call(tokens.rt.hh.active_vacancies, token.employer_id, manager_id):
            seen.setdefault(str(vacancy["id"]), vacancy)
    return list(seen.values())


async def negotiation_pages(tokens: TokenSource, vacancy: dict[str, Any],
                            index: dict[str, Any] | None = None) -> AsyncIterator[FoundPage]:
    """Every page of every collection of the vacancy; `index` is `GET /negotiations?vacancy_id=` if the
    caller already has it."""
    vacancy_id = str(vacancy["id"])
    if index is None:
        index = await tokens.call(tokens.rt.hh.negotiation_collections, vacancy_id)
    for collection in index.get("collections", []):
        total = (collection.get("counters") or {}).get("total")
        if total == 0:
            continue  # the index already says it is empty: spare the request
        page = 0
        while True:
            if (page + 1) * 50 > MAX_DEPTH:
                tokens.rt.log.warning("vacancy %s collection %s deeper than %s items: rest left to webhooks",
                                      vacancy_id, collection.get("id"), MAX_DEPTH)
                break
            body = await tokens.call(tokens.rt.hh.collection_page, collection["url"], page)
            yield FoundPage(vacancy_id, str(vacancy.get("name", "")), list(body.get("items", [])))
            page += 1
            if page >= int(body.get("pages", 0)):
                break
