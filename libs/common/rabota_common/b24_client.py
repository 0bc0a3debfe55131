"""Async client of Bitrix24 REST (reference/b24-rest.md). Takes the injected HTTP client.

Calls go to `{client_endpoint}{method}` as JSON POSTs with `auth` in the body; `batch` packs up to 50
commands whose parameters are encoded the way PHP's http_build_query does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

from opentelemetry import trace

from rabota_common.errors import PermanentError
from rabota_common.http import BodyTooLarge, DestinationRefused, Http, HttpError
from rabota_common.metrics import B24_REQUESTS, portal_label
from rabota_common.outbound import allowed_entries, endpoint_problem
from rabota_common.settings import Settings

# Error codes that become a metric label; any other code (an answer chooses it) counts as "error".
_KNOWN_CODES = frozenset({"expired_token", "QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT", "OVERLOAD_LIMIT",
                          "NETWORK", "INTERNAL_SERVER_ERROR", "PORTAL_DELETED", "NO_AUTH_FOUND", "invalid_token",
                          "APPLICATION_NOT_FOUND", "NOT_INSTALLED", "PAYMENT_REQUIRED", "ACCESS_DENIED",
                          "ENDPOINT_NOT_ALLOWED", "RESPONSE_TOO_LARGE", "ERROR_METHOD_NOT_FOUND"})


def outcome_label(code: str) -> str:
    return code if code in _KNOWN_CODES else "error"

log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)
BATCH_MAX = 50


class B24Error(Exception):
    def __init__(self, status: int, code: str, description: str, reset_at: float | None = None) -> None:
        self.status = status
        self.code = code
        self.description = description
        self.reset_at = reset_at  # OPERATION_TIME_LIMIT: the method's `operating_reset_at`, when given
        super().__init__(f"Bitrix24 {status} {code}: {description}")

    @property
    def expired_token(self) -> bool:
        return self.code == "expired_token"

    @property
    def throttled(self) -> bool:
        return self.code in ("QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT", "OVERLOAD_LIMIT")

    @property
    def transient(self) -> bool:
        return self.throttled or self.status >= 500 or self.code in ("NETWORK", "INTERNAL_SERVER_ERROR")

    @property
    def portal_gone(self) -> bool:
        return self.code in ("PORTAL_DELETED", "NO_AUTH_FOUND", "invalid_token", "APPLICATION_NOT_FOUND",
                             "NOT_INSTALLED", "PAYMENT_REQUIRED", "ACCESS_DENIED") and self.status in (401, 403, 500)


def _reset_at(body: dict[str, Any]) -> float | None:
    """`time.operating_reset_at` of an answer (epoch seconds), if it has one."""
    timing = body.get("time")
    value = timing.get("operating_reset_at") if isinstance(timing, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class B24Refused(B24Error, PermanentError):
    """Permanent: the endpoint is not allowed (ENDPOINT_NOT_ALLOWED) or the answer is too large
    (RESPONSE_TOO_LARGE); no request was made, or reading stopped at the cap."""

    def __init__(self, code: str, description: str, reason: str) -> None:
        B24Error.__init__(self, 400, code, description)  # its super() call reaches PermanentError: set after
        self.code = code
        self.reason = reason


class BatchRef(str):
    """A reference to an earlier command's result inside a `batch` (`$result[key][...]`), which Bitrix24
    substitutes. Only values of this type may do so: every other string of a batch command is neutralised."""


def batch_ref(key: str, *path: str) -> BatchRef:
    return BatchRef("$result" + "".join(f"[{p}]" for p in (key, *path)))


# Bitrix24 (CRestUtil::processBatchElement) matches /\$(result|next|total|time|error)([^\s]*)/i inside every decoded
# value of a batch command, then looks the name up case-sensitively: an applicant named `$result[e1]` would get
# another command's value, `$result[x]` the whole results map (other applicants' data), `$RESULT[x]` an empty field.
_REFERENCE = re.compile(r"\$(?=(?:result|next|total|time|error))", re.IGNORECASE)
# U+2060 WORD JOINER: invisible, so the text reads the same, and the `$` is no longer followed by the word.
_NEUTRAL_DOLLAR = "$\u2060"


def neutralise_references(value: str) -> str:
    """Text (names, vacancies, letters) that can never trigger Bitrix24's batch reference substitution."""
    if "$" not in value or isinstance(value, BatchRef):
        return value
    return _REFERENCE.sub(_NEUTRAL_DOLLAR, value)


