"""Async client of the HeadHunter employer API (reference/hh-api.md). Takes the injected HTTP client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

from opentelemetry import trace

from rabota_common.errors import PermanentError
from rabota_common.hh_ids import is_message_id, is_numeric_id
from rabota_common.http import BodyTooLarge, Http, HttpError, HttpResponse
from rabota_common.metrics import HH_ERRORS, HH_REQUESTS
from rabota_common.settings import Settings

log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)
PER_PAGE = 50
# Webhook actions that take no `settings` in a subscription: the chat actions (the newer spec's WebhookAction).
NO_SETTINGS_ACTIONS = frozenset({"CHAT_MESSAGE_CREATED", "CHAT_CREATED"})


class HhError(Exception):
    """An error answer of HeadHunter, with its documented body parts."""

    def __init__(self, status: int, errors: list[dict[str, Any]], request_id: str | None,
                 oauth_error: str | None = None, description: str | None = None) -> None:
        self.status = status
        self.errors = errors
        self.request_id = request_id
        self.oauth_error = oauth_error
        self.description = description
        kinds = ",".join(f"{e.get('type')}/{e.get('value')}" for e in errors) or "-"
        super().__init__(f"HeadHunter {status} {kinds} request_id={request_id}")

    def has(self, type_: str, value: str | None = None) -> bool:
        return any(e.get("type") == type_ and (value is None or e.get("value") == value) for e in self.errors)

    @property
    def token_expired(self) -> bool:
        return self.status == 403 and self.has("oauth", "token_expired")

    @property
    def auth_lost(self) -> bool:
        """The token is gone for good: the user has to log in again."""
        return self.status == 403 and any(
            self.has("oauth", v) for v in ("token_revoked", "bad_authorization", "application_not_found")
        )

    @property
    def transient(self) -> bool:
        return self.status in (429, 502, 503, 504) or self.status >= 500

    @property
    def view_limit(self) -> bool:
        return self.status == 429 and self.has("resumes", "view_limit_exceeded")


def _error_type(error: HhError) -> str:
    """`type/value` of the first documented error (a bounded set), or the bare status."""
    if error.errors:
        first = error.errors[0]
        return f"{first.get('type')}/{first.get('value')}"
    return "none"


def _count(error: HhError) -> None:
    HH_REQUESTS.labels("error").inc()
    HH_ERRORS.labels(str(error.status), _error_type(error)).inc()


class HhBadId(PermanentError):
    """An identifier that is not of HeadHunter's documented form: refused before any request is made."""

    def __init__(self, kind: str, value: object) -> None:
        super().__init__(f"Неверный идентификатор rabota.by ({kind}): {str(value)[:40]!r}", code="bad_hh_id")


def _numeric(kind: str, value: object) -> str:
    if not is_numeric_id(value):
        raise HhBadId(kind, value)
    return str(value)


def _subscription(value: object) -> str:
    if not is_message_id(value) or str(value).strip(".") == "":
        raise HhBadId("subscription", value)
    return str(value)


def _check_path(path: str) -> None:
    """A path we build never walks: no dot segments, encoded or not, and nothing but the path."""
    lowered = path.lower()
    segments = lowered.replace("%2f", "/").replace("%5c", "/").replace("\\", "/").split("/")
    if any(seg.replace("%2e", ".") in (".", "..") for seg in segments) or any(c in lowered for c in "?#"):
        raise HhBadId("path", path)
class HhRefused(PermanentError):
    """Permanent: a URL outside the HeadHunter hosts (HOST_NOT_ALLOWED, no request made, the token never left),
    or an answer over its size cap (RESPONSE_TOO_LARGE)."""


class HhOAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        self.status = status
        self.error = error
        self.description = description
        super().__init__(f"HeadHunter OAuth {status} {error}: {description}")

    @property
    def relogin_required(self) -> bool:
        return self.error in ("invalid_grant", "invalid_request") and self.description in (
            "token deactivated", "token was revoked", "bad token", "token not found", "token is empty",
        )


