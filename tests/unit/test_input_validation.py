"""HeadHunter ids are data, never paths (hh_client refuses before any request), webhook models check their
ids, and the ui's body limit answers 413 before a handler parses anything."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import ValidationError
from rabota_common.errors import PermanentError
from rabota_common.hh_client import HhBadId, HhClient
from rabota_common.http import HttpResponse
from rabota_common.models import HhWebhookEvent
from rabota_common.settings import Settings
from rabota_ui.bodylimit import BodyLimit

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


GOOD = {"id": "1", "subscription_id": "2", "user_id": "3", "action_type": "NEW_RESPONSE_OR_INVITATION_VACANCY",
        "payload": {"topic_id": "4", "resume_id": RESUME, "vacancy_id": "5", "employer_id": "6"}}


def test_webhook_model_checks_ids_of_negotiation_actions() -> None:
    assert HhWebhookEvent.model_validate(GOOD).payload["topic_id"] == "4"
    assert HhWebhookEvent.model_validate({**GOOD, "payload": {"topic_id": "4", "resume_id": None,
                                                              "vacancy_id": None}})
    bad_payloads = [{}, {"topic_id": None}, {"topic_id": 4}, {"topic_id": "../resumes/" + RESUME},
                    {"topic_id": "4", "vacancy_id": "../5"}, {"topic_id": "4", "resume_id": "../x"},
                    {"topic_id": "4", "resume_id": "zz"}]
    for payload in bad_payloads:
        with pytest.raises(ValidationError):
            HhWebhookEvent.model_validate({**GOOD, "payload": payload})
    for over in ({"id": "a b"}, {"id": ""}, {"id": "x" * 200}, {"subscription_id": None}, {"user_id": None},
                 {"user_id": "abc"}, {"subscription_id": "a\r\nb"}):
        with pytest.raises(ValidationError):
            HhWebhookEvent.model_validate({**GOOD, **over})
    # Actions without a negotiation are not checked here (the receiver acknowledges and drops them).
    assert HhWebhookEvent.model_validate({"id": "1", "action_type": "VACANCY_CHANGE", "payload": {}})


def body_app() -> BodyLimit:
    app = FastAPI()

    @app.post("/hh/webhook/{secret}")
    @app.post("/api/x")
    async def echo(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    return BodyLimit(app, limit=1000, webhook_limit=100)


async def test_body_limit_answers_413_by_length_and_by_counting() -> None:
    transport = httpx.ASGITransport(app=body_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://ui") as http:
        assert (await http.post("/api/x", content=b"x" * 1000)).json() == {"size": 1000}
        assert (await http.post("/hh/webhook/s", content=b"x" * 100)).json() == {"size": 100}
        for path, size in (("/api/x", 1001), ("/hh/webhook/s", 101)):
            r = await http.post(path, content=b"x" * size)
            assert r.status_code == 413
            assert r.json() == {"error": "payload_too_large", "message": r.json()["message"]}

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(30):
                yield b"x" * 50

        r = await http.post("/api/x", content=chunks())
        assert r.status_code == 413 and json.loads(r.text)["error"] == "payload_too_large"
