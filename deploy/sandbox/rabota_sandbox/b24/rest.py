"""The portal REST endpoint `{client_endpoint}{method}`: request parsing, auth, limits, knobs,
dispatch to the method registry, the `time` object, statistics."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from . import batch, methods_crm, methods_misc, methods_openlines, methods_screening, methods_timeline  # noqa: F401  (register the methods)
from .config import DOCUMENTED_ERRORS
from .events import fire_bound
from .params import normalize, parse_json_body, parse_query, php_parse
from .portal import AccessToken, Portal, RestError, SandboxState
from .ratelimit import bucket_admit, call_cost, optime_add, optime_check
from .registry import METHODS, Ctx, MethodResult

MSK = dt.timezone(dt.timedelta(hours=3))


def time_obj(start: float, finish: float, operating: float = 0.0, reset_at: float | None = None) -> dict[str, Any]:
    return {
        "start": round(start, 6),
        "finish": round(finish, 6),
        "duration": round(finish - start, 6),
        "processing": round(finish - start, 6),
        "date_start": dt.datetime.fromtimestamp(start, MSK).isoformat(timespec="seconds"),
        "date_finish": dt.datetime.fromtimestamp(finish, MSK).isoformat(timespec="seconds"),
        "operating_reset_at": int(reset_at if reset_at is not None else start + 600),
        "operating": round(operating, 6),
    }


def error_response(err: RestError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status)


def check_token(state: SandboxState, portal: Portal, auth: Any) -> AccessToken:
    if not isinstance(auth, str) or not auth:
        raise RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)
    tok = state.access.get(auth)
    if tok is None or tok.revoked or tok.portal != portal.code:
        raise RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)
    if tok.expires_at <= time.time():
        raise RestError("expired_token", "The access token provided has expired", 401)
    if tok.user_id not in portal.users or not portal.users[tok.user_id].active:
        raise RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)
    return tok


async def read_params(request: Request) -> dict[str, Any]:
    params = parse_query(request.url.query)
    if request.method != "POST":
        return params
    ctype = request.headers.get("content-type", "").lower()
    body: dict[str, Any] = {}
    if ctype.startswith("application/json"):
        body = parse_json_body(await request.body())
    elif ctype.startswith("multipart/form-data"):
        form = await request.form()
        pairs: list[tuple[str, Any]] = []
        for k, v in form.multi_items():
            pairs.append((k, v if isinstance(v, str) else "[file upload]"))
        body = php_parse(pairs)
    else:
        raw = await request.body()
        if raw:
            body = parse_query(raw.decode("utf-8", errors="replace"))
    if isinstance(params, dict) and isinstance(body, dict):
        merged = dict(params)
        merged.update(body)
        return merged
    return body if isinstance(body, dict) else {}


def normalize_method(name: str) -> str:
    m = name.strip().lower()
    if m.endswith(".json"):
        m = m[: -len(".json")]
    return m


def run_method(ctx: Ctx, name: str, params: dict[str, Any], knobs: dict[str, Any]) -> tuple[MethodResult, dict]:
    """Run one registered method under the operating-time budget."""
    optime_check(ctx.portal, name, knobs)
    failing = (knobs.get("failing_methods") or {}).get(name)
    if failing:
        ctx.portal.stats.injected[f"failing:{name}"] += 1
        status, description = DOCUMENTED_ERRORS[failing]
        raise RestError(failing, description, status)
    start = time.time()
    try:
        out = METHODS[name](ctx, params)
    finally:
        operating, reset_at = optime_add(ctx.portal, name, call_cost(knobs))
    result = out if isinstance(out, MethodResult) else MethodResult(out)
    return result, time_obj(start, time.time(), operating, reset_at)


def record(state: SandboxState, portal: Portal, method: str, status: int, error: str | None,
           batch_size: int = 0) -> None:
    portal.stats.status[str(status)] += 1
    if error is not None:
        portal.stats.errors[error] += 1
    state.requests.append({"ts": time.time(), "portal": portal.code, "method": method, "status": status,
                           "error": error, "batch_commands": batch_size})


_background: set[asyncio.Task[Any]] = set()


def dispatch_events(state: SandboxState, ctx: Ctx) -> None:
    """Deliver the events raised by a call in the background (events go through a queue in Bitrix24)."""
    if not ctx.events or not ctx.portal.installed:
        return
    bound = {b["event"] for b in ctx.portal.event_bindings}
    for event, data in ctx.events:
        if event in bound:
            task = asyncio.create_task(fire_bound(state, ctx.portal, event, data, ctx.user_id))
            _background.add(task)
            task.add_done_callback(_background.discard)
    ctx.events.clear()


def build_router(state: SandboxState) -> APIRouter:
    from .batch import run_batch

    router = APIRouter()

    @router.api_route("/portal/{code}/rest/{method:path}", methods=["GET", "POST"])
    async def rest(code: str, method: str, request: Request) -> Response:
        portal = state.portals.get(code)
        if portal is None:
            return JSONResponse({"error": "PORTAL_NOT_FOUND", "error_description": "Portal not found"},
                                status_code=404)
        name = normalize_method(method)
        now = time.time()
        portal.stats.hit(now)
        portal.stats.by_method[name] += 1
        knobs = portal.effective_knobs(state.knobs)
        try:
            bucket_admit(portal, knobs)
            if "/" in name:  # inbound webhooks (`/rest/{user}/{code}/{method}`) are not issued by the sandbox
                raise RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)
            if name not in METHODS:
                raise RestError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)
            params = await read_params(request)
            auth = params.pop("auth", None)
            token = check_token(state, portal, auth)
            if knobs.get("payment_required"):
                raise RestError("PAYMENT_REQUIRED", "Payment required", 401)
            r = random.random()
            if r < float(knobs.get("error_rate_5xx", 0.0)):
                portal.stats.injected["5xx"] += 1
                raise RestError("INTERNAL_SERVER_ERROR", "Internal server error", 500)
            if random.random() < float(knobs.get("error_rate_503", 0.0)):
                portal.stats.injected["503"] += 1
                raise RestError("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)
            latency = float(knobs.get("latency_ms", 0)) / 1000.0
            if random.random() < float(knobs.get("latency_spike_rate", 0.0)):
                portal.stats.injected["latency_spike"] += 1
                latency += float(knobs.get("latency_spike_ms", 0)) / 1000.0
            if latency > 0:
                await asyncio.sleep(latency)
            ctx = Ctx(state, portal, token)
            if name == "batch":
                start = time.time()
                result, n = await run_batch(ctx, params, knobs)
                body: dict[str, Any] = {"result": result, "time": time_obj(start, time.time())}
                record(state, portal, name, 200, None, n)
            else:
                res, tobj = run_method(ctx, name, params, knobs)
                body = {"result": res.result}
                if res.next is not None:
                    body["next"] = res.next
                if res.total is not None:
                    body["total"] = res.total
                body["time"] = tobj
                record(state, portal, name, 200, None)
            dispatch_events(state, ctx)
            return JSONResponse(body)
        except RestError as err:
            record(state, portal, name, err.status, err.error)
            return error_response(err)

    return router


__all__ = ["build_router", "normalize", "run_method", "time_obj"]
