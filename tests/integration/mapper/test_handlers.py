"""The mapper's handler against a real NATS and Redis (HeadHunter scripted): a found negotiation becomes one CRM
command with the resume and its PDF (inline when small, in the object store when large), a resume fetched once
per applicant, a deleted resume still written, the view limit waited out, and a missing portal or settings told
apart."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rabota_common import subjects
from rabota_common.app_settings import SyncSettings
from rabota_common.errors import PermanentError, TransientError
from rabota_common.hh_client import HhError
from rabota_common.models import INLINE_PDF_MAX, CrmCommand, HhToken, NegotiationFound
from rabota_common.runtime import Runtime
from rabota_common.store import PortalRecord
from rabota_mapper.handlers import map_negotiation

P1 = "c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9"  # a member_id
RESUME = "0123456789abcdef0123456789abcdef012345"
SETTINGS = SyncSettings(responsible_id=1, entity_type="lead", stage_map={"response": "NEW", "invitation": "IN"})


def item(nid: str, resume_id: str = RESUME) -> dict[str, Any]:
    return {"id": nid, "created_at": "2026-11-01T10:00:00+0300", "updated_at": "2026-11-01T10:00:00+0300",
            "state": {"id": "response"}, "employer_state": {"id": "response"}, "source": "NEGOTIATION",
            "vacancy": {"id": "900", "name": "Курьер"},
            "resume": {"id": resume_id, "url": f"https://api.hh.ru/resumes/{resume_id}", "first_name": "Иван",
                       "last_name": "Петров"}}


class FakeHh:
    def __init__(self, pdf: bytes = b"%PDF-1.4 small", resume_error: HhError | None = None) -> None:
        self.pdf = pdf
        self.resume_error = resume_error
        self.calls: list[str] = []

    async def get(self, token: str, url: str, params: dict[str, Any] | None = None) -> Any:
        self.calls.append("resume")
        if self.resume_error is not None:
            raise self.resume_error
        return {"id": RESUME, "first_name": "Иван", "last_name": "Петров", "area": {"name": "Минск"},
                "contact": [{"type": {"id": "email"}, "value": "ivan@example.by"}],
                "download": {"pdf": {"url": "https://api.hh.ru/resumes/x.pdf"}}}

    async def download(self, token: str, url: str) -> bytes:
        self.calls.append("pdf")
        return self.pdf


def with_hh(rt: Runtime, hh: FakeHh) -> FakeHh:
    async def hh_token(portal: str, stale_token: str | None = None) -> HhToken:
        return HhToken(ok=True, access_token="t")

    rt.hh = hh  # type: ignore[assignment]
    rt.hh_token = hh_token  # type: ignore[method-assign]
    return hh


async def ready(rt: Runtime) -> None:
    await rt.store.save_portal(PortalRecord(member_id=P1, domain="d", client_endpoint="https://d/rest/"))
    await rt.store.put_settings(P1, SETTINGS)


def found(nid: str, **over: Any) -> NegotiationFound:
    return NegotiationFound(portal=P1, negotiation_id=nid, vacancy_id="900", vacancy_name="Курьер", source="poll",
                            employer_state="response", item=item(nid, **over))


async def last_command(rt: Runtime) -> CrmCommand:
    name = subjects.subject(subjects.CRM_COMMAND, portal=P1)
    msg = await rt.broker.connection.jetstream().get_last_msg(subjects.stream_of(name), name)
    return CrmCommand.model_validate(json.loads(msg.data or b"{}"))


async def test_a_negotiation_becomes_a_command_with_its_resume(bus_rt: Runtime) -> None:
    await ready(bus_rt)
    hh = with_hh(bus_rt, FakeHh())
    await map_negotiation(bus_rt, found("501"))
    cmd = await last_command(bus_rt)
    assert (cmd.negotiation_id, cmd.kind, cmd.hh_status, cmd.stage_id) == ("501", "response", "response", "NEW")
    assert cmd.resume_pdf == b"%PDF-1.4 small" and cmd.resume_object is None and cmd.resume_filename
    assert cmd.contact.email == "ivan@example.by" and hh.calls == ["resume", "pdf"]
    # The same applicant's response to another vacancy: the resume and its PDF come from the cache.
    await map_negotiation(bus_rt, found("502"))
    assert (await last_command(bus_rt)).resume_pdf == b"%PDF-1.4 small" and hh.calls == ["resume", "pdf"]


async def test_a_large_pdf_travels_through_the_object_store(bus_rt: Runtime) -> None:
    await ready(bus_rt)
    with_hh(bus_rt, FakeHh(pdf=b"%PDF" + b"x" * INLINE_PDF_MAX))
    await map_negotiation(bus_rt, found("503"))
    cmd = await last_command(bus_rt)
    assert cmd.resume_pdf is None and cmd.resume_object == subjects.resume_object_name(P1, "503")
    store = await bus_rt.broker.object_storage(subjects.RESUMES_BUCKET, declare=False)
    assert len((await store.get(cmd.resume_object)).data or b"") == INLINE_PDF_MAX + 4


async def test_a_deleted_resume_is_still_written_and_the_view_limit_waited_out(bus_rt: Runtime) -> None:
    await ready(bus_rt)
    with_hh(bus_rt, FakeHh(resume_error=HhError(404, [{"type": "not_found"}], None)))
    await map_negotiation(bus_rt, found("504"))
    cmd = await last_command(bus_rt)
    assert cmd.negotiation_id == "504" and cmd.resume_pdf is None and cmd.contact.name == "Иван"
    with_hh(bus_rt, FakeHh(resume_error=HhError(429, [{"type": "resumes", "value": "view_limit_exceeded"}], None)))
    with pytest.raises(TransientError) as caught:
        await map_negotiation(bus_rt, found("505", resume_id="fedcba"))
    assert (caught.value.delay_s or 0) >= 3600 and await bus_rt.store.view_limit_reached(portal=P1)


async def test_no_settings_waits_and_no_portal_fails(bus_rt: Runtime) -> None:
    with_hh(bus_rt, FakeHh())
    with pytest.raises(PermanentError) as gone:
        await map_negotiation(bus_rt, found("506"))
    assert gone.value.code == "unknown_portal"
    await bus_rt.store.save_portal(PortalRecord(member_id=P1, domain="d", client_endpoint="https://d/rest/"))
    with pytest.raises(TransientError) as waiting:
        await map_negotiation(bus_rt, found("506"))
    assert "настройки синхронизации" in (waiting.value.cause or "")
