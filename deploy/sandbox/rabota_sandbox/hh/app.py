"""Application factory: routers, HeadHunter error handlers and the request pipeline
(rate limit → latency → User-Agent → injected failures → route → statistics)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import api, chats, control, oauth, webhooks
from .config import HHSandboxConfig
from .errors import (
    HHError,
    TokenError,
    bad_argument,
    empty_429,
    error_response,
    new_request_id,
    token_error_response,
)
from .events import ensure_live
from .state import SandboxState

NO_INJECTION_PATHS = ("/oauth/authorize",)


API_ROUTES: list[APIRoute] = [
    r
    for router in (oauth.router, webhooks.router, api.router, chats.router)
    for r in router.routes
    if isinstance(r, APIRoute)
]


def _route_label(request: Request) -> str:
    """`METHOD /template` of the request, also for requests answered before routing (429, 400 UA)."""
    label = getattr(request.state, "route_label", None)
    if label:
        return str(label)
    path = getattr(request.scope.get("route"), "path", None)
    if path is None:
        for route in API_ROUTES:
            if route.matches(request.scope)[0] == Match.FULL:
                path = route.path
                break
    if path == "/negotiations/{name}":
        last = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        path = "/negotiations/{id}" if last.isdigit() else "/negotiations/{collection}"
    return f"{request.method} {path}" if path else "UNMATCHED"


class Pipeline:
    """Rate limit, latency, User-Agent check, injected failures, then the route; counts every answer and
    stamps X-Request-Id. Plain ASGI: Starlette's BaseHTTPMiddleware runs each request in an extra task
    with memory streams, a third of the sandbox's CPU in the capacity bench."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        state = self.state
        request = Request(scope, receive)
        rid = new_request_id()
        request.state.request_id = rid
        status = 500

        async def stamped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-Id"] = rid
            await send(message)

        knobs = state.knobs
        client = request.client.host if request.client else "unknown"
        early: Response | None = None
        if not state.limiter.allow(client, knobs.get("rate_limit_rps")):
            early = empty_429(request)
        else:
            if knobs.get("latency_ms"):
                await asyncio.sleep(float(knobs["latency_ms"]) / 1000)
            ua = (request.headers.get("hh-user-agent") or request.headers.get("user-agent") or "").strip()
            injectable = request.url.path not in NO_INJECTION_PATHS
            rng = state.rng
            if not ua:
                early = error_response(
                    request, HHError(400, [{"type": "bad_user_agent", "value": "unset"}], "Bad User-Agent")
                )
            elif injectable and knobs.get("error_rate_5xx") and rng.random() < knobs["error_rate_5xx"]:
                early = PlainTextResponse(
                    "<html><body>500 Internal Server Error</body></html>",
                    status_code=500,
                    media_type="text/html",
                )
            elif injectable and knobs.get("error_rate_503") and rng.random() < knobs["error_rate_503"]:
                early = error_response(request, HHError(503, [{"type": "service_unavailable"}]))
            elif injectable and knobs.get("error_rate_429") and rng.random() < knobs["error_rate_429"]:
                early = empty_429(request)
        if early is not None:
            await early(scope, receive, stamped)
        else:
            await self.app(scope, receive, stamped)
        state.stats_routes[_route_label(request)] += 1
        state.stats_status[str(status)] += 1


def create_app(config: HHSandboxConfig | None = None) -> FastAPI:
    cfg = config or HHSandboxConfig.from_env()
    state = SandboxState.create(cfg)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ensure_live(state)
        try:
            yield
        finally:
            if state.live_task is not None:
                state.live_task.cancel()
            for task in list(state.tasks):
                task.cancel()

    app = FastAPI(
        title="HeadHunter sandbox",
        lifespan=lifespan,
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
        redoc_url=None,
    )
    app.state.hh = state

    @app.exception_handler(HHError)
    async def _hh_error(request: Request, exc: HHError) -> JSONResponse:
        return error_response(request, exc)

    @app.exception_handler(TokenError)
    async def _token_error(request: Request, exc: TokenError) -> JSONResponse:
        return token_error_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/_sandbox"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        kind = "not_found" if exc.status_code == 404 else "method_not_allowed" if exc.status_code == 405 else "error"
        return error_response(request, HHError(exc.status_code, [{"type": kind}]))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        name = str(errs[0]["loc"][-1]) if errs and errs[0].get("loc") else "request"
        return error_response(request, bad_argument(name))

    app.add_middleware(Pipeline, state=state)
    app.include_router(control.router)
    app.include_router(oauth.router)
    app.include_router(webhooks.router)
    app.include_router(api.router)
    app.include_router(chats.router)
    app.include_router(chats.control_router())
    return app
