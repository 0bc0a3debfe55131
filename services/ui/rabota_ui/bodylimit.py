"""Request-body size limit of the public surface: a pure ASGI middleware that answers 413 before anything
parses the body, by its Content-Length and, for a body without one (chunked), by counting what arrives."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEBHOOK_PREFIX = "/hh/webhook/"
TOO_LARGE = {"error": "payload_too_large", "message": "Тело запроса слишком большое."}


# A client that sends a body past the limit (most send it all before reading the answer) gets it read and
# dropped up to this much, so that it sees the 413 instead of a reset connection; beyond it, the connection
# is closed.
DRAIN_MAX = 16 * 1024 * 1024


async def _drain(receive: Receive, budget: int) -> None:
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class BodyTooLarge(Exception):
    """Raised into the application by `receive` when a streamed body passes the limit."""


async def _answer_413(send: Send) -> None:
    body = json.dumps(TOO_LARGE, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """`limit` bytes for every request body, `webhook_limit` for HeadHunter's webhooks (tiny JSON)."""

    def __init__(self, app: ASGIApp, limit: int, webhook_limit: int) -> None:
        self.app = app
        self.limit = limit
        self.webhook_limit = webhook_limit

    def _limit_of(self, scope: Scope) -> int:
        path = str(scope.get("path", ""))
        return min(self.limit, self.webhook_limit) if path.startswith(WEBHOOK_PREFIX) else self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_of(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            if declared <= DRAIN_MAX:
                await _drain(receive, declared)
            await _answer_413(send)
            return
        received = 0
        too_large = False

        async def counted_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    if message.get("more_body", False):
                        await _drain(receive, DRAIN_MAX - received)
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            # Whatever the application answers to a body it could not have (its error handlers' 500, say),
            # the client gets the 413.
            if not too_large:
                await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large:
            await _answer_413(send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None

