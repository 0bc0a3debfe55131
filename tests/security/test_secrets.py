"""Secrets (issue 14, What to build 6 and 10): template and weak keys stop the services outside the sandbox,
per-purpose keys (a session is never an OAuth state), rotation keeps old data and sessions readable, and no
applicant's name, phone or e-mail is stored in clear in Redis or in the dead-letter stream.

Each attack is refused, and the genuine path still works: a generated key starts, the current and old keys
read what they wrote, the product reads back (and replays) everything it sealed."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from cryptography.fernet import Fernet
from pydantic import ValidationError
from rabota_common import subjects
from rabota_common.bus import dead_letter, ensure_jetstream
from rabota_common.crypto import (
    ENCRYPTION_PURPOSES,
    OAUTH_STATE,
    PERSONAL,
    SESSION,
    SIGNING_PURPOSES,
    TOKENS,
    Crypto,
    TokenError,
    derive_key,
)
from rabota_common.dlq import list_letters, replay
from rabota_common.models import CrmCommand, DeadLetter
from rabota_common.runtime import build_runtime
from rabota_common.settings import Settings
from rabota_common.store import Failure, HhAccount, PortalRecord, Store
from rabota_mapper.handlers import cached_resume, remember_resume
from rabota_stack.stack import Stack, StackConfig

from tests.e2e.harness import Driver
from tests.security.secrets_support import (
    EMAIL,
    NAME,
    PHONE,
    WEAK_KEYS,
    applicant_needles,
    command,
    leaks,
    raw_dlq,
    raw_redis,
    start_with,
    strong_key,
)

PORTAL = "5ec7e75ec7e75ec7e75ec7e75ec7e75e"
# Weak keys whose refusal names the placeholder word; the others must never be echoed.
NAMED_IN_MESSAGE = {"template", "template_upper", "sandbox_key", "placeholder_words", "example", "empty"}


# -- weak keys -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(WEAK_KEYS))
def test_weak_key_is_refused_outside_the_sandbox(name: str) -> None:
    key = WEAK_KEYS[name]
    with pytest.raises(ValidationError) as caught:
        Settings(SANDBOX=False, APP_SECRET_KEY=key)
    message = str(caught.value)
    assert "APP_SECRET_KEY is refused" in message and "secrets.token_urlsafe(48)" in message, message
    if name not in NAMED_IN_MESSAGE:
        assert key not in message, "the refused key is echoed"
    # A weak previous key is refused as well: it would still verify forged sessions.
    with pytest.raises(ValidationError, match="APP_SECRET_KEY_OLD key 1 is refused"):
        Settings(SANDBOX=False, APP_SECRET_KEY=strong_key(), APP_SECRET_KEY_OLD=key or ",change-me")
    # Genuine: a generated key is accepted, with a generated previous key.
    good = Settings(SANDBOX=False, APP_SECRET_KEY=strong_key(), APP_SECRET_KEY_OLD=f"{strong_key()}, {strong_key()}")
    assert len(good.old_secret_keys) == 2


def test_sandbox_is_off_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing set, the sandbox key (the default) stops a service; SANDBOX=1 is an explicit choice."""
    for var in ("SANDBOX", "APP_SECRET_KEY", "APP_SECRET_KEY_OLD"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ValidationError, match="it is the sandbox key"):
        Settings()
    monkeypatch.setenv("SANDBOX", "1")
    assert Settings().SANDBOX is True
    monkeypatch.setenv("SANDBOX", "0")
    monkeypatch.setenv("APP_SECRET_KEY", strong_key())
    assert Settings().SANDBOX is False


@pytest.mark.parametrize("module", ["rabota_ui", "rabota_auth", "rabota_common.dlq"])
def test_service_stops_at_start_with_a_clear_message(module: str) -> None:
    closed = {"NATS_URL": "nats://127.0.0.1:9", "REDIS_URL": "redis://127.0.0.1:9/0", "METRICS_PORT": "0"}
    argv = ("-m", module, *(["list"] if module.endswith("dlq") else []))
    for env in ({"SANDBOX": "0", "APP_SECRET_KEY": "change-me"},  # the .env.example / k8s template value
                {"APP_SECRET_KEY": "q" * 64},  # the image's SANDBOX=0 as default, a patterned key
                {}):  # nothing set: the built-in sandbox key outside the sandbox
        done = start_with({**closed, **env}, *argv)
        assert done.returncode != 0, (env, done.stdout[-500:])
        assert "configuration refused" in done.stderr and "APP_SECRET_KEY is refused" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        assert "q" * 64 not in done.stderr + done.stdout
    # Genuine: with a generated key the same configuration is accepted.
    ok = start_with({"SANDBOX": "0", "APP_SECRET_KEY": strong_key()}, "-c",
                    "from rabota_common.settings import get_settings; print(get_settings().SANDBOX)")
    assert ok.returncode == 0 and ok.stdout.strip() == "False", ok.stderr


