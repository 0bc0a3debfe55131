"""Helpers of tests/security/test_secrets.py: weak keys, an applicant with personal data, raw reads of Redis
and of the DLQ stream (bytes as stored, never through the product's decryption)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import nats
import redis.asyncio as aioredis
from rabota_common.bus import nats_servers
from rabota_common.models import ActivityContent, ContactData, CrmCommand
from rabota_common.settings import SANDBOX_APP_SECRET_KEY

# Keys an operator might leave in place: templates, the sandbox key, short or patterned strings.
WEAK_KEYS = {
    "template": "change-me",
    "template_upper": "CHANGE-ME",
    "sandbox_key": SANDBOX_APP_SECRET_KEY,
    "short": "k3Jx9-Qz",
    "short_hex_128_bits": secrets.token_hex(16),
    "one_letter": "a" * 40,
    "one_letter_long": "a" * 200,
    "repeated_pattern": "Ab3_" * 30,
    "placeholder_words": "please-replace-this-placeholder-with-a-real-value-0123456789",
    "example": "example-key-" + "x1y2z3" * 10,
    "empty": "",
}
# Personal data of one applicant, distinctive enough to grep raw bytes for.
NAME = "Зинаида Секретова-Шифровальщикова"
PHONE = "+375291234567"
EMAIL = "zinaida.sekretova@example.by"
PERSONAL = (NAME, PHONE, EMAIL)


def strong_key() -> str:
    return secrets.token_urlsafe(48)


def command(portal: str, negotiation_id: str = "9001") -> CrmCommand:
    """A CRM command carrying the applicant's name, phone and e-mail (what failures and dead letters hold)."""
    return CrmCommand(
        portal=portal, negotiation_id=negotiation_id, vacancy_id="77", kind="response", hh_status="response",
        entity_type="lead", entity_type_id=1, responsible_id=1, title=f"Отклик: {NAME}",
        contact=ContactData(name="Зинаида", last_name="Секретова-Шифровальщикова", phone=PHONE, email=EMAIL),
        comments=f"{NAME}, {PHONE}, {EMAIL}", created_date="01-12-2026", status_name="Отклик",
        vacancy_name="Шифровальщик", applicant_key="a1b2c3",
        activity=ActivityContent(title="Отклик", vacancy="Шифровальщик", full_name=NAME, phone=PHONE, email=EMAIL,
                                 applicant_key="a1b2c3"))


def leaks(blob: bytes, needles: tuple[str, ...] = PERSONAL) -> list[str]:
    """The needles found in clear in `blob`: as UTF-8 or as JSON's ASCII escapes."""
    return [n for n in needles if n.encode() in blob or json.dumps(n)[1:-1].encode() in blob]


async def raw_redis(client: aioredis.Redis) -> dict[str, bytes]:
    """Every key of the database with its value's bytes as stored (hash fields and values, list and set items)."""
    out: dict[str, bytes] = {}
    async for raw_key in client.scan_iter(count=1000):
        key = raw_key.decode(errors="replace")
        kind = (await client.type(raw_key)).decode()
        parts: list[bytes] = []
        if kind == "string":
            parts = [await client.get(raw_key) or b""]
        elif kind == "hash":
            for field, value in (await client.hgetall(raw_key)).items():
                parts += [field, value]
        elif kind == "list":
            parts = list(await client.lrange(raw_key, 0, -1))
        elif kind == "set":
            parts = list(await client.smembers(raw_key))
        elif kind == "zset":
            parts = [m for m, _ in await client.zrange(raw_key, 0, -1, withscores=True)]
        out[key] = raw_key + b"\n" + b"\n".join(parts)
    return out


async def raw_dlq(nats_url: str) -> list[tuple[str, bytes]]:
    """Every message of the DLQ stream as stored: (subject, body bytes)."""
    nc = await nats.connect(nats_servers(nats_url))
    out: list[tuple[str, bytes]] = []
    try:
        js = nc.jetstream()
        info = await js.stream_info("DLQ")
        for seq in range(int(info.state.first_seq or 1), int(info.state.last_seq or 0) + 1):
            try:
                msg = await js.get_msg("DLQ", seq=seq)
            except nats.js.errors.NotFoundError:
                continue
            out.append((str(msg.subject), bytes(msg.data or b"")))
    finally:
        await nc.close()
    return out


def start_with(env: dict[str, str], *argv: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run a product entry point (`python -m …`) with this environment on top of a clean one."""
    base = {k: v for k, v in os.environ.items()
            if k not in {"SANDBOX", "APP_SECRET_KEY", "APP_SECRET_KEY_OLD"}}
    return subprocess.run([sys.executable, *argv], env={**base, **env}, capture_output=True, text=True,
                          timeout=timeout_s, check=False)



def applicant_needles(commands: list[dict[str, object]]) -> tuple[str, ...]:
    """The names, phones and e-mails of these CRM commands' applicants (what must never be stored in clear)."""
    found: set[str] = set()
    for cmd in commands:
        contact = cmd.get("contact")
        if not isinstance(contact, dict):
            continue
        full = " ".join(str(contact.get(k) or "") for k in ("last_name", "name")).strip()
        for value in (full, contact.get("phone"), contact.get("email")):
            if isinstance(value, str) and len(value) >= 6:
                found.add(value)
    return tuple(sorted(found))