class HhClient:
    def __init__(self, http: Http, settings: Settings,
                 throttle: Callable[[], Awaitable[None]] | None = None, retries: int = 5,
                 refused: Callable[[int], Awaitable[None]] | None = None) -> None:
        self._http = http
        self._refused = refused  # told of every 429 (rate, not view limit) and 503: the adaptive budget
        self._settings = settings
        self._base = settings.HH_API_URL.rstrip("/")
        self._throttle = throttle
        self._retries = retries
        api = urlparse(self._base)
        self._plain_http = api.scheme == "http"  # a test or sandbox deployment configured over http
        self._hosts = {e.strip().lower() for e in settings.HH_ALLOWED_HOSTS.split(",") if e.strip()}
        self._hosts.add(f"{(api.hostname or '').lower()}:{api.port or (80 if self._plain_http else 443)}")

    def check_url(self, url: str) -> None:
        """The bearer token goes only to the HeadHunter hosts: HH_API_URL's and HH_ALLOWED_HOSTS."""
        try:
            parts = urlparse(url)
            port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, 0)
        except ValueError:
            port, parts = 0, urlparse("")
        host = (parts.hostname or "").lower()
        ok = (parts.scheme == "https" or (parts.scheme == "http" and self._plain_http)) and bool(host) and (
            parts.username is None and "@" not in parts.netloc) and (
            f"{host}:{port}" in self._hosts or (host in self._hosts and port == 443))
        if not ok:
            raise HhRefused(f"Ссылка HeadHunter ведёт на посторонний адрес ({host or 'без хоста'}): "
                            "запрос не отправлен", code="HOST_NOT_ALLOWED")

    def _headers(self, token: str | None) -> dict[str, str]:
        headers = {"HH-User-Agent": self._settings.HH_USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _url(self, path_or_url: str, params: dict[str, Any] | None = None) -> str:
        # Absolute URLs come from HeadHunter's own answers (resume, collection, action URLs) and are taken as
        # they are; a path is ours, built from checked ids, and never walks (`../`).
        if path_or_url.startswith("http"):
            url = path_or_url
        else:
            _check_path(path_or_url)
            url = f"{self._base}{path_or_url}"
        parts = urlparse(url)
        query = dict(parse_qsl(parts.query))
        query.update({k: str(v) for k, v in (params or {}).items() if v is not None})
        query.setdefault("host", self._settings.HH_HOST)
        return urlunparse(parts._replace(query=urlencode(query)))

    async def _send(self, method: str, url: str, token: str | None, **kwargs: Any) -> HttpResponse:
        """One request within the shared budget, traced (see `_send_retrying` for what is retried)."""
        # The token travels in a header; the path is safe to show without the query and without a resume
        # file's name (the applicant's name).
        self.check_url(url)
        path = urlparse(url).path
        path = path.split("/download/", 1)[0] + "/download" if "/download/" in path else path
        with _tracer.start_as_current_span(f"HeadHunter {method}", kind=trace.SpanKind.CLIENT, attributes={
                "http.request.method": method, "url.path": path}) as span:
            try:
                response = await self._send_retrying(method, url, token, **kwargs)
            except HhError as exc:
                span.set_attributes({"http.response.status_code": exc.status, "rabota.hh.error": _error_type(exc)})
                span.set_status(trace.StatusCode.ERROR, _error_type(exc))
                raise
            span.set_attribute("http.response.status_code", response.status_code)
            return response

    async def _send_retrying(self, method: str, url: str, token: str | None, **kwargs: Any) -> HttpResponse:
        """One request within the shared budget; 429 (rate, not view limit), 502-504 (any 5xx of a GET) and
        network errors are retried here with growing pauses, so a long walk does not start over."""
        attempt = 0
        while True:
            attempt += 1
            if self._throttle is not None:
                await self._throttle()
            try:
                response = await self._http.request(method, url, headers=self._headers(token), **kwargs)
            except BodyTooLarge as exc:
                raise HhRefused(f"Ответ HeadHunter больше {exc.limit // (1024 * 1024)} МБ",
                                code="RESPONSE_TOO_LARGE") from exc
            except HttpError as exc:
                error = HhError(599, [{"type": "network", "value": str(exc)}], None)
                _count(error)
                if attempt > self._retries:
                    raise error from exc
                await asyncio.sleep(min(8.0, 0.5 * 2 ** attempt))
                continue
            if response.status_code < 400:
                HH_REQUESTS.labels("ok").inc()
                return response
            error = self._error(response)
            _count(error)
            if self._refused is not None and error.status in (429, 503) and not error.view_limit:
                await self._refused(error.status)
            # Any 5xx of a GET (it changes nothing, so asking again is safe); a 500 of a POST may have acted.
            retry = error.status in (429, 502, 503, 504) or (error.status >= 500 and method == "GET")
            if retry and not error.view_limit and attempt <= self._retries:
                # A 429 has cut the adaptive budget, which now paces the retry: a short pause is enough.
                rate_limited = error.status == 429 and self._refused is not None
                await asyncio.sleep(0.2 * attempt if rate_limited else min(8.0, 0.5 * 2 ** attempt))
                continue
            raise error

    @staticmethod
    def _error(response: HttpResponse) -> HhError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        request_id = body.get("request_id") or response.headers.get("X-Request-Id")
        err = HhError(response.status_code, list(body.get("errors") or []), request_id,
                      body.get("oauth_error"), body.get("description"))
        log.warning("HeadHunter error %s", err)
        return err

    async def get(self, token: str, path_or_url: str, params: dict[str, Any] | None = None) -> Any:
        response = await self._send("GET", self._url(path_or_url, params), token)
        return response.json()

    async def download(self, token: str, url: str) -> bytes:
        response = await self._send("GET", self._url(url), token, max_bytes=self._settings.HTTP_MAX_PDF_BYTES)
        return response.content

    # -- OAuth -------------------------------------------------------------------------------
    async def _token(self, data: dict[str, str]) -> dict[str, Any]:
        if self._throttle is not None:
            await self._throttle()
        url = f"{self._base}/token"
        try:
            response = await self._http.request("POST", url, data=data, headers=self._headers(None),
                                                params={"host": self._settings.HH_HOST})
        except HttpError as exc:
            raise HhError(599, [{"type": "network", "value": str(exc)}], None) from exc
        if response.status_code >= 500:
            error = self._error(response)
            _count(error)
            raise error
        body = response.json()
        if response.status_code >= 400:
            HH_ERRORS.labels(str(response.status_code), f"oauth/{body.get('error', '')}").inc()
            raise HhOAuthError(response.status_code, str(body.get("error", "")),
                               str(body.get("error_description", "")))
        return dict(body)

    async def exchange_code(self, code: str) -> dict[str, Any]:
        return await self._token({
            "grant_type": "authorization_code",
            "client_id": self._settings.HH_CLIENT_ID,
            "client_secret": self._settings.HH_CLIENT_SECRET.get_secret_value(),
            "code": code,
            "redirect_uri": self._settings.hh_redirect_uri,
        })

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def revoke(self, token: str) -> None:
        """Invalidate a user's tokens: `DELETE /token` (operation `invalidate-token`, the spec since 2025;
        api-changes H4). A server that answers 404 there still knows only the old `DELETE /oauth/token`,
        which is then called, and said so (no token in the log)."""
        try:
            await self._send("DELETE", self._url("/token"), token)
        except HhError as exc:
            if exc.status != 404:
                raise
            log.warning("HeadHunter answered 404 to DELETE /token (request_id=%s): invalidating through the "
                        "old DELETE /oauth/token", exc.request_id)
            await self._send("DELETE", self._url("/oauth/token"), token)

    # -- employer API ------------------------------------------------------------------------
    async def me(self, token: str) -> dict[str, Any]:
        return dict(await self.get(token, "/me"))

    async def managers(self, token: str, employer_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 0
        while True:
            body = await self.get(token, f"/employers/{_numeric('employer', employer_id)}/managers",
                                  {"page": page, "per_page": 200})
            items.extend(body.get("items", []))
            page += 1
            if page >= int(body.get("pages", 1)):
                return items

    async def active_vacancies(self, token: str, employer_id: str, manager_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 0
        while True:
            body = await self.get(token, f"/employers/{_numeric('employer', employer_id)}/vacancies/active",
                                  {"manager_id": _numeric("manager", manager_id), "page": page, "per_page": PER_PAGE})
            items.extend(body.get("items", []))
            page += 1
            if page >= int(body.get("pages", 1)):
                return items

    async def negotiation_collections(self, token: str, vacancy_id: str) -> dict[str, Any]:
        return dict(await self.get(token, "/negotiations", {"vacancy_id": _numeric("vacancy", vacancy_id)}))

    async def collection_page(self, token: str, url: str, page: int) -> dict[str, Any]:
        return dict(await self.get(token, url, {"page": page, "per_page": PER_PAGE}))

    async def negotiation(self, token: str, negotiation_id: str) -> dict[str, Any]:
        return dict(await self.get(token, f"/negotiations/{_numeric('negotiation', negotiation_id)}"))

    async def chat_first_messages(self, token: str, chat_id: str, limit: int) -> list[Any]:
        """The first `limit` messages of a chat (`GET /common/chats/{chat_id}/messages?order=next`, operation
        `get-chat-messages` of the chats API; the deprecated negotiation-messages methods are not used)."""
        body = await self.chat_messages(token, chat_id, limit=limit, order="next")
        messages = body.get("messages")
        return list(messages) if isinstance(messages, list) else []

    async def vacancy(self, token: str, vacancy_id: str) -> dict[str, Any]:
        return dict(await self.get(token, f"/vacancies/{_numeric('vacancy', vacancy_id)}"))

    async def negotiation_action(self, token: str, action_url: str, arguments: dict[str, str] | None = None) -> None:
        """`PUT /negotiations/{action}/{nid}` (change-negotiation-action): the URL is taken from the
        negotiation's `actions[].url`, the arguments go form-encoded; HeadHunter answers 204."""
        await self._send("PUT", self._url(action_url), token, data=arguments or {})

    async def mail_templates(self, token: str, employer_id: str) -> list[dict[str, Any]]:
        """`GET /employers/{employer_id}/mail_templates` (get-mail-templates): the employer's templates of replies
        to applicants, `{id, name, text, type (EMAIL|SMS), employer_state?, variables, template_modified}`."""
        body = await self.get(token, f"/employers/{_numeric('employer', employer_id)}/mail_templates")
        items = body.get("items") if isinstance(body, dict) else None
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    async def message_template(self, token: str, template_url: str) -> str:
        """`GET /message_templates/{template}?topic_id=` (get-negotiation-message-templates), its URL taken from
        an action's `templates[].url`: the e-mail text for this negotiation, variables filled in."""
        body = await self.get(token, template_url)
        mail = body.get("mail") if isinstance(body, dict) else None
        return str(mail.get("text") or "") if isinstance(mail, dict) else ""

    # -- webhooks ----------------------------------------------------------------------------
    async def subscriptions(self, token: str) -> list[dict[str, Any]]:
        return list((await self.get(token, "/webhook/subscriptions")).get("items", []))

    @staticmethod
    def _actions(actions: list[str]) -> list[dict[str, Any]]:
        """Every vacancy the user can see; chat actions take no `settings` at all."""
        return [{"type": a} if a in NO_SETTINGS_ACTIONS else {"type": a, "settings": {"vacancies_only_mine": False}}
                for a in actions]

    async def subscribe(self, token: str, url: str, actions: list[str]) -> str:
        body = {"url": url, "actions": self._actions(actions)}
        response = await self._send("POST", self._url("/webhook/subscriptions"), token, json=body)
        return str(response.json().get("id", ""))

    async def update_subscription(self, token: str, subscription_id: str, url: str, actions: list[str]) -> None:
        """`actions` replaces the subscription's whole list: pass every action the product needs."""
        body = {"url": url, "actions": self._actions(actions)}
        await self._send("PUT", self._url(f"/webhook/subscriptions/{_subscription(subscription_id)}"), token,
                         json=body)

    async def unsubscribe(self, token: str, subscription_id: str) -> None:
        await self._send("DELETE", self._url(f"/webhook/subscriptions/{_subscription(subscription_id)}"), token)

    # -- chats (/common/chats, the newer spec's «Чаты») ----------------------------------------
    async def chat_messages(self, token: str, chat_id: str, start_message_id: str | None = None, limit: int = 20,
                            order: str = "prev") -> dict[str, Any]:
        """`get-chat-messages`: the chat (display, chat_states) with up to `limit` messages from
        `start_message_id` in `order` (next: it and later ones; prev: it and earlier ones)."""
        params: dict[str, Any] = {"limit": limit, "order": order}
        if start_message_id is not None:
            params["start_message_id"] = _numeric("message", start_message_id)
        return dict(await self.get(token, f"/common/chats/{_numeric('chat', chat_id)}/messages", params))

    async def chats(self, token: str, unread_only: bool = True, page: int = 0, per_page: int = 20) -> dict[str, Any]:
        """`get-chat-list`: the manager's chats, the unread ones first of all."""
        params: dict[str, Any] = {"page": page, "per_page": per_page}
        if unread_only:
            params["filter_unread"] = "true"
        return dict(await self.get(token, "/common/chats", params))

    async def post_chat_message(self, token: str, chat_id: str, text: str, idempotency_key: str) -> dict[str, Any]:
        """`chat-message-post`: text with a UUID idempotency key (the same key never makes a second message, so
        a retry after a lost answer is safe)."""
        response = await self._send("POST", self._url(f"/common/chats/{_numeric('chat', chat_id)}/messages"), token,
                                    json={"text": text, "idempotency_key": idempotency_key})
        return dict(response.json())

    async def mark_chat_read(self, token: str, chat_id: str, message_id: str) -> None:
        """`set-last-viewed-message`."""
        await self._send("PUT", self._url(
            f"/common/chats/{_numeric('chat', chat_id)}/message/{_numeric('message', message_id)}/read"), token)