# -- per-purpose keys --------------------------------------------------------------------------------------
def test_session_token_is_never_an_oauth_state_and_back() -> None:
    crypto = Crypto(strong_key())
    session = crypto.sign({"kind": "session", "p": PORTAL, "u": 1}, 600, purpose=SESSION)
    state = crypto.sign({"kind": "hh_state", "p": PORTAL, "n": "nonce"}, 600, purpose=OAUTH_STATE)
    # A session's body dressed as a state (the kind is in the signed body, but the key differs too).
    dressed = crypto.sign({"kind": "hh_state", "p": PORTAL, "n": "nonce"}, 600, purpose=SESSION)
    for token, wrong in ((session, OAUTH_STATE), (state, SESSION), (dressed, OAUTH_STATE)):
        with pytest.raises(TokenError):
            crypto.verify(token, purpose=wrong)
    assert crypto.verify(session, purpose=SESSION)["u"] == 1
    assert crypto.verify(state, purpose=OAUTH_STATE)["n"] == "nonce"


def test_per_purpose_keys_differ_and_do_not_cross() -> None:
    key = strong_key()
    derived = {p: derive_key(key, p) for p in (*ENCRYPTION_PURPOSES, *SIGNING_PURPOSES)}
    assert len(set(derived.values())) == 4 and all(len(k) == 32 for k in derived.values())
    # Not the single SHA-256 of old, and another key gives other keys.
    assert not {hashlib.sha256(f"{w}:{key}".encode()).digest() for w in ("encrypt", "sign")} & set(derived.values())
    assert derive_key(strong_key(), SESSION) != derived[SESSION]
    crypto = Crypto(key)
    token = crypto.encrypt("hh-access-token", TOKENS)
    sealed = crypto.seal(NAME)
    with pytest.raises(TokenError):
        crypto.decrypt(token, PERSONAL)
    with pytest.raises(TokenError):
        crypto.unseal("enc1:" + token)
    assert crypto.decrypt(token) == "hh-access-token" and crypto.unseal(sealed) == NAME
    with pytest.raises(ValueError):
        crypto.sign({}, 60, purpose=TOKENS)


