"""Subject names and JetStream layout (DESIGN §3): the one definition of the stream layout. `{portal}` is the
Bitrix24 member_id.

Each stream (`STREAMS`) names the subject templates it carries; everything else derives from them: the
streams' creation (bus.ensure_jetstream), `stream_of` (the stream a subject or filter lands in), the subscriber
filters (`pattern`), the NATS permissions (nats_auth) and the AsyncAPI document (rabota_stack.asyncapi_doc).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from rabota_common.ids import member_id

HH_WEBHOOK = "hh.webhook.{portal}"
HH_NEGOTIATION = "hh.negotiation.{portal}"
# Bulk negotiations (an import walk, a vacancy's re-import) have their own subject and mapper consumer, so that
# thousands of them never queue ahead of another portal's live response (DESIGN §9, fairness).
HH_NEGOTIATION_IMPORT = "hh.negotiation.import.{portal}"
CRM_COMMAND = "crm.command.{portal}"
CRM_RESULT = "crm.result.{portal}"
APP_EVENT = "app.{event}.{portal}"
# An operator's reply in the portal's Open Line, for the applicant's HeadHunter chat (F15): ui → poller. Its own
# stream and consumer, so a reply never waits behind webhooks or imports.
CHAT_REPLY = "chat.reply.{portal}"
DLQ = "dlq.{stage}.{portal}"

# Core NATS request/reply subjects of the token broker (not persisted: a reply is only useful now).
AUTH_B24_TOKEN = "auth.b24.token"
AUTH_B24_REFRESH = "auth.b24.refresh"
AUTH_HH_TOKEN = "auth.hh.token"
AUTH_HH_REFRESH = "auth.hh.refresh"
AUTH_HH_CONNECT = "auth.hh.connect"
AUTH_HH_LOGOUT = "auth.hh.logout"
# An API call met 403 token_revoked/bad_authorization: the broker checks and marks relogin_required.
AUTH_HH_REVOKED = "auth.hh.revoked"
# The poller counts responses not yet in the CRM (the «Новые отклики» tab).
POLLER_NEW_RESPONSES = "poller.new_responses"
# A negotiation's HeadHunter actions, listed or performed from the CRM card (F16): ui → poller.
POLLER_ACTIONS = "poller.actions"
# A negotiation's dialogue opened in the Open Line from the CRM card's «Написать» (issue 18 item 6): ui → poller,
# which forwards the chat's messages into the line when no dialogue exists yet and answers its `chat{id}`.
POLLER_CHATS = "poller.chats"

RESUMES_BUCKET = "resumes"
RESUMES_TTL_S = 7 * 24 * 3600


MIB = 1024 * 1024
DAY_S = 24 * 3600


def resume_object_name(portal: str, negotiation_id: str) -> str:
    """The key of a negotiation's resume PDF in the `resumes` object store. The crm-writer reads only the key
    of its command's own portal and negotiation, so a command can never pull in another portal's PDF."""
    return f"{portal}.{negotiation_id}.pdf"


@dataclass(frozen=True)
class StreamSpec:
    name: str
    # What the stream captures (NATS wildcards) and the subject templates published into it.
    subjects: tuple[str, ...]
    templates: tuple[str, ...]
    max_age_s: float
    # Every stream is bounded (no tenant can fill the disk): the oldest messages go first beyond these.
    max_bytes: int = 1024 * MIB
    max_msgs: int = 1_000_000
    max_msg_size: int = 8 * MIB


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec("HH_WEBHOOK", ("hh.webhook.*",), (HH_WEBHOOK,), 7 * DAY_S, max_bytes=512 * MIB,
               max_msg_size=2 * MIB),
    # `>`: a stream created before the import subject existed is widened at start, its messages kept.
    StreamSpec("HH_NEGOTIATION", ("hh.negotiation.>",), (HH_NEGOTIATION, HH_NEGOTIATION_IMPORT), 7 * DAY_S,
               max_bytes=1024 * MIB, max_msg_size=2 * MIB),
    StreamSpec("CRM_COMMAND", ("crm.command.*",), (CRM_COMMAND,), 7 * DAY_S, max_bytes=4096 * MIB,
               max_msgs=2_000_000),
    StreamSpec("CRM_RESULT", ("crm.result.*",), (CRM_RESULT,), 1 * DAY_S, max_bytes=256 * MIB,
               max_msg_size=1 * MIB),
    StreamSpec("CHAT", ("chat.reply.*",), (CHAT_REPLY,), 7 * DAY_S, max_bytes=256 * MIB, max_msgs=500_000,
               max_msg_size=1 * MIB),
    StreamSpec("APP", ("app.*.*",), (APP_EVENT,), 7 * DAY_S, max_bytes=256 * MIB, max_msgs=200_000,
               max_msg_size=1 * MIB),
    StreamSpec("DLQ", ("dlq.*.*",), (DLQ,), 30 * DAY_S, max_bytes=2048 * MIB, max_msgs=500_000),
)


def pattern(template: str, **parts: str) -> str:
    """A subscriber filter or permission pattern: the template with `*` for every part not given
    (`pattern(APP_EVENT, event="installed")` is `app.installed.*`). `subject()` builds message subjects."""
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return template.format(**{name: parts.get(name, "*") for name in names})


def app_events(event: str) -> str:
    """The filter of one app event of every portal (`app.installed.*`)."""
    return pattern(APP_EVENT, event=event)


def _fits(template: str, subject_name: str) -> bool:
    """Whether a subject (or a filter with `*` tokens) is one of the template's."""
    want, have = template.split("."), subject_name.split(".")
    return len(want) == len(have) and all(w.startswith("{") or h in (w, "*") for w, h in zip(want, have, strict=True))


def stream_of(subject_name: str) -> str:
    """The stream a subject (or a subscriber filter) of ours lands in."""
    for spec in STREAMS:
        if any(_fits(template, subject_name) for template in spec.templates):
            return spec.name
    raise KeyError(subject_name)


def subject(template: str, **parts: str) -> str:
    """A subject from its template; the portal token must be a member_id (a `.`, `*` or `>` in it would route
    the message into another portal's subjects), and no other part may hold a separator or wildcard."""
    if "portal" in parts:
        member_id(parts["portal"])
    for name, value in parts.items():
        if not value or any(c in value for c in ".*> \t\r\n"):
            raise ValueError(f"bad subject token {name}={value!r}")
    return template.format(**parts)


def portal_of(subject_name: str) -> str:
    """The member_id is always the last token of a portal-scoped subject."""
    return subject_name.rsplit(".", 1)[-1]


def webhook_key(event: Any) -> str:
    """A webhook's identity (HeadHunter's id is unique per user+app within one action type): its Nats-Msg-Id
    after the portal, and its entry among the portal's pending webhooks."""
    return f"{event.action_type}:{event.id}"


def negotiation_msg_id(portal: str, negotiation_id: str, state: str | None, scope: str | None) -> str:
    """Nats-Msg-Id of a negotiation or its command. `scope` is the import id, or the source (webhook,
    poll) outside imports: without it a webhook copy would dedupe away the import's copy within
    JetStream's window and the import's count would never close."""
    return f"{portal}:{negotiation_id}:{state or '-'}:{scope or '-'}"
