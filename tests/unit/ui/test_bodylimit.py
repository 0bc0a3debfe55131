"""The ui's body limit answers 413 before a handler parses anything."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, Request
from rabota_ui.bodylimit import BodyLimit


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
