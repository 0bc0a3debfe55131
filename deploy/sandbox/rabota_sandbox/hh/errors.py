"""HeadHunter error bodies: `{"errors":[{"type","value"}], "description", "request_id"}` + X-Request-Id."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

DESCRIPTIONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

OAUTH_ERROR = {
    "token_expired": "token-expired",
    "token_revoked": "token-revoked",
    "bad_authorization": "bad-auth-type",
    "user_auth_expected": "bad-auth-type",
    "application_auth_expected": "bad-auth-type",
}


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_of(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if not rid:
        rid = new_request_id()
        request.state.request_id = rid
    return str(rid)


class HHError(Exception):
    """An API error answered in the HeadHunter format."""

    def __init__(
        self,
        status: int,
        errors: list[dict[str, Any]],
        description: str | None = None,
        *,
        oauth_error: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {errors}")
        self.status = status
        self.errors = errors
        self.description = description or DESCRIPTIONS.get(status, "Error")
        self.oauth_error = oauth_error
        self.extra = extra or {}


def bad_argument(name: str, description: str | None = None, reason: str | None = None) -> HHError:
    err: dict[str, Any] = {"type": "bad_argument", "value": name}
    if reason:
        err["reason"] = reason
    return HHError(
        400,
        [err],
        description or f"Bad argument: {name}",
        extra={"bad_arguments": [{"name": name, "description": description or "invalid"}]},
    )


def not_found(type_: str = "not_found", value: str | None = None) -> HHError:
    err: dict[str, Any] = {"type": type_}
    if value is not None:
        err["value"] = value
    return HHError(404, [err], "Not Found")


def forbidden() -> HHError:
    return HHError(403, [{"type": "forbidden"}], "Forbidden")


def oauth_failure(value: str) -> HHError:
    return HHError(403, [{"type": "oauth", "value": value}], "Forbidden", oauth_error=OAUTH_ERROR.get(value, value))


def error_response(request: Request, exc: HHError) -> JSONResponse:
    rid = request_id_of(request)
    body: dict[str, Any] = {"errors": exc.errors, "description": exc.description}
    body.update(exc.extra)
    if exc.oauth_error:
        body["oauth_error"] = exc.oauth_error
    body["request_id"] = rid
    return JSONResponse(body, status_code=exc.status, headers={"X-Request-Id": rid})


class TokenError(Exception):
    """An error of the token endpoint, answered in RFC 6749 form."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


def token_error_response(request: Request, exc: TokenError) -> JSONResponse:
    rid = request_id_of(request)
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description},
        status_code=exc.status,
        headers={"X-Request-Id": rid},
    )


def empty_429(request: Request) -> Response:
    return Response(status_code=429, headers={"X-Request-Id": request_id_of(request)})
