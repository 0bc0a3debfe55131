"""Walking HeadHunter: every active vacancy of the account (each manager's for an admin, once each), and every
page of every non-empty collection, never deeper than HeadHunter lets a list be paged."""

from __future__ import annotations

import logging
import uuid
from types import SimpleNamespace
from typing import Any

from rabota_common.hh_session import TokenSource
from rabota_common.hh_walk import MAX_DEPTH, negotiation_pages, vacancies
from rabota_common.models import HhToken


class FakeHh:
    def __init__(self, pages: dict[str, int] | None = None) -> None:
        self.pages = pages or {}
        self.calls: list[tuple[Any, ...]] = []

    async def managers(self, token: str, employer_id: str) -> list[dict[str, Any]]:
        self.calls.append(("managers", employer_id))
        return [{"id": 1}, {"id": 2}]

    async def active_vacancies(self, token: str, employer_id: str, manager_id: str) -> list[dict[str, Any]]:
        self.calls.append(("vacancies", manager_id))
        return {"1": [{"id": 10}, {"id": 11}], "2": [{"id": 11}, {"id": 12}], "7": [{"id": 70}]}[manager_id]

    async def negotiation_collections(self, token: str, vacancy_id: str) -> dict[str, Any]:
        self.calls.append(("collections", vacancy_id))
        return {"collections": [
            {"id": "response", "url": "u/response", "counters": {"total": 3}},
            {"id": "interview", "url": "u/interview", "counters": {"total": 0}},
            {"id": "discard", "url": "u/discard"}]}

    async def collection_page(self, token: str, url: str, page: int) -> dict[str, Any]:
        self.calls.append(("page", url, page))
        return {"items": [{"id": f"{url}#{page}"}], "pages": self.pages.get(url, 1)}


def tokens(hh: FakeHh, is_admin: bool) -> TokenSource:
    async def hh_token(portal: str, stale_token: str | None = None) -> HhToken:
        return HhToken(ok=True, access_token="t", employer_id="e1", manager_id="7", is_admin=is_admin)

    rt: Any = SimpleNamespace(hh=hh, hh_token=hh_token, log=logging.getLogger("test"))
    return TokenSource(rt, uuid.uuid4().hex)  # a portal of its own: no token shared with other tests


async def test_an_admin_walks_every_managers_vacancies_once() -> None:
    hh = FakeHh()
    assert [v["id"] for v in await vacancies(tokens(hh, is_admin=True))] == [10, 11, 12]
    assert hh.calls == [("managers", "e1"), ("vacancies", "1"), ("vacancies", "2")]


async def test_a_manager_walks_their_own_vacancies() -> None:
    hh = FakeHh()
    assert [v["id"] for v in await vacancies(tokens(hh, is_admin=False))] == [70]
    assert hh.calls == [("vacancies", "7")]


async def test_pages_of_non_empty_collections() -> None:
    hh = FakeHh(pages={"u/response": 2})
    pages = [p async for p in negotiation_pages(tokens(hh, False), {"id": 10, "name": "Повар"})]
    assert [(p.vacancy_id, p.vacancy_name, [i["id"] for i in p.items]) for p in pages] == [
        ("10", "Повар", ["u/response#0"]), ("10", "Повар", ["u/response#1"]), ("10", "Повар", ["u/discard#0"])]
    assert ("page", "u/interview", 0) not in hh.calls  # empty by the index: no request


async def test_a_given_index_is_used_and_depth_is_capped() -> None:
    hh = FakeHh(pages={"u/deep": 1000})
    index = {"collections": [{"id": "response", "url": "u/deep", "counters": {"total": 50_000}}]}
    pages = [p async for p in negotiation_pages(tokens(hh, False), {"id": 10}, index)]
    assert len(pages) == MAX_DEPTH // 50 and not any(c[0] == "collections" for c in hh.calls)
