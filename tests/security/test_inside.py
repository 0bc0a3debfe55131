"""The inside trusts no one (issue 14, item 13): NATS users with per-service permissions from the generated
auth.conf, the token broker answering only the services that need each token, reply inboxes private to their
user, and the crm-writer reading only its own portal's resume PDF."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.errors import NoRespondersError
from rabota_common import subjects
from rabota_common.bus import ensure_jetstream
from rabota_common.models import CrmCommand
from rabota_common.runtime import build_runtime
from rabota_crm_writer.writer import load_pdf

from tests.security.inside_support import SecureNats, start_secure_nats

PORTAL = "a" * 32
OTHER = "b" * 32
SECRET = b'{"ok": true, "access_token": "tenant-secret"}'


@pytest.fixture
def secure_nats(tmp_path: Path) -> Iterator[SecureNats]:
    yield from start_secure_nats(tmp_path)


async def _until(predicate, within_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + within_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def _broker(nats_: SecureNats) -> nats.NATS:
    """The token broker's side: the auth user answering auth.b24.token and auth.hh.token."""
    nc = await nats_.connect("auth")

    async def answer(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(SECRET)

    await nc.subscribe(subjects.AUTH_B24_TOKEN, queue="auth", cb=answer)
    await nc.subscribe(subjects.AUTH_HH_TOKEN, queue="auth", cb=answer)
    await nc.flush()
    return nc


async def test_a_client_without_credentials_is_refused(secure_nats: SecureNats) -> None:
    with pytest.raises(Exception, match=r"(?i)authorization"):
        await nats.connect(secure_nats.url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=3)
    genuine = await secure_nats.connect("crm-writer")  # the genuine service gets in
    assert genuine.is_connected
    await genuine.close()


async def test_the_token_broker_answers_only_the_services_that_need_the_token(secure_nats: SecureNats) -> None:
    broker = await _broker(secure_nats)
    errors: list[str] = []
    mapper = await secure_nats.connect("mapper", errors)
    writer = await secure_nats.connect("crm-writer")
    try:
        # The mapper never needs a Bitrix24 token: its request is a permissions violation and gets no token.
        with pytest.raises((nats.errors.TimeoutError, NoRespondersError)):
            await mapper.request(subjects.AUTH_B24_TOKEN, b'{"portal": "' + PORTAL.encode() + b'"}', timeout=1.0)
        await _until(lambda: any("permissions violation" in e.lower() and subjects.AUTH_B24_TOKEN in e
                                 for e in errors))
        # The crm-writer does, and gets it; the mapper gets its HeadHunter token.
        reply = await writer.request(subjects.AUTH_B24_TOKEN, b"{}", timeout=5.0)
        assert reply.data == SECRET
        assert (await mapper.request(subjects.AUTH_HH_TOKEN, b"{}", timeout=5.0)).data == SECRET
        # Only the ui may log a portal out of HeadHunter.
        await mapper.publish(subjects.AUTH_HH_LOGOUT, b"{}")
        await mapper.flush()
        await _until(lambda: any(subjects.AUTH_HH_LOGOUT in e for e in errors))
    finally:
        for nc in (mapper, writer, broker):
            await nc.close()


async def test_a_service_cannot_read_another_services_reply_inboxes(secure_nats: SecureNats) -> None:
    broker = await _broker(secure_nats)
    errors: list[str] = []
    spy = await secure_nats.connect("mapper", errors)
    ui = await secure_nats.connect("ui")
    seen: list[bytes] = []

    async def keep(msg: nats.aio.msg.Msg) -> None:
        seen.append(msg.data)

    try:
        for pattern in ("_INBOX.>", "_INBOX_ui.>", ">", "auth.>"):
            await spy.subscribe(pattern, cb=keep)
        await spy.flush()
        await _until(lambda: sum("permissions violation" in e.lower() for e in errors) >= 4)
        # The ui's genuine request is answered, through its own inbox, and the spy saw nothing.
        reply = await ui.request(subjects.AUTH_B24_TOKEN, b"{}", timeout=5.0)
        assert reply.data == SECRET and reply.subject.startswith("_INBOX_ui.")
        await asyncio.sleep(0)  # let a (forbidden) copy arrive if the server had delivered one
        await spy.flush()
        assert seen == []
    finally:
        for nc in (spy, ui, broker):
            await nc.close()


async def test_only_the_mapper_and_writer_touch_the_resumes_and_nobody_but_ops_reads_dead_letters(
        secure_nats: SecureNats) -> None:
    await ensure_jetstream(secure_nats.url, settings=secure_nats.settings("mapper"))
    errors: list[str] = []
    ui = await secure_nats.connect("ui", errors)
    try:
        js = ui.jetstream(timeout=2.0)
        with pytest.raises((nats.errors.TimeoutError, NoRespondersError, Exception)):
            store = await js.object_store(subjects.RESUMES_BUCKET)
            await store.get(subjects.resume_object_name(PORTAL, "1"))
        with pytest.raises((nats.errors.TimeoutError, NoRespondersError, Exception)):
            await js.get_msg("DLQ", seq=1)
        assert any("permissions violation" in e.lower() for e in errors)
    finally:
        await ui.close()


async def test_the_writer_never_fetches_another_portals_resume(secure_nats: SecureNats) -> None:
    await ensure_jetstream(secure_nats.url, settings=secure_nats.settings("mapper"))
    mapper = await secure_nats.connect("mapper")
    try:
        store = await mapper.jetstream().object_store(subjects.RESUMES_BUCKET)
        await store.put(subjects.resume_object_name(OTHER, "77"), b"%PDF other portal's applicant")
        await store.put(subjects.resume_object_name(PORTAL, "42"), b"%PDF our applicant")
    finally:
        await mapper.close()

    rt = build_runtime("crm-writer", secure_nats.settings("crm-writer"))
    await rt.broker.connect()
    try:
        foreign = CrmCommand.model_construct(portal=PORTAL, negotiation_id="42", resume_pdf=None,
                                             resume_object=subjects.resume_object_name(OTHER, "77"))
        assert await load_pdf(rt, foreign) is None  # refused, never fetched
        other_negotiation = CrmCommand.model_construct(portal=PORTAL, negotiation_id="42", resume_pdf=None,
                                                       resume_object=subjects.resume_object_name(PORTAL, "43"))
        assert await load_pdf(rt, other_negotiation) is None
        genuine = CrmCommand.model_construct(portal=PORTAL, negotiation_id="42", resume_pdf=None,
                                             resume_object=subjects.resume_object_name(PORTAL, "42"))
        assert await load_pdf(rt, genuine) == b"%PDF our applicant"
    finally:
        await rt.broker.stop()
        await rt.close()