# -- rotation ------------------------------------------------------------------------------------------------
async def test_rotation_keeps_old_data_and_sessions(redis_url: str) -> None:
    old, new, older = strong_key(), strong_key(), strong_key()
    client = aioredis.Redis.from_url(redis_url)
    try:
        before = Store(client, Crypto(old))
        await before.save_portal(PortalRecord(member_id=PORTAL, domain="a.bitrix24.by",
                                              client_endpoint="https://a.bitrix24.by/rest/",
                                              access_token="b24-access", refresh_token="b24-refresh"))
        await before.save_hh(PORTAL, HhAccount(access_token="hh-access", refresh_token="hh-refresh"))
        await before.add_failure(PORTAL, Failure(negotiation_id="1", reason="r",
                                                 data=command(PORTAL).model_dump(mode="json")))
        await before.park(PORTAL, f"hh.negotiation.{PORTAL}", {"negotiation_id": "2"})
        await before.add_feedback(PORTAL, {"message": "m", "contact": EMAIL})
        session = before.crypto.sign({"kind": "session", "p": PORTAL, "u": 1}, 600, purpose=SESSION)
        state = before.crypto.sign({"kind": "hh_state", "p": PORTAL, "n": "x"}, 600, purpose=OAUTH_STATE)
        # A token stored by the release before HKDF (one SHA-256 of the key): still read after the upgrade.
        legacy = Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"encrypt:{old}".encode()).digest()))
        await client.hset(Store.key(PORTAL, "hh"), "refresh_token", legacy.encrypt(b"legacy-refresh").decode())

        # Refused without the old key: rotation is what keeps it readable.
        with pytest.raises(TokenError):
            await Store(client, Crypto(new)).get_portal(PORTAL)
        with pytest.raises(TokenError):
            Crypto(new).verify(session, purpose=SESSION)

        settings = Settings(SANDBOX=False, APP_SECRET_KEY=new, APP_SECRET_KEY_OLD=f"{older},{old}")
        after = Store(client, Crypto(settings.APP_SECRET_KEY.get_secret_value(), settings.old_secret_keys))
        portal = await after.get_portal(PORTAL)
        assert portal is not None and (portal.access_token, portal.refresh_token) == ("b24-access", "b24-refresh")
        hh = await after.get_hh(PORTAL)
        assert hh is not None and (hh.access_token, hh.refresh_token) == ("hh-access", "legacy-refresh")
        [failure] = await after.failures(PORTAL)
        assert failure.data["contact"]["email"] == EMAIL
        assert await after.take_parked(PORTAL) == [(f"hh.negotiation.{PORTAL}", {"negotiation_id": "2"})]
        assert [e["contact"] for e in await after.feedback(PORTAL)] == [EMAIL]
        assert after.crypto.verify(session, purpose=SESSION)["p"] == PORTAL
        assert after.crypto.verify(state, purpose=OAUTH_STATE)["p"] == PORTAL

        # New writes use the current key only: the old key alone no longer reads or verifies them.
        await after.update_portal(PORTAL, access_token="b24-access-2")
        raw = (await client.hget(Store.key(PORTAL, "portal"), "access_token") or b"").decode()
        assert Crypto(new).decrypt(raw) == "b24-access-2"
        with pytest.raises(TokenError):
            Crypto(old).decrypt(raw)
        fresh = after.crypto.sign({"kind": "session", "p": PORTAL, "u": 2}, 600, purpose=SESSION)
        with pytest.raises(TokenError):
            Crypto(old).verify(fresh, purpose=SESSION)
        assert Crypto(new).verify(fresh, purpose=SESSION)["u"] == 2
    finally:
        await client.aclose()


# -- personal data at rest -------------------------------------------------------------------------------
async def test_personal_data_is_never_stored_in_clear(nats_url: str, redis_url: str) -> None:
    """Failure records, parked work, Other responses data, feedback and dead letters hold the applicant's
    name, phone and e-mail only encrypted; the product reads them back and the DLQ tool still replays."""
    await ensure_jetstream(nats_url)
    rt = build_runtime("secrets-test", Settings(SANDBOX=False, APP_SECRET_KEY=strong_key(), NATS_URL=nats_url,
                                                REDIS_URL=redis_url, METRICS_PORT=0))
    await rt.broker.connect()
    js = rt.broker.connection.jetstream()
    cmd = command(PORTAL)
    data = cmd.model_dump(mode="json")
    subject = subjects.subject(subjects.CRM_COMMAND, portal=PORTAL)
    try:
        await rt.store.add_failure(PORTAL, Failure(negotiation_id=cmd.negotiation_id, reason="Битрикс24: ошибка",
                                                   data=data))
        await rt.store.park(PORTAL, subject, data)
        await rt.store.add_feedback(PORTAL, {"user_id": 1, "message": f"Позвоните {NAME}: {PHONE}",
                                             "contact": EMAIL})
        info_key = rt.store.key(PORTAL, "entity-info", "lead:5")
        await rt.store.redis.hset(info_key, mapping=rt.store.seal_info({
            "vacancy": f"Вакансия для {NAME}", "status": PHONE, "created_at": EMAIL, "url": "/crm/lead/details/5/",
            "negotiation_id": cmd.negotiation_id}))
        await dead_letter(rt.broker, "crm-writer", subject, 8, "TransientError: Битрикс24 не ответил", data,
                          crypto=rt.crypto)

        # The attack: read the stores raw, as anyone with the Redis password or a NATS login could.
        stored = await raw_redis(rt.store.redis)
        written = {rt.store.key(PORTAL, "failures"), rt.store.key(PORTAL, "parked"), rt.store.key(PORTAL, "feedback"),
                   info_key}
        assert written <= set(stored), sorted(stored)
        in_clear = {key: found for key, value in stored.items() if (found := leaks(value))}
        assert not in_clear, f"personal data in clear in Redis: {in_clear}"
        letters = [(s, body) for s, body in await raw_dlq(nats_url) if s.endswith(PORTAL)]
        assert len(letters) == 1
        assert not leaks(letters[0][1]), f"personal data in clear in the DLQ: {leaks(letters[0][1])}"
        assert DeadLetter.model_validate_json(letters[0][1]).reason == "TransientError: Битрикс24 не ответил"

        # Genuine: the product reads back everything it sealed.
        [failure] = await rt.store.failures(PORTAL)
        assert CrmCommand.model_validate(failure.data) == cmd
        assert rt.store.open_info(await rt.store.redis.hgetall(info_key))["status"] == PHONE
        assert (await rt.store.feedback(PORTAL))[0]["contact"] == EMAIL
        assert await rt.store.take_parked(PORTAL) == [(subject, data)]
        [letter] = await list_letters(js, crypto=rt.crypto)
        assert letter.letter.data == data and letter.portal == PORTAL
        await replay(rt, js, letter)
        replayed = await js.get_msg("CRM_COMMAND", subject=subject)
        assert CrmCommand.model_validate_json(replayed.data or b"") == cmd
        assert await list_letters(js, crypto=rt.crypto) == []
    finally:
        await rt.broker.stop()
        await rt.close()


