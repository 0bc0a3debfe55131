"""HeadHunter-facing endpoints: the OAuth redirect and the webhook receiver."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from opentelemetry import trace
from pydantic import ValidationError
from rabota_common import subjects
from rabota_common.bus import publish
from rabota_common.models import HhWebhookEvent

from rabota_ui.deps import RuntimeDep
from rabota_ui.errors import ApiError
from rabota_ui.pages import origin_of, render
from rabota_ui.ratelimit import rate_limited

router = APIRouter()
_tracer = trace.get_tracer(__name__)


@router.get("/hh/callback", response_class=HTMLResponse, dependencies=[Depends(rate_limited("hh_callback"))])
async def callback(rt: RuntimeDep, state: str = "", code: str = "", error: str = "") -> Response:
    """rabota.by's redirect. It connects nothing: the page hands `code` and `state` to the app window that
    opened it (postMessage to the app's own origin), which completes the login with POST /api/hh/connect
    and its session. Neither value is logged or kept here."""
    return render(rt, "hh_result.html", frame_ancestors="'none'", b24_js_url="",
                  app_origin=origin_of(rt.settings.PUBLIC_URL),
                  code=code[:512], state=state[:2048], error=error[:100])


@router.post("/hh/webhook/{secret}", dependencies=[Depends(rate_limited("hh_webhook"))])
async def webhook(secret: str, request: Request, rt: RuntimeDep) -> Response:
    portal = await rt.store.portal_by_webhook_secret(secret)
    if portal is None:
        # Same answer for every wrong secret: nothing tells which portals exist.
        raise ApiError(404, "not_found", "Не найдено")
    try:
        event = HhWebhookEvent.model_validate(json.loads(await request.body()))
    except (ValueError, ValidationError) as exc:
        raise ApiError(400, "bad_webhook", "Тело уведомления не распознано.") from exc
    # Answer only after JetStream holds the event; its id dedupes HeadHunter's retries. The span (never named
    # after the path: it holds the portal's secret) starts the trace the negotiation's work continues.
    attributes = {"rabota.portal": portal, "rabota.hh.action": event.action_type}
    if event.payload.get("topic_id"):
        attributes["rabota.negotiation_id"] = str(event.payload["topic_id"])
    with _tracer.start_as_current_span("HeadHunter webhook", kind=trace.SpanKind.SERVER, attributes=attributes):
        await publish(rt.broker, subjects.subject(subjects.HH_WEBHOOK, portal=portal), event,
                      msg_id=f"{portal}:{event.action_type}:{event.id}")
    return JSONResponse({"ok": True})
