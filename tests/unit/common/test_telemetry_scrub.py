"""No span leaves a process with a credential: secret-named attributes, webhook secrets, OAuth codes in URLs."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from rabota_common.telemetry import ScrubbingExporter, scrub_attributes


class Keep(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += spans
        return SpanExportResult.SUCCESS


def test_scrub_attributes() -> None:
    clean = scrub_attributes({
        "url.path": "/hh/webhook/GdNmBcB9yP6fiXyLM7eR0mn146tKBrN7", "url.query": "code=ABC&state=eyJ.x&flag",
        "url.full": "http://x/hh/callback?code=ABC", "access_token": "t", "rabota.portal": "p",
    })
    assert clean == {"url.path": "/hh/webhook/{secret}", "url.query": "code=[redacted]&state=[redacted]&flag",
                     "url.full": "http://x/hh/callback?code=[redacted]", "rabota.portal": "p"}


def test_exporter_wrapper_scrubs_what_it_passes_on() -> None:
    kept = Keep()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ScrubbingExporter(kept)))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("POST /hh/webhook/s3cr3t", attributes={"url.path": "/hh/webhook/s3cr3t"}) as s:
        s.set_attribute("Authorization", "Bearer x")
        s.set_attribute("rabota.negotiation_id", "1")
    (span,) = kept.spans
    assert span.name == "POST /hh/webhook/{secret}"
    assert dict(span.attributes or {}) == {"url.path": "/hh/webhook/{secret}", "rabota.negotiation_id": "1"}
    assert span.get_span_context().trace_id and span.end_time
