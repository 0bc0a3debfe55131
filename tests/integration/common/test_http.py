"""The process's HTTP client against a real local HTTP server: answers read whole up to a cap (by length and by
counting), redirects never followed, no answer as HttpError, and the guarded session (Bitrix24 portals) refusing
non-public addresses unless the host is admitted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from rabota_common.http import BodyTooLarge, DestinationRefused, Http, HttpError
from rabota_common.settings import Settings
from rabota_stack.processes import free_port


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"q": request.query.get("q"), "auth": request.headers.get("Authorization")})

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 5000)

    async def streamed(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # chunked: no Content-Length to go by
        await response.prepare(request)
        for _ in range(10):
            await response.write(b"y" * 500)
        await response.write_eof()
        return response

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/ok")

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/big", big)
    app.router.add_get("/streamed", streamed)
    app.router.add_get("/moved", moved)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_answers_caps_and_redirects(server: str) -> None:
    http = Http(Settings(SANDBOX=True, HTTP_MAX_JSON_BYTES=4096))
    try:
        r = await http.request("GET", f"http://{server}/ok", params={"q": "1"}, headers={"Authorization": "Bearer t"})
        assert r.status_code == 200 and r.json() == {"q": "1", "auth": "Bearer t"}
        assert r.headers["Content-Type"].startswith("application/json")
        with pytest.raises(BodyTooLarge) as caught:
            await http.request("GET", f"http://{server}/big")
        assert caught.value.limit == 4096
        with pytest.raises(BodyTooLarge):
            await http.request("GET", f"http://{server}/streamed")
        assert len((await http.request("GET", f"http://{server}/streamed", max_bytes=5000)).content) == 5000
        assert (await http.request("GET", f"http://{server}/moved")).status_code == 302  # not followed
    finally:
        await http.aclose()


async def test_no_answer_is_an_http_error() -> None:
    http = Http(Settings(SANDBOX=True))
    try:
        with pytest.raises(HttpError):
            await http.request("GET", f"http://127.0.0.1:{free_port()}/")
    finally:
        await http.aclose()


async def test_the_guarded_session_refuses_private_addresses_unless_admitted(server: str) -> None:
    closed = Http(Settings(SANDBOX=True))
    admitted = Http(Settings(SANDBOX=True, B24_ALLOWED_HOSTS=server))
    port = server.split(":")[1]
    try:
        with pytest.raises(DestinationRefused):
            await closed.request("GET", f"http://localhost:{port}/ok", guarded=True)
        assert (await closed.request("GET", f"http://{server}/ok")).status_code == 200  # unguarded: HeadHunter
        assert (await admitted.request("GET", f"http://{server}/ok", guarded=True)).status_code == 200
    finally:
        await closed.aclose()
        await admitted.aclose()
