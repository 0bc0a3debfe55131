"""Publishing a found negotiation: the one place that counts it and starts its trace."""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace
from rabota_common import subjects
from rabota_common.bus import publish
from rabota_common.metrics import RESPONSES_FOUND
from rabota_common.models import NegotiationFound
from rabota_common.runtime import Runtime
from rabota_common.subjects import negotiation_msg_id
from rabota_common.telemetry import negotiation_attributes

_tracer = trace.get_tracer(__name__)


async def publish_found(rt: Runtime, found: NegotiationFound, new_trace: bool, bulk: bool = False) -> None:
    """Publish one negotiation for the mapper. With `new_trace` (an import or poll walk) it starts its own trace,
    linked to the walk's span, so that each negotiation is one trace an operator can follow; otherwise (a webhook,
    a re-import of one negotiation) it continues the trace of what triggered it. `bulk` (an import walk, a
    vacancy's re-import) goes to the mapper's bulk consumer, behind every portal's live negotiations."""
    parent: otel_context.Context | None = None
    links: list[trace.Link] = []
    if new_trace:
        parent = otel_context.Context()
        walk = trace.get_current_span().get_span_context()
        if walk.is_valid:
            links.append(trace.Link(walk, {"rabota.link": f"{found.source} walk"}))
    attributes = negotiation_attributes(found.portal, found.negotiation_id, found.vacancy_id)
    attributes["rabota.source"] = found.source
    if found.import_id:
        attributes["rabota.import_id"] = found.import_id
    with _tracer.start_as_current_span(f"negotiation found ({found.source})", context=parent, links=links,
                                       kind=trace.SpanKind.PRODUCER, attributes=attributes):
        template = subjects.HH_NEGOTIATION_IMPORT if bulk else subjects.HH_NEGOTIATION
        await publish(rt.broker, subjects.subject(template, portal=found.portal), found,
                      msg_id=negotiation_msg_id(found.portal, found.negotiation_id, found.employer_state,
                                                found.import_id or found.source))
    RESPONSES_FOUND.labels(found.portal, found.source).inc()
    chat_id = (found.item or {}).get("chat_id")
    if chat_id is not None and str(chat_id).isdigit():
        # The negotiation's chat (F15): a chat message names only its chat.
        await rt.store.link_chats(found.portal, {str(chat_id): found.negotiation_id})