async def test_records_stored_in_clear_before_the_upgrade_are_still_read(nats_url: str, redis_url: str) -> None:
    """Migration: a failure, parked message, Other responses record, feedback entry or dead letter written
    in clear by an earlier release is read (and replayed); nothing new is written in clear."""
    await ensure_jetstream(nats_url)
    rt = build_runtime("secrets-test", Settings(SANDBOX=True, NATS_URL=nats_url, REDIS_URL=redis_url,
                                                METRICS_PORT=0))
    await rt.broker.connect()
    js = rt.broker.connection.jetstream()
    cmd = command(PORTAL, "9002")
    data = cmd.model_dump(mode="json")
    subject = subjects.subject(subjects.CRM_COMMAND, portal=PORTAL)
    try:
        old = Failure(negotiation_id="9002", reason="r", data=data)
        await rt.store.redis.hset(rt.store.key(PORTAL, "failures"), "9002", old.model_dump_json())
        await rt.store.redis.rpush(rt.store.key(PORTAL, "parked"), json.dumps({"subject": subject, "data": data}))
        await rt.store.redis.rpush(rt.store.key(PORTAL, "feedback"),
                             json.dumps({"message": "m", "contact": EMAIL, "portal": PORTAL}))
        info_key = rt.store.key(PORTAL, "entity-info", "lead:6")
        await rt.store.redis.hset(info_key, mapping={"vacancy": "Шифровальщик", "status": "Отклик", "url": "/x/"})
        plain = DeadLetter(stage="crm-writer", subject=subject, reason="r", deliveries=8, data=data)
        await js.publish(subjects.subject(subjects.DLQ, stage="crm-writer", portal=PORTAL),
                         plain.model_dump_json().encode())

        assert [f.data for f in await rt.store.failures(PORTAL)] == [data]
        assert await rt.store.take_parked(PORTAL) == [(subject, data)]
        assert (await rt.store.feedback(PORTAL))[0]["contact"] == EMAIL
        assert rt.store.open_info(await rt.store.redis.hgetall(info_key))["vacancy"] == "Шифровальщик"
        [letter] = await list_letters(js, crypto=rt.crypto)
        assert letter.letter.data == data
        await replay(rt, js, letter)
        replayed = await js.get_msg("CRM_COMMAND", subject=subject)
        assert CrmCommand.model_validate_json(replayed.data or b"") == cmd

        # Rewritten, it is sealed.
        await rt.store.add_failure(PORTAL, old)
        raw = await rt.store.redis.hget(rt.store.key(PORTAL, "failures"), "9002") or b""
        assert raw.startswith(b"enc1:") and not leaks(raw)
        assert json.loads(rt.crypto.unseal(raw.decode()))["negotiation_id"] == "9002"
    finally:
        await rt.broker.stop()
        await rt.close()


