"""Webhook subscriptions (one per user and application) and callback delivery with retries."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .data import Vacancy, iso
from .errors import HHError, bad_argument, not_found, request_id_of
from .oauth import authenticate, get_state
from .state import SandboxState, Subscription

router = APIRouter()

ACTION_TYPES = {
    "NEW_NEGOTIATION_VACANCY",
    "NEW_RESPONSE_OR_INVITATION_VACANCY",
    "NEGOTIATION_EMPLOYER_STATE_CHANGE",
    "VACANCY_PUBLICATION_FOR_VACANCY_MANAGER",
    "VACANCY_CHANGE",
    "VACANCY_ARCHIVATION",
    "VACANCY_PROLONGATION",
    "CHAT_MESSAGE_CREATED",
    "CHAT_CREATED",
}
# Chat actions are sent to the managers taking part in the chat and take no `settings` (the newer spec's
# WebhookAction for them has none): a subscription naming settings for them is refused.
NO_SETTINGS_ACTIONS = {"CHAT_MESSAGE_CREATED", "CHAT_CREATED"}
RETRY_DELAYS_S = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
USER_AGENT = "rabota-sandbox-hh/1.0 (webhooks@sandbox.by)"


# -- subscriptions -------------------------------------------------------------------------------------


async def json_object(request: Request) -> dict[str, Any]:
    """The request's JSON object body, or HeadHunter's bad_json_body."""
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise HHError(400, [{"type": "bad_json_body"}], "Bad Request: body is not JSON") from exc
    if not isinstance(body, dict):
        raise HHError(400, [{"type": "bad_json_body"}], "Bad Request: body must be a JSON object")
    return body


def _check_url(url: Any) -> str:
    if not isinstance(url, str) or not url:
        raise bad_argument("url", "url is required")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad_argument("url", "url must be an absolute http(s) URL")
    return url


def _check_actions(actions: Any) -> list[dict[str, Any]]:
    if not isinstance(actions, list) or not actions:
        raise bad_argument("actions", "actions must be a non-empty list")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in actions:
        if not isinstance(item, dict) or item.get("type") not in ACTION_TYPES:
            raise bad_argument("actions", "unknown action type")
        atype = str(item["type"])
        if atype in seen:
            raise bad_argument("actions", f"duplicate action type {atype}")
        seen.add(atype)
        if atype in NO_SETTINGS_ACTIONS:
            if item.get("settings") is not None:
                raise bad_argument("actions", f"{atype} takes no settings")
            out.append({"type": atype})
            continue
        settings = item.get("settings")
        if settings is None:
            settings = {}
        if not isinstance(settings, dict) or set(settings) - {"vacancies_only_mine"}:
            raise bad_argument("actions", "unknown settings")
        only_mine = settings.get("vacancies_only_mine", False)
        if not isinstance(only_mine, bool):
            raise bad_argument("actions", "vacancies_only_mine must be a boolean")
        if atype == "VACANCY_PUBLICATION_FOR_VACANCY_MANAGER":
            if "vacancies_only_mine" in settings:
                raise bad_argument("actions", "vacancies_only_mine is not available for this action")
            out.append({"type": atype, "settings": None})
        else:
            out.append({"type": atype, "settings": {"vacancies_only_mine": only_mine}})
    return out


def _sub_json(sub: Subscription) -> dict[str, Any]:
    return {"id": sub.id, "url": sub.url, "actions": sub.actions}


def _own_subscription(state: SandboxState, sid: str, user_id: str, client_id: str) -> Subscription:
    sub = state.subscriptions.get(sid)
    if sub is None or sub.user_id != user_id or sub.client_id != client_id:
        raise not_found()
    return sub


@router.get("/webhook/subscriptions")
async def list_subscriptions(request: Request) -> JSONResponse:
    tok, user = authenticate(request)
    assert user is not None
    state = get_state(request)
    items = [
        _sub_json(s) for s in state.subscriptions.values() if s.user_id == user.user_id and s.client_id == tok.client_id
    ]
    return JSONResponse({"items": items}, headers={"X-Request-Id": request_id_of(request)})


@router.post("/webhook/subscriptions", status_code=201)
async def create_subscription(request: Request) -> JSONResponse:
    tok, user = authenticate(request)
    assert user is not None
    state = get_state(request)
    body = await json_object(request)
    url = _check_url(body.get("url"))
    actions = _check_actions(body.get("actions"))
    for s in state.subscriptions.values():
        if s.user_id == user.user_id and s.client_id == tok.client_id:
            raise HHError(
                400,
                [{"type": "webhook", "value": "already_exist"}],
                "Subscription for this user and application already exists",
            )
    sid = str(state.next_sub_id)
    state.next_sub_id += 1
    state.subscriptions[sid] = Subscription(sid, user.user_id, tok.client_id, url, actions)
    return JSONResponse({"id": sid}, status_code=201, headers={"X-Request-Id": request_id_of(request)})


@router.put("/webhook/subscriptions/{subscription_id}", status_code=204, response_model=None)
async def update_subscription(subscription_id: str, request: Request) -> Response:
    tok, user = authenticate(request)
    assert user is not None
    state = get_state(request)
    sub = _own_subscription(state, subscription_id, user.user_id, tok.client_id)
    body = await json_object(request)
    if not set(body) & {"url", "actions"}:
        raise bad_argument("actions", "nothing to update")
    url = _check_url(body["url"]) if "url" in body else sub.url
    actions = _check_actions(body["actions"]) if "actions" in body else sub.actions
    sub.url, sub.actions = url, actions
    return Response(status_code=204, headers={"X-Request-Id": request_id_of(request)})


@router.delete("/webhook/subscriptions/{subscription_id}", status_code=204, response_model=None)
async def delete_subscription(subscription_id: str, request: Request) -> Response:
    tok, user = authenticate(request)
    assert user is not None
    state = get_state(request)
    _own_subscription(state, subscription_id, user.user_id, tok.client_id)
    del state.subscriptions[subscription_id]
    return Response(status_code=204, headers={"X-Request-Id": request_id_of(request)})


# -- events and delivery -------------------------------------------------------------------------------


def emit(state: SandboxState, action_type: str, vacancy: Vacancy, payload: dict[str, Any]) -> list[str]:
    """Queue `action_type` for every subscription that may see `vacancy`; return the message ids."""
    if not state.knobs.get("webhooks", True):
        return []
    sent: list[str] = []
    store = state.store
    for sub in list(state.subscriptions.values()):
        action = next((a for a in sub.actions if a["type"] == action_type), None)
        if action is None:
            continue
        user = store.users_by_id.get(sub.user_id)
        if user is None or not store.user_can_see_vacancy(user, vacancy):
            continue
        if (action.get("settings") or {}).get("vacancies_only_mine") and vacancy.manager_id != user.manager_id:
            continue
        mid = str(state.next_message_id)
        state.next_message_id += 1
        body = {
            "id": mid,
            "subscription_id": sub.id,
            "action_type": action_type,
            "user_id": sub.user_id,
            "payload": payload,
        }
        state.spawn(deliver(state, sub.id, sub.url, body))
        sent.append(mid)
    return sent


async def deliver(state: SandboxState, sub_id: str, url: str, body: dict[str, Any]) -> None:
    max_attempts = int(state.knobs.get("webhook_max_attempts", 6))
    for attempt in range(1, max_attempts + 1):
        if sub_id not in state.subscriptions:
            return
        status: int | str
        try:
            timeout = float(state.knobs.get("webhook_timeout_s", 2.0))
            async with httpx.AsyncClient(timeout=timeout) as client:
                resp = await client.post(url, json=body, headers={"User-Agent": USER_AGENT})
            status = resp.status_code
        except httpx.HTTPError as exc:
            status = f"error: {type(exc).__name__}"
        ok = isinstance(status, int) and (200 <= status < 300 or status == 409)
        state.deliveries.append(
            {
                "url": url,
                "action_type": body["action_type"],
                "id": body["id"],
                "subscription_id": sub_id,
                "user_id": body["user_id"],
                "payload": body["payload"],
                "status": status,
                "attempt": attempt,
                "ok": ok,
                "at": iso(time.time()),
            }
        )
        if ok or attempt == max_attempts:
            return
        delay = RETRY_DELAYS_S[min(attempt - 1, len(RETRY_DELAYS_S) - 1)]
        await asyncio.sleep(delay * float(state.knobs.get("webhook_retry_scale", 1.0)))
