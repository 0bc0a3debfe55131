"""OpenTelemetry set-up shared by every service; trace context travels in NATS headers."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from rabota_common.settings import Settings

# Attribute names that may carry secrets are never exported.
_SECRET_MARKERS = ("token", "secret", "password", "auth", "authorization")


class JsonLinesSpanExporter(SpanExporter):
    """Writes finished spans as JSON lines: a trace file a person or a test can read."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            ctx = span.get_span_context()
            parent = span.parent
            lines.append(json.dumps({
                "service": span.resource.attributes.get("service.name"),
                "pid": span.resource.attributes.get("process.pid"),
                "name": span.name,
                "trace_id": f"{ctx.trace_id:032x}" if ctx else None,
                "span_id": f"{ctx.span_id:016x}" if ctx else None,
                "parent_id": f"{parent.span_id:016x}" if parent else None,
                "links": [{"trace_id": f"{link.context.trace_id:032x}", "span_id": f"{link.context.span_id:016x}"}
                          for link in span.links],
                "start": span.start_time,
                "end": span.end_time,
                "attributes": dict(span.attributes or {}),
                "status": span.status.status_code.name,
            }, default=str))
        with self._lock, self._path.open("a", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in lines))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS)


# Paths whose segments are credentials (DESIGN §7: the webhook URL carries the portal's secret).
_SECRET_PATHS = re.compile(r"(/hh/webhook/)[^/?#]+")
_URL_KEYS = ("url.path", "url.full", "http.target", "http.url")


def _scrub_url(value: str) -> str:
    value = _SECRET_PATHS.sub(r"\1{secret}", value)
    if "?" in value:  # query values (OAuth codes, state, frame parameters) are never exported
        head, query = value.split("?", 1)
        value = f"{head}?{_scrub_query(query)}"
    return value


def _scrub_query(query: str) -> str:
    return "&".join(f"{part.split('=', 1)[0]}=[redacted]" if "=" in part else part for part in query.split("&"))


def scrub_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """What of a span's attributes may leave the process: no secret-named keys, no credentials in URLs.
    The HTTP server spans FastAPI and Starlette record on their own carry the raw path and query."""
    clean: dict[str, Any] = {}
    for key, value in attributes.items():
        if _is_secret(key):
            continue
        if key == "url.query" and isinstance(value, str):
            value = _scrub_query(value)
        elif key in _URL_KEYS and isinstance(value, str):
            value = _scrub_url(value)
        clean[key] = value
    return clean


class ScrubbingExporter(SpanExporter):
    """Wraps every exporter so that no span leaves the process with a secret in its attributes."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([_scrubbed(span) for span in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def _scrubbed(span: ReadableSpan) -> ReadableSpan:
    return ReadableSpan(
        name=_SECRET_PATHS.sub(r"\1{secret}", span.name), context=span.get_span_context(), parent=span.parent,
        resource=span.resource, attributes=scrub_attributes(span.attributes or {}), events=span.events,
        links=span.links, kind=span.kind, status=span.status, start_time=span.start_time, end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def negotiation_attributes(portal: str, negotiation_id: str, vacancy_id: str | None = None) -> dict[str, Any]:
    """The span attributes that find one negotiation's work (the same names in every service)."""
    attributes: dict[str, Any] = {"rabota.portal": portal, "rabota.negotiation_id": negotiation_id}
    if vacancy_id:
        attributes["rabota.vacancy_id"] = vacancy_id
    return attributes


def setup_telemetry(service: str, settings: Settings) -> TracerProvider:
    # process.pid tells replicas of one service apart.
    provider = TracerProvider(resource=Resource.create({"service.name": f"rabota-sync-{service}",
                                                        "process.pid": os.getpid()}))
    if settings.TRACE_DIR:
        exporter = JsonLinesSpanExporter(Path(settings.TRACE_DIR) / f"{service}.jsonl")
        provider.add_span_processor(SimpleSpanProcessor(ScrubbingExporter(exporter)))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(ScrubbingExporter(OTLPSpanExporter())))
    trace.set_tracer_provider(provider)
    return provider


class AccessLogScrubber(logging.Filter):
    """uvicorn's access log lines go through the span scrubber: no webhook secret, no query values."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_scrub_url(a) if isinstance(a, str) and a.startswith("/") else a
                                for a in record.args)
        if isinstance(record.msg, str) and ("/hh/webhook/" in record.msg or "?" in record.msg):
            record.msg = _scrub_url(record.msg) if record.msg.startswith("/") else _SECRET_PATHS.sub(
                r"\1{secret}", record.msg)
        return True


_ACCESS_SCRUBBER = AccessLogScrubber()


def scrub_access_log() -> None:
    """Install the scrubber on uvicorn's access logger (idempotent)."""
    logger = logging.getLogger("uvicorn.access")
    if _ACCESS_SCRUBBER not in logger.filters:
        logger.addFilter(_ACCESS_SCRUBBER)


def setup_logging(service: str, level: str) -> logging.Logger:
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpcore"):
        # httpx logs full URLs at INFO, and Bitrix24 URLs can carry `auth=` tokens.
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logging.getLogger(f"rabota_sync.{service}")