# -- the real stack ------------------------------------------------------------------------------------------
@pytest.mark.timeout(420)
async def test_stack_keeps_no_applicant_data_in_clear(tmp_path: Path) -> None:
    """A real import whose leads all fail (a mandatory field), one retried: failure records, dead letters,
    Other responses data and feedback exist, and neither Redis nor the DLQ holds an applicant's name, phone
    or e-mail in clear. The portal still gets its lead and the app still shows failures and other responses."""
    key = strong_key()
    stack = Stack(StackConfig.ephemeral(tmp_path / "stack", extra_env={
        "HH_RATE": "60", "HH_BURST": "20", "HH_SANDBOX_NEGOTIATIONS": "6", "APP_SECRET_KEY": key}))
    stack.start()
    client = aioredis.Redis.from_url(stack.redis_url)
    try:
        async with httpx.AsyncClient(timeout=60.0) as http:
            driver = Driver(stack, http)
            await driver.install("demo")
            await driver.open_app("demo")
            assert (await driver.connect_hh()).status_code == 200
            knobs = f"{stack.b24_url}/_sandbox/knobs"
            r = await http.put(knobs, params={"portal": "demo"}, json={"mandatory_fields": {"CRM_LEAD": ["UF_CRM_X"]}})
            assert r.status_code == 200, r.text
            await driver.save_lead_settings()
            assert (await driver.api("POST", "/import")).status_code == 202
            result = await driver.wait_import()
            assert result["failed"] == result["found"] > 1, result
            r = await http.put(knobs, params={"portal": "demo"}, json={"mandatory_fields": {}})
            assert r.status_code == 200, r.text
            assert (await driver.api("POST", f"/failures/{result['failures'][0]['id']}/retry")).status_code == 202
            deadline = time.monotonic() + 60
            leads = await driver.entities("demo", 1)
            while not leads and time.monotonic() < deadline:
                await asyncio.sleep(0.3)
                leads = await driver.entities("demo", 1)
            assert len(leads) == 1, "the retried lead was not written"
            r = await driver.api("POST", "/feedback", json={"message": "Спасибо!", "contact": EMAIL})
            assert r.status_code == 201, r.text

            member = (await driver.api("GET", "/status")).json()["portal"]["member_id"]
            store = Store(client, Crypto(key))
            commands = [f.data for f in await store.failures(member)]
            assert len(commands) == result["found"] - 1
            needles = applicant_needles(commands)
            assert len(needles) >= 3, needles

            stored = await raw_redis(client)
            in_clear = {k: found for k, value in stored.items() if (found := leaks(value, (*needles, EMAIL)))}
            assert not in_clear, f"personal data in clear in Redis: {in_clear}"
            letters = await raw_dlq(stack.nats_url)
            assert len(letters) >= result["found"] - 1, len(letters)
            in_dlq = {s: found for s, body in letters if (found := leaks(body, needles))}
            assert not in_dlq, f"personal data in clear in the DLQ: {in_dlq}"

            # Genuine: failures listed with their reasons, the lead's Other responses readable.
            body = (await driver.api("GET", "/import")).json()
            assert len(body["failures"]) == result["found"] - 1 and all(f["reason"] for f in body["failures"])
            other = await driver.api("GET", "/other-responses",
                                     params={"entity_type": "lead", "entity_id": int(leads[0]["ID"])})
            assert other.status_code == 200, other.text
            [item] = other.json()["items"]
            assert item["vacancy"] and item["status"] and not item["vacancy"].startswith("enc1:")
            assert (await store.feedback(member))[-1]["contact"] == EMAIL
    finally:
        await client.aclose()
        stack.stop()


async def test_resume_cache_is_sealed_with_the_personal_data_key(redis_url: str) -> None:
    rt = build_runtime("secrets-test", Settings(SANDBOX=False, APP_SECRET_KEY=strong_key(), REDIS_URL=redis_url,
                                                METRICS_PORT=0))
    try:
        resume = {"first_name": "Зинаида", "last_name": "Секретова-Шифровальщикова",
                  "contact": [{"value": EMAIL}, {"value": {"formatted": PHONE}}]}
        await remember_resume(rt, PORTAL, "r1", resume, None, b"%PDF " + NAME.encode())
        raw = await rt.store.redis.get(rt.store.key(PORTAL, "resume-cache", "r1")) or b""
        assert raw and not leaks(raw, (EMAIL, PHONE, "Секретова-Шифровальщикова"))
        cached = await cached_resume(rt, PORTAL, "r1")
        assert cached is not None and cached.resume == resume and cached.pdf == b"%PDF " + NAME.encode()
        # An entry of the release before (token key, no seal mark) is a miss, not an error.
        await rt.store.redis.set(rt.store.key(PORTAL, "resume-cache", "r2"), rt.crypto.encrypt(json.dumps(
            {"resume": resume, "pdf": None, "pdf_data": None})))
        assert await cached_resume(rt, PORTAL, "r2") is None
    finally:
        await rt.close()
