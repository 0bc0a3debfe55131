"""Encryption at rest (tokens, personal data) and signed short-lived tokens (sessions, OAuth state).

One `APP_SECRET_KEY` gives a separate key per purpose (HKDF-SHA256, a fixed app salt, info = the purpose), so a
session token never verifies as an OAuth state and the token key never decrypts personal data. Previous keys
(`APP_SECRET_KEY_OLD`) still decrypt and verify after a rotation; everything new is encrypted and signed with the
current key (MultiFernet).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Sequence
from typing import Any, Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class TokenError(Exception):
    """A signed token is malformed, forged or expired, or a sealed value cannot be decrypted."""


# The purposes of the derived keys (HKDF info). Encryption purposes seal values; signing purposes sign tokens.
TOKENS: Final = "token-encryption"
PERSONAL: Final = "personal-data-encryption"
SESSION: Final = "session-signing"
OAUTH_STATE: Final = "oauth-state-signing"
ENCRYPTION_PURPOSES: Final = (TOKENS, PERSONAL)
SIGNING_PURPOSES: Final = (SESSION, OAUTH_STATE)
APP_SALT: Final = b"rabota-sync/app-secret-key/v1"
# Personal data at rest (failure records, parked work, dead letters, Other responses data, feedback) is sealed
# with the personal-data key; a sealed value starts with SEALED. A value without it was stored before
# encryption and is read as it is, so that an upgrade loses nothing; nothing new is written in clear.
SEALED: Final = "enc1:"


def derive_key(secret_key: str, purpose: str) -> bytes:
    """The 32-byte key of one purpose (HKDF-SHA256, app salt, info = purpose)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=APP_SALT, info=purpose.encode()).derive(
        secret_key.encode())


def _legacy_token_key(secret_key: str) -> bytes:
    """The token key of releases before HKDF (one SHA-256): decrypts tokens stored by them, never encrypts."""
    return hashlib.sha256(f"encrypt:{secret_key}".encode()).digest()


def _fernet(key: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(key))


class Crypto:
    """`secret_key` encrypts and signs; each of `old_keys` (previous keys, newest first) only decrypts and verifies."""

    def __init__(self, secret_key: str, old_keys: Sequence[str] = ()) -> None:
        keys = [secret_key, *(k for k in old_keys if k and k != secret_key)]
        self._fernets: dict[str, MultiFernet] = {}
        for purpose in ENCRYPTION_PURPOSES:
            fernets = [_fernet(derive_key(k, purpose)) for k in keys]
            if purpose == TOKENS:
                fernets += [_fernet(_legacy_token_key(k)) for k in keys]
            self._fernets[purpose] = MultiFernet(fernets)
        self._sign_keys = {purpose: [derive_key(k, purpose) for k in keys] for purpose in SIGNING_PURPOSES}

    def _multi(self, purpose: str) -> MultiFernet:
        try:
            return self._fernets[purpose]
        except KeyError:
            raise ValueError(f"unknown encryption purpose {purpose!r}") from None

    def encrypt(self, plain: str, purpose: str = TOKENS) -> str:
        return self._multi(purpose).encrypt(plain.encode()).decode()

    def decrypt(self, token: str, purpose: str = TOKENS) -> str:
        try:
            return self._multi(purpose).decrypt(token.encode()).decode()
        except (InvalidToken, UnicodeError) as exc:
            raise TokenError("cannot decrypt stored secret") from exc

    def seal(self, plain: str) -> str:
        """Personal data as stored: encrypted with the personal-data key, marked as sealed."""
        return SEALED + self.encrypt(plain, PERSONAL)

    def unseal(self, stored: str) -> str:
        """A stored personal value in clear (one from before encryption is returned as it is)."""
        return self.decrypt(stored[len(SEALED):], PERSONAL) if stored.startswith(SEALED) else stored

    def seal_json(self, data: Any) -> str:
        return self.seal(json.dumps(data, ensure_ascii=False, separators=(",", ":")))

    def unseal_json(self, stored: str) -> Any:
        return json.loads(self.unseal(stored))

    def _keys(self, purpose: str) -> list[bytes]:
        try:
            return self._sign_keys[purpose]
        except KeyError:
            raise ValueError(f"unknown signing purpose {purpose!r}") from None

    def sign(self, payload: dict[str, Any], ttl_s: int, *, purpose: str) -> str:
        """A token for one purpose (SESSION, OAUTH_STATE), signed with the current key."""
        key = self._keys(purpose)[0]
        body = dict(payload, exp=int(time.time()) + ttl_s, nonce=secrets.token_hex(8))
        raw = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).rstrip(b"=")
        mac = hmac.new(key, raw, hashlib.sha256).digest()
        return f"{raw.decode()}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"

    def verify(self, token: str, *, purpose: str) -> dict[str, Any]:
        """The body of a token signed for `purpose` with the current or a previous key, unexpired."""
        keys = self._keys(purpose)
        try:
            raw, mac = token.split(".", 1)
            given = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
            raw_bytes = raw.encode("ascii")
        except (ValueError, TypeError) as exc:
            raise TokenError("malformed token") from exc
        if not any(hmac.compare_digest(hmac.new(key, raw_bytes, hashlib.sha256).digest(), given) for key in keys):
            raise TokenError("bad signature")
        try:
            body = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except ValueError as exc:
            raise TokenError("malformed token") from exc
        if not isinstance(body, dict):
            raise TokenError("malformed token")
        try:
            expires = int(body.get("exp", 0))
        except (TypeError, ValueError) as exc:
            raise TokenError("malformed token") from exc
        if expires < time.time():
            raise TokenError("expired")
        return body
