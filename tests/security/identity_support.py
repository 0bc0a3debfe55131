"""Tools of the identity attacks (tests/security/test_identity.py): a hostile fake Bitrix24 on loopback that
answers every method (and the OAuth token endpoint) with success and records every request, and helpers that
read a portal's Redis keys."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis.asyncio as aioredis
from rabota_common.crypto import Crypto
from rabota_common.settings import SANDBOX_APP_SECRET_KEY, SANDBOX_B24_CLIENT_ID
from rabota_common.store import PortalRecord, Store


class HostileBitrix24:
    """A server that says yes to everything: `user.current` is an admin, `app.info` names our app, `batch`
    succeeds, `/oauth/token/` hands out tokens for any member_id. Every request is recorded."""

    def __init__(self, member_id: str = "") -> None:
        self.requests: list[dict[str, Any]] = []
        self.member_id = member_id
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode(errors="replace") if length else ""
                hostile.requests.append({"method": self.command, "path": self.path, "body": body})
                port = self.server.server_address[1]
                if "/oauth/token" in self.path:
                    result: Any = {"access_token": "hostile-at", "refresh_token": "hostile-rt", "expires_in": 3600,
                                   "member_id": hostile.member_id, "domain": f"127.0.0.1:{port}",
                                   "client_endpoint": f"http://127.0.0.1:{port}/rest/",
                                   "server_endpoint": f"http://127.0.0.1:{port}/rest/", "status": "L"}
                    payload = json.dumps(result).encode()
                else:
                    result = {"ID": "1", "ADMIN": True, "NAME": "Hostile", "CODE": SANDBOX_B24_CLIENT_ID,
                              "CLIENT_ID": SANDBOX_B24_CLIENT_ID, "INSTALLED": True, "result": {}, "result_error": {}}
                    if self.path.rstrip("/").endswith("user.admin"):
                        result = True
                    payload = json.dumps({"result": result, "time": {"start": 0, "finish": 0}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> HostileBitrix24:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


# Identifiers with patterns in them: Redis glob characters, NATS separators and wildcards, near-misses.
PATTERN_IDS = ["*", "?", "[a-f]*", "..", ".", "a.b", ">", "rs:*", "%2A",
               "0123456789abcdef0123456789abcde*", "0123456789ABCDEF0123456789ABCDEF",
               "0123456789abcdef0123456789abcdef.x", "0123456789abcdef0123456789abcde"]


def store(redis_url: str) -> tuple[aioredis.Redis, Store]:
    client = aioredis.Redis.from_url(redis_url)
    return client, Store(client, Crypto(SANDBOX_APP_SECRET_KEY))


async def portal_keys(client: aioredis.Redis, member_id: str) -> set[str]:
    """Every Redis key of one portal (the test may scan; the product never does)."""
    return {k.decode() async for k in client.scan_iter(match=f"rs:{member_id}:*")}


async def record(redis_url: str, member_id: str) -> PortalRecord | None:
    client, st = store(redis_url)
    try:
        return await st.get_portal(member_id)
    finally:
        await client.aclose()


def is_russian_error(body: Any) -> bool:
    return (isinstance(body, dict) and bool(body.get("error"))
            and any("а" <= ch.lower() <= "я" for ch in str(body.get("message", ""))))
