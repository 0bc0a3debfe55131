"""HeadHunter-facing endpoints: the OAuth redirect and the webhook receiver."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from opentelemetry import trace
from pydantic import ValidationError
from rabota_common import subjects
from rabota_common.bus import publish
from rabota_common.crypto import OAUTH_STATE, TokenError
from rabota_common.models import HhConnectReply, HhConnectRequest, HhWebhookEvent

from rabota_ui.deps import RuntimeDep
from rabota_ui.errors import ApiError
from rabota_ui.pages import render
from rabota_ui.ratelimit import rate_limited

router = APIRouter()
_tracer = trace.get_tracer(__name__)


@router.get("/hh/callback", response_class=HTMLResponse, dependencies=[Depends(rate_limited("hh_callback"))])
async def callback(rt: RuntimeDep, state: str = "", code: str = "", error: str = "") -> Response:
    try:
        body = rt.crypto.verify(state, purpose=OAUTH_STATE)
        if body.get("kind") != "hh_state" or not await rt.store.consume_state(str(body.get("n", ""))):
            raise TokenError("replayed")
    except TokenError:
        return render(rt, "hh_result.html", status_code=400, ok=False,
                      message="Ссылка входа недействительна или уже использована. Нажмите «Войти» ещё раз.")
    if error:
        return render(rt, "hh_result.html", status_code=400, ok=False,
                      message="Доступ к аккаунту rabota.by не предоставлен.")
    if not code:
        return render(rt, "hh_result.html", status_code=400, ok=False, message="rabota.by не передал код входа.")
    response = await rt.broker.request(HhConnectRequest(portal=str(body["p"]), code=code),
                                       subjects.AUTH_HH_CONNECT, timeout=30.0)
    reply = HhConnectReply.model_validate_json(response.body)
    if not reply.ok:
        return render(rt, "hh_result.html", status_code=400, ok=False, message=reply.message or "Ошибка входа")
    return render(rt, "hh_result.html", ok=True,
                  message=f"Аккаунт работодателя «{reply.employer_name}» подключён. Вернитесь в приложение.")


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
