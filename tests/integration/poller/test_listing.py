"""«Новые отклики»: what HeadHunter has that the CRM lacks, from the vacancy lists, walking again only vacancies
whose counters moved since their last walk (a real Redis; HeadHunter scripted)."""

from __future__ import annotations

import logging
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from rabota_common.crypto import Crypto
from rabota_common.entity_ref import EntityRef, LedgerRef
from rabota_common.models import HhToken
from rabota_common.store import Store
from rabota_poller.listing import count_new, vacancy_fingerprint, walk_seen


class FakeHh:
    def __init__(self) -> None:
        self.counters = {"10": {"responses": 2, "invitations": 0}, "11": {"responses": 1, "invitations": 1}}
        self.items = {"10": ["101", "102"], "11": ["111", "112"]}
        self.walked: list[str] = []

    async def active_vacancies(self, token: str, employer_id: str, manager_id: str) -> list[dict[str, Any]]:
        return [{"id": vid, "name": f"v{vid}", "counters": dict(c)} for vid, c in self.counters.items()]

    async def negotiation_collections(self, token: str, vacancy_id: str) -> dict[str, Any]:
        self.walked.append(vacancy_id)
        return {"collections": [{"id": "response", "url": f"u/{vacancy_id}"}]}

    async def collection_page(self, token: str, url: str, page: int) -> dict[str, Any]:
        return {"items": [{"id": i} for i in self.items[url.removeprefix("u/")]], "pages": 1}


@pytest.fixture
def rt(redis_client: Any) -> Any:
    async def hh_token(portal: str, stale_token: str | None = None) -> HhToken:
        return HhToken(ok=True, access_token="t", employer_id="e1", manager_id="m1")

    return SimpleNamespace(store=Store(redis_client, Crypto("k")), hh=FakeHh(), hh_token=hh_token,
                           log=logging.getLogger("test"))


async def test_only_vacancies_whose_counters_moved_are_walked_again(rt: Any) -> None:
    portal = uuid.uuid4().hex
    assert await walk_seen(rt, portal) == {"101", "102", "111", "112"}
    assert sorted(rt.hh.walked) == ["10", "11"]
    rt.hh.walked.clear()
    assert await walk_seen(rt, portal) == {"101", "102", "111", "112"} and rt.hh.walked == []
    rt.hh.counters["10"]["responses"] = 3
    rt.hh.items["10"].append("103")
    assert await walk_seen(rt, portal) == {"101", "102", "103", "111", "112"} and rt.hh.walked == ["10"]


async def test_the_count_leaves_out_what_the_crm_has_and_is_cached_a_minute(rt: Any) -> None:
    portal = uuid.uuid4().hex
    await rt.store.set_entity(portal, "101", LedgerRef(EntityRef(1, 5), "response", 1))
    assert await count_new(rt, portal) == 3
    rt.hh.walked.clear()
    await rt.store.set_entity(portal, "111", LedgerRef(EntityRef(1, 6), "response", 1))
    started = time.monotonic()
    assert await count_new(rt, portal) == 2 and rt.hh.walked == []  # the ledger is read fresh, HeadHunter not
    assert time.monotonic() - started < 5


def test_the_fingerprint_is_the_counters_that_move_with_negotiations() -> None:
    assert vacancy_fingerprint({"counters": {"responses": 3, "invitations": 1, "views": 10}}) == \
        vacancy_fingerprint({"counters": {"responses": 3, "invitations": 1}})
    assert vacancy_fingerprint({}) == "[null, null]"
