"""Encryption of secrets at rest and signed short-lived tokens (sessions, OAuth state)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


class TokenError(Exception):
    """A signed token is malformed, forged or expired."""


def _derive(key: str, purpose: str) -> bytes:
    return hashlib.sha256(f"{purpose}:{key}".encode()).digest()


class Crypto:
    def __init__(self, secret_key: str) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret_key, "encrypt")))
        self._sign_key = _derive(secret_key, "sign")

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise TokenError("cannot decrypt stored secret") from exc

    def sign(self, payload: dict[str, Any], ttl_s: int) -> str:
        body = dict(payload, exp=int(time.time()) + ttl_s, nonce=secrets.token_hex(8))
        raw = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).rstrip(b"=")
        mac = hmac.new(self._sign_key, raw, hashlib.sha256).digest()
        return f"{raw.decode()}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"

    def verify(self, token: str) -> dict[str, Any]:
        try:
            raw, mac = token.split(".", 1)
            expected = hmac.new(self._sign_key, raw.encode(), hashlib.sha256).digest()
            given = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
        except (ValueError, TypeError) as exc:
            raise TokenError("malformed token") from exc
        if not hmac.compare_digest(expected, given):
            raise TokenError("bad signature")
        body: dict[str, Any] = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if int(body.get("exp", 0)) < time.time():
            raise TokenError("expired")
        return body
