"""HeadHunter-facing endpoints: the OAuth redirect and the webhook receiver."""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from opentelemetry import trace
from pydantic import ValidationError
from rabota_common import subjects
from rabota_common.bus import publish
from rabota_common.models import HANDLED_ACTIONS, HhWebhookEvent
from rabota_common.runtime import Runtime
from rabota_common.subjects import webhook_key

from rabota_ui.deps import RuntimeDep
from rabota_ui.errors import ApiError, describe
from rabota_ui.pages import origin_of, render
from rabota_ui.ratelimit import rate_limited

router = APIRouter()
_tracer = trace.get_tracer(__name__)
_log = logging.getLogger(__name__)


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
    # The body is at most WEBHOOK_MAX_BODY_BYTES (rabota_ui.bodylimit answered 413 otherwise).
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "bad_webhook", "Тело уведомления не распознано: нужен JSON.") from exc
    action = body.get("action_type") if isinstance(body, dict) else None
    if not isinstance(action, str) or not action:
        raise ApiError(400, "bad_webhook", "Тело уведомления не распознано: нет action_type.")
    if action not in HANDLED_ACTIONS:
        # An action we never subscribed to (or a new one): acknowledged at once, nothing done.
        return JSONResponse({"ok": True, "ignored": "action"})
    try:
        event = HhWebhookEvent.model_validate(body)
    except ValidationError as exc:
        raise ApiError(400, "bad_webhook", f"Тело уведомления не распознано: {describe(exc.errors())}") from exc
    if not await _own_account(rt, portal, event):
        return JSONResponse({"ok": True, "ignored": "subscription"})
    if not await rt.store.webhook_pending_add(portal, webhook_key(event), rt.settings.WEBHOOK_PENDING_PER_PORTAL):
        # HeadHunter delivers it again later; the reconciliation poll finds it anyway.
        raise ApiError(429, "too_many_webhooks", "Слишком много необработанных уведомлений. Повторите позже.",
                       headers={"Retry-After": "30"})
    # Answer only after JetStream holds the event; its id dedupes HeadHunter's retries. The span (never named
    # after the path: it holds the portal's secret) starts the trace the negotiation's work continues.
    attributes = {"rabota.portal": portal, "rabota.hh.action": event.action_type}
    for field, attribute in (("topic_id", "rabota.negotiation_id"), ("chat_id", "rabota.hh.chat_id"),
                             ("vacancy_id", "rabota.hh.vacancy_id")):
        if field in event.payload:
            attributes[attribute] = str(event.payload[field])
            break
    with _tracer.start_as_current_span("HeadHunter webhook", kind=trace.SpanKind.SERVER, attributes=attributes):
        try:
            await publish(rt.broker, subjects.subject(subjects.HH_WEBHOOK, portal=portal), event,
                          msg_id=f"{portal}:{webhook_key(event)}")
        except BaseException:
            await rt.store.webhook_done(portal, webhook_key(event))
            raise
    return JSONResponse({"ok": True})


async def _own_account(rt: Runtime, portal: str, event: HhWebhookEvent) -> bool:
    """The event names the subscription and user of the portal's connected account (HeadHunter's newer spec
    may send user_id "0" for backward compatibility: the subscription then decides)."""
    subscription_id, user_id = await rt.store.webhook_account(portal)
    if subscription_id and event.subscription_id == subscription_id and event.user_id in (user_id, "0"):
        return True
    _log.warning("webhook %s of portal %s names another subscription or user: ignored", event.id, portal)
    return False
