"""A recording server on loopback for the outbound attack tests: answers every request and counts them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Recorder:
    port: int = 0
    requests: list[str] = field(default_factory=list)
    body: bytes = b'{"result": {"ID": 1}}'


@asynccontextmanager
async def recording_server(body: bytes | None = None) -> AsyncIterator[Recorder]:
    rec = Recorder()
    if body is not None:
        rec.body = body

    async def handle(request: web.Request) -> web.Response:
        rec.requests.append(f"{request.method} {request.path_qs}")
        return web.Response(body=rec.body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield rec
    finally:
        await runner.cleanup()
