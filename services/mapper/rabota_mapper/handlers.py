"""Mapper handler: negotiation in, CRM command out (resume and PDF fetched here)."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from opentelemetry import trace
from rabota_common import subjects
from rabota_common.app_settings import SyncSettings
from rabota_common.bus import publish
from rabota_common.errors import PermanentError, TransientError
from rabota_common.hh_client import HhError, HhRefused
from rabota_common.hh_session import TokenSource
from rabota_common.models import INLINE_PDF_MAX, CrmCommand, NegotiationFound
from rabota_common.negotiation_kind import dig, enum_id
from rabota_common.runtime import Runtime
from rabota_common.subjects import negotiation_msg_id
from rabota_common.telemetry import negotiation_attributes

from rabota_mapper.enrich import build_command, ddmmyyyy, pdf_filename
from rabota_mapper.kind import cover_letter, decide_kind

VIEW_LIMIT_DELAY_S = 3600.0
# Well under the object store's age limit, so a cached PDF object is still there.
RESUME_CACHE_S = 3600
MINSK = timezone(timedelta(hours=3))


def until_view_limit_reset(now: datetime | None = None) -> float:
    """Seconds until the daily resume view limit resets (Minsk midnight) plus a margin, at least an hour,
    so the few deliveries a message has are not spent against a limit that cannot have moved."""
    now = now or datetime.now(MINSK)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(VIEW_LIMIT_DELAY_S, (midnight - now).total_seconds() + 120.0)


class CachedResume(NamedTuple):
    resume: dict[str, Any]
    pdf_object: str | None
    pdf: bytes | None
    pdf_pending: bool = False  # the poller fetched the resume with a webhook's negotiation; the PDF is ours


async def cached_resume(rt: Runtime, portal: str, resume_id: str) -> CachedResume | None:
    """The resume (and its PDF, or the PDF's object) fetched for another response of the same applicant a
    moment ago, or by the poller with this response's negotiation: one applicant answering several vacancies
    costs the two resume requests once (DESIGN §9), and no service fetches a resume twice (issue 17)."""
    if not resume_id:
        return None
    body = await rt.store.cached_resume(portal=portal, resume_id=resume_id)
    if body is None:
        return None
    pdf = body.get("pdf_data")
    return CachedResume(dict(body["resume"]), body.get("pdf"), base64.b64decode(pdf) if pdf else None,
                        bool(body.get("pdf_pending")))


async def remember_resume(rt: Runtime, portal: str, resume_id: str, resume: dict[str, Any],
                          pdf_object: str | None, pdf: bytes | None) -> None:
    if resume_id:
        # Contacts and the PDF are personal data: the entry is encrypted like every other one.
        await rt.store.remember_resume(portal=portal, resume_id=resume_id, ttl_s=RESUME_CACHE_S, body={
            "resume": resume, "pdf": pdf_object, "pdf_data": base64.b64encode(pdf).decode() if pdf else None})


class _Resume(NamedTuple):
    resume: dict[str, Any] | None
    pdf_object: str | None
    pdf: bytes | None


async def _sync_settings(rt: Runtime, found: NegotiationFound) -> SyncSettings:
    settings = await rt.store.sync_settings(portal=found.portal)
    if settings is None:
        if await rt.store.get_portal(found.portal) is None:
            raise PermanentError("Портал Битрикс24 не установлен или приложение с него удалено", code="unknown_portal")
        # Only a store restored from backup or being refilled gets here (nothing is published before the
        # settings are saved): wait for it instead of dead-lettering.
        raise TransientError("sync settings missing", delay_s=30.0,
                             cause="настройки синхронизации не найдены (хранилище восстанавливается?)")
    return settings


async def _get_resume(rt: Runtime, tokens: TokenSource, found: NegotiationFound, url: str) -> dict[str, Any] | None:
    """The full resume; None when it is gone (404)."""
    try:
        resume: dict[str, Any] = await tokens.call(rt.hh.get, url)
    except HhError as exc:
        if exc.view_limit:
            # The daily view limit resets tomorrow: wait instead of spinning.
            delay = until_view_limit_reset()
            await rt.store.set_view_limit(portal=found.portal, ttl_s=int(delay))
            raise TransientError("resume view limit exceeded", delay_s=delay) from exc
        if exc.status != 404:
            raise
        return None
    return resume


async def _download_pdf(rt: Runtime, tokens: TokenSource, found: NegotiationFound,
                        resume: dict[str, Any] | None) -> bytes | None:
    pdf_url = dig(resume, "download", "pdf", "url")  # `download` or its `pdf` may be null or missing
    if resume is None or not isinstance(pdf_url, str) or not pdf_url:
        return None
    try:
        pdf: bytes = await tokens.call(rt.hh.download, pdf_url)
    except HhRefused as exc:
        if exc.code != "RESPONSE_TOO_LARGE":
            raise
        # Too large a PDF: the applicant is still written, with the resume link, without the file.
        rt.log.warning("resume PDF of negotiation %s skipped: %s", found.negotiation_id, exc.reason)
        return None
    return pdf


async def _offload_pdf(rt: Runtime, found: NegotiationFound, pdf: bytes | None) -> tuple[str | None, bytes | None]:
    """A PDF too big to travel in the command goes to the object store: (its object name, None)."""
    if pdf is None or len(pdf) <= INLINE_PDF_MAX:
        return None, pdf
    resume_object = subjects.resume_object_name(found.portal, found.negotiation_id)
    store = await rt.broker.object_storage(subjects.RESUMES_BUCKET, declare=False)
    await store.put(resume_object, pdf)
    return resume_object, None


async def _fetch_resume(rt: Runtime, tokens: TokenSource, found: NegotiationFound, short: dict[str, Any],
                        resume: dict[str, Any] | None = None) -> _Resume:
    """The resume (unless the poller had it) and its PDF from HeadHunter, remembered for the applicant's other
    responses."""
    if resume is None:
        resume = await _get_resume(rt, tokens, found, short["url"])
    pdf = await _download_pdf(rt, tokens, found, resume)
    resume_object, pdf = await _offload_pdf(rt, found, pdf)
    if resume is not None:
        await remember_resume(rt, found.portal, str(short.get("id") or ""), resume, resume_object, pdf)
    return _Resume(resume, resume_object, pdf)


async def _resume_of(rt: Runtime, tokens: TokenSource, found: NegotiationFound, short: Any) -> _Resume:
    cached = await cached_resume(rt, found.portal, str(short.get("id") or "")) if short else None
    if cached is not None and not cached.pdf_pending:
        return _Resume(cached.resume, cached.pdf_object, cached.pdf)
    if cached is not None:
        return await _fetch_resume(rt, tokens, found, short, cached.resume)
    if short and short.get("url"):
        return await _fetch_resume(rt, tokens, found, short)
    return _Resume(None, None, None)


def _with_pdf(command: CrmCommand, negotiation: dict[str, Any], resume_object: str | None,
              pdf: bytes | None) -> CrmCommand:
    if not (resume_object or pdf):
        return command
    name = command.activity.full_name or command.contact.name
    filename = pdf_filename(name, command.vacancy_name, ddmmyyyy(negotiation.get("created_at")))
    return command.model_copy(update={"resume_filename": filename, "resume_pdf": pdf})


async def map_negotiation(rt: Runtime, found: NegotiationFound) -> None:
    trace.get_current_span().set_attributes(
        negotiation_attributes(found.portal, found.negotiation_id, found.vacancy_id))
    settings = await _sync_settings(rt, found)
    tokens = TokenSource(rt, found.portal)
    # The poller passes the item it listed; only a bare reference (a replay) costs a request here.
    negotiation = dict(found.item) if found.item else await tokens.call(rt.hh.negotiation, found.negotiation_id)
    kind = await decide_kind(rt, tokens, found.portal, found.negotiation_id, negotiation, not settings.extended)
    resume, resume_object, pdf = await _resume_of(rt, tokens, found, negotiation.get("resume"))
    letter = await cover_letter(rt, tokens, negotiation, kind)
    command = build_command(found, settings, negotiation, resume, resume_object, None, kind=kind, letter=letter)
    command = _with_pdf(command, negotiation, resume_object, pdf)
    state = enum_id(negotiation.get("employer_state"))
    await publish(rt.broker, subjects.subject(subjects.CRM_COMMAND, portal=found.portal), command,
                  msg_id=negotiation_msg_id(found.portal, found.negotiation_id, state, found.import_id or found.source))