def build_query(params: Mapping[str, Any], prefix: str = "", *, batch: bool = False) -> list[tuple[str, str]]:
    """PHP http_build_query pairs: {"a": {"b": [1]}} -> [("a[b][0]", "1")]. With `batch`, the pairs of a batch
    command: every string value but a BatchRef is neutralised (see neutralise_references)."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, Mapping):
            pairs.extend(build_query(value, name, batch=batch))
        elif isinstance(value, list | tuple):
            pairs.extend(build_query({str(i): v for i, v in enumerate(value)}, name, batch=batch))
        elif value is None:
            pairs.append((name, ""))
        elif isinstance(value, bool):
            pairs.append((name, "1" if value else "0"))  # as PHP's http_build_query does
        elif isinstance(value, str):
            pairs.append((name, neutralise_references(value) if batch else value))
        else:
            pairs.append((name, str(value)))
    return pairs


# quote() escapes a string one character at a time in Python; an ASCII one (a file's base64, ids, dates)
# goes through one str.translate in C instead, with the same result.
_ALWAYS_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
_ESCAPES = {safe: {c: f"%{c:02X}" for c in range(128) if chr(c) not in _ALWAYS_SAFE + safe} for safe in ("", "[]")}


def quote_value(value: str, safe: str = "") -> str:
    """urllib.parse.quote(value, safe=safe) for safe "" or "[]"."""
    return value.translate(_ESCAPES[safe]) if value.isascii() else quote(value, safe=safe)


def encode_command(method: str, params: Mapping[str, Any]) -> str:
    query = "&".join(f"{quote_value(k, '[]')}={quote_value(v)}" for k, v in build_query(params, batch=True))
    return f"{method}?{query}" if query else method


class BatchResult:
    def __init__(self, body: dict[str, Any]) -> None:
        inner = body.get("result") or {}
        self.result: dict[str, Any] = inner.get("result") or {}
        self.errors: dict[str, dict[str, Any]] = inner.get("result_error") or {}
        if isinstance(self.result, list):  # empty maps come back as []
            self.result = {}
        if isinstance(self.errors, list):
            self.errors = {}
        times = inner.get("result_time") or {}
        self.times: dict[str, dict[str, Any]] = times if isinstance(times, dict) else {}


class B24Client:
    def __init__(self, http: Http, settings: Settings,
                 throttle: Callable[[str], Awaitable[None]] | None = None) -> None:
        self._http = http
        self._settings = settings
        self._throttle = throttle

    async def call(self, endpoint: str, token: str, method: str, params: Mapping[str, Any] | None = None) -> Any:
        body = await self._post(endpoint, token, method, dict(params or {}))
        return body.get("result")

    async def call_full(self, endpoint: str, token: str, method: str,
                        params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return await self._post(endpoint, token, method, dict(params or {}))

    async def batch(self, endpoint: str, token: str, commands: Mapping[str, tuple[str, Mapping[str, Any]]],
                    halt: bool = False) -> BatchResult:
        if len(commands) > BATCH_MAX:
            raise ValueError(f"a batch holds at most {BATCH_MAX} commands")
        cmd = {key: encode_command(method, params) for key, (method, params) in commands.items()}
        body = await self._post(endpoint, token, "batch", {"halt": 1 if halt else 0, "cmd": cmd})
        return BatchResult(body)

    async def _post(self, endpoint: str, token: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        problem = endpoint_problem(endpoint, allowed_entries(self._settings.B24_ALLOWED_HOSTS))
        if problem is not None:
            raise B24Refused("ENDPOINT_NOT_ALLOWED", problem,
                             f"Адрес портала Битрикс24 не разрешён ({problem}): запрос не отправлен")
        portal = portal_label(endpoint)
        if self._throttle is not None:
            await self._throttle(endpoint)
        url = f"{endpoint.rstrip('/')}/{method}"
        # The token travels in the body, never in the URL, so the URL may go into the span.
        attributes: dict[str, Any] = {"rabota.b24.method": method, "server.address": portal, "url.full": url,
                                      "http.request.method": "POST"}
        if method == "batch":
            attributes["rabota.b24.commands"] = len(params.get("cmd") or {})
        with _tracer.start_as_current_span(f"Bitrix24 {method}", kind=trace.SpanKind.CLIENT,
                                           attributes=attributes) as span:
            try:
                body = await self._send(url, token, params, span)
            except B24Error as exc:
                B24_REQUESTS.labels(method, outcome_label(exc.code)).inc()
                span.set_status(trace.StatusCode.ERROR, exc.code)
                raise
            B24_REQUESTS.labels(method, "ok").inc()
            return body

    async def _send(self, url: str, token: str, params: dict[str, Any], span: trace.Span) -> dict[str, Any]:
        try:
            response = await self._http.request("POST", url, json=dict(params, auth=token),
                                                headers={"Accept": "application/json",
                                                         "User-Agent": "rabota-sync/0.1"}, guarded=True)
        except DestinationRefused as exc:
            raise B24Refused("ENDPOINT_NOT_ALLOWED", str(exc),
                             "Адрес портала Битрикс24 ведёт не в интернет: запрос не отправлен") from exc
        except BodyTooLarge as exc:
            raise B24Refused("RESPONSE_TOO_LARGE", str(exc),
                             f"Ответ Битрикс24 больше {exc.limit // (1024 * 1024)} МБ") from exc
        except HttpError as exc:
            raise B24Error(599, "NETWORK", str(exc)) from exc
        span.set_attribute("http.response.status_code", response.status_code)
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.status_code >= 400 or "error" in body:
            raise B24Error(response.status_code, str(body.get("error", "")) or f"HTTP_{response.status_code}",
                           str(body.get("error_description", "")), _reset_at(body))
        return body

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        """Exchange a refresh token at the OAuth server; the pair rotates."""
        url = f"{self._settings.B24_OAUTH_URL.rstrip('/')}/oauth/token/"
        params = {
            "grant_type": "refresh_token",
            "client_id": self._settings.B24_CLIENT_ID,
            "client_secret": self._settings.B24_CLIENT_SECRET.get_secret_value(),
            "refresh_token": refresh_token,
        }
        try:
            response = await self._http.request("GET", url, params=params)
        except HttpError as exc:
            raise B24Error(599, "NETWORK", str(exc)) from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400 or "error" in body:
            raise B24Error(response.status_code, str(body.get("error", "")), str(body.get("error_description", "")))
        return dict(body)
