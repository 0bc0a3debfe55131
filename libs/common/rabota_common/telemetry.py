"""OpenTelemetry set-up shared by every service; trace context travels in NATS headers."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

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
                "start": span.start_time,
                "end": span.end_time,
                "attributes": {k: v for k, v in (span.attributes or {}).items() if not _is_secret(k)},
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


def setup_telemetry(service: str, settings: Settings) -> TracerProvider:
    # process.pid tells replicas of one service apart.
    provider = TracerProvider(resource=Resource.create({"service.name": f"rabota-sync-{service}",
                                                        "process.pid": os.getpid()}))
    if settings.TRACE_DIR:
        exporter = JsonLinesSpanExporter(Path(settings.TRACE_DIR) / f"{service}.jsonl")
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def setup_logging(service: str, level: str) -> logging.Logger:
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpcore"):
        # httpx logs full URLs at INFO, and Bitrix24 URLs can carry `auth=` tokens.
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logging.getLogger(f"rabota_sync.{service}")
