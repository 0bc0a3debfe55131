"""HeadHunter ids are data, never paths: hh_client refuses them before any request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from rabota_common.errors import PermanentError
from rabota_common.hh_client import HhBadId, HhClient
from rabota_common.http import HttpResponse
from rabota_common.settings import Settings

RESUME = "0123456789abcdef0123456789abcdef012345"


class RecordingHttp:
    """Answers every request with `{}` and remembers it: a refused id must leave this empty."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    async def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                      **kwargs: Any) -> HttpResponse:
        self.urls.append(url)
        return HttpResponse(200, b'{"items": [], "pages": 1}', {})


def client() -> tuple[HhClient, RecordingHttp]:
    http = RecordingHttp()
    return HhClient(http, Settings(SANDBOX=True, HH_API_URL="https://api.hh.ru")), http  # type: ignore[arg-type]


WALKS = ["../resumes/" + RESUME, "..%2Fresumes%2F" + RESUME, "1/../2", "1?x=2", "1#x", "", " 1", "-1", "1.5",
         "１２", "12345678901234567890123"]


@pytest.mark.parametrize("bad", WALKS)
async def test_ids_in_paths_are_refused_before_any_request(bad: str) -> None:
    hh, http = client()
    calls = [hh.negotiation("t", bad), hh.vacancy("t", bad), hh.managers("t", bad),
             hh.active_vacancies("t", bad, "1"), hh.active_vacancies("t", "1", bad),
             hh.negotiation_collections("t", bad)]
    for call in calls:
        with pytest.raises(HhBadId) as info:
            await call
        assert isinstance(info.value, PermanentError) and info.value.code == "bad_hh_id"
    for call in (hh.unsubscribe("t", "../x"), hh.update_subscription("t", "..", "https://x", []),
                 hh.get("t", "/negotiations/../resumes/" + RESUME), hh.get("t", "/negotiations/%2e%2e/me")):
        with pytest.raises(HhBadId):
            await call
    assert http.urls == []


async def test_documented_ids_go_through() -> None:
    hh, http = client()
    await hh.negotiation("t", "123")
    await hh.vacancy("t", "45")
    await hh.managers("t", "1000")
    await hh.unsubscribe("t", "700001")
    # URLs from HeadHunter's own answers are taken as they are.
    await hh.get("t", f"https://api.hh.ru/resumes/{RESUME}?topic_id=123")
    assert [u.split("?")[0] for u in http.urls] == [
        "https://api.hh.ru/negotiations/123", "https://api.hh.ru/vacancies/45",
        "https://api.hh.ru/employers/1000/managers", "https://api.hh.ru/webhook/subscriptions/700001",
        f"https://api.hh.ru/resumes/{RESUME}"]
