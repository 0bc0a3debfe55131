"""Who may say what on NATS: one user per service with the subjects it really publishes, subscribes and requests.

The one definition of the NATS permissions (DESIGN §11). `render_authorization()` turns it into the
`authorization {}` block of nats.conf that k8s (deploy/k8s/nats.yaml), compose (deploy/nats/auth.conf) and the
local stack all load; tests/deploy checks that the committed copies equal it. Regenerate with
`python -m rabota_common.nats_auth > deploy/nats/auth.conf` (and paste it into the ConfigMap's auth.conf).

Each user's password comes from the nats-server's environment, `NATS_PASSWORD_<USER>` (e.g.
NATS_PASSWORD_CRM_WRITER); the service itself gets it as NATS_PASSWORD with NATS_USER=<user>. nats-server
parses such a value as a config token: letters and digits only, starting with a letter (`p$(openssl rand -hex 24)`).
No user may subscribe to another's reply inbox: each one's inboxes are `_INBOX_<user>.…` (bus.inbox_prefix), and the
responders (auth, poller) answer through `allow_responses`, never through a publish permission on inboxes.
"""

from __future__ import annotations

from dataclasses import dataclass

from rabota_common import subjects

OBJ_STREAM = f"OBJ_{subjects.RESUMES_BUCKET}"
STREAM_NAMES = tuple(spec.name for spec in subjects.STREAMS)


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    allow_responses: bool = False


def inbox_prefix(user: str) -> str:
    return f"_INBOX_{user.replace('-', '_')}"


def password_env(user: str) -> str:
    """The nats-server environment variable that holds `user`'s password."""
    return f"NATS_PASSWORD_{user.upper().replace('-', '_')}"


def _layout() -> tuple[str, ...]:
    """What every service needs: ensure_jetstream at start (our streams and the object store, no other),
    stream and consumer information for /metrics."""
    api = ["$JS.API.INFO"]
    for name in (*STREAM_NAMES, OBJ_STREAM):
        api += [f"$JS.API.STREAM.INFO.{name}", f"$JS.API.STREAM.CREATE.{name}", f"$JS.API.STREAM.UPDATE.{name}"]
    api += [f"$JS.API.CONSUMER.LIST.{name}" for name in STREAM_NAMES]
    return tuple(api)


def _consume(stream: str) -> tuple[str, ...]:
    """A durable pull consumer on `stream`: create or look it up, pull, acknowledge."""
    return (f"$JS.API.CONSUMER.CREATE.{stream}.>", f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.>",
            f"$JS.API.CONSUMER.INFO.{stream}.>", f"$JS.API.CONSUMER.MSG.NEXT.{stream}.>", f"$JS.ACK.{stream}.>")


def _objects(write: bool) -> tuple[str, ...]:
    """The `resumes` object store: read (an ordered consumer per object) and, for `write`, put."""
    read = ("$JS.API.STREAM.NAMES",  # nats-py's object get looks the stream up by the chunks' subject
            f"$JS.API.STREAM.MSG.GET.{OBJ_STREAM}", f"$JS.API.DIRECT.GET.{OBJ_STREAM}",
            f"$JS.API.DIRECT.GET.{OBJ_STREAM}.>", f"$JS.API.CONSUMER.CREATE.{OBJ_STREAM}",
            f"$JS.API.CONSUMER.CREATE.{OBJ_STREAM}.>", f"$JS.API.CONSUMER.DELETE.{OBJ_STREAM}.>",
            f"$JS.FC.{OBJ_STREAM}.>")
    bucket = subjects.RESUMES_BUCKET
    return read + ((f"$O.{bucket}.C.>", f"$O.{bucket}.M.>", f"$JS.API.STREAM.PURGE.{OBJ_STREAM}") if write else ())


def _app(*events: str) -> tuple[str, ...]:
    return tuple(subjects.app_events(e) for e in events)


def _dlq(stage: str) -> str:
    return subjects.pattern(subjects.DLQ, stage=stage)


# Subjects of the streams as their producers publish them (portal = the last token), as permission patterns.
HH_WEBHOOK = subjects.pattern(subjects.HH_WEBHOOK)
HH_NEGOTIATION = subjects.pattern(subjects.HH_NEGOTIATION)
HH_NEGOTIATION_IMPORT = subjects.pattern(subjects.HH_NEGOTIATION_IMPORT)
CRM_COMMAND = subjects.pattern(subjects.CRM_COMMAND)
CRM_RESULT = subjects.pattern(subjects.CRM_RESULT)
CHAT_REPLY = subjects.pattern(subjects.CHAT_REPLY)
ANY_APP_EVENT = subjects.pattern(subjects.APP_EVENT)
DLQ_STREAM = subjects.stream_of(subjects.pattern(subjects.DLQ))
POLLER_EVENTS = ("import_requested", "hh_connected", "reimport_requested", "hh_revoked", "crm_entity_updated",
                 "b24_resumed")

# Who asks the token broker for what (derived from the code: rt.b24_token, rt.hh_token / hh_session.TokenSource,
# rt.hh_revoked, the ui's logout and connect). Nobody else may ask.
B24_TOKEN_USERS = ("poller", "crm-writer", "ui")
HH_TOKEN_USERS = ("poller", "mapper")

USERS: dict[str, Permissions] = {
    # The token broker: answers the auth.* requests, tells the poller about connections, revocations and a
    # paused Bitrix24 portal that is usable again.
    "auth": Permissions(
        publish=(*_layout(), *_app("hh_revoked", "hh_connected", "b24_resumed")),
        subscribe=(subjects.AUTH_B24_TOKEN, subjects.AUTH_HH_TOKEN, subjects.AUTH_HH_REVOKED,
                   subjects.AUTH_HH_CONNECT, subjects.AUTH_HH_LOGOUT),
        allow_responses=True),
    "poller": Permissions(
        publish=(*_layout(), *_consume(subjects.stream_of(ANY_APP_EVENT)), *_consume(subjects.stream_of(HH_WEBHOOK)),
                 *_consume(subjects.stream_of(CHAT_REPLY)),
                 HH_NEGOTIATION, HH_NEGOTIATION_IMPORT, HH_WEBHOOK, *_app(*POLLER_EVENTS),  # walks; parked work
                 CRM_COMMAND,  # the crm-writer's work parked while Bitrix24 paused the portal
                 _dlq("poller"),
                 subjects.AUTH_B24_TOKEN, subjects.AUTH_HH_TOKEN, subjects.AUTH_HH_REVOKED),
        subscribe=(subjects.POLLER_NEW_RESPONSES, subjects.POLLER_ACTIONS, subjects.POLLER_CHATS),
        allow_responses=True),
    "mapper": Permissions(
        publish=(*_layout(), *_consume(subjects.stream_of(HH_NEGOTIATION)), *_objects(write=True), CRM_COMMAND,
                 _dlq("mapper"),
                 subjects.AUTH_HH_TOKEN, subjects.AUTH_HH_REVOKED),
        subscribe=()),
    "crm-writer": Permissions(
        publish=(*_layout(), *_consume(subjects.stream_of(CRM_COMMAND)), *_objects(write=True), CRM_RESULT,
                 _dlq("crm-writer"),
                 subjects.AUTH_B24_TOKEN),
        subscribe=()),
    "ui": Permissions(
        publish=(*_layout(), HH_WEBHOOK, CRM_COMMAND, ANY_APP_EVENT,  # receiver, failure retry, app events
                 CHAT_REPLY,  # operators' replies in the Open Line
                 subjects.AUTH_B24_TOKEN, subjects.AUTH_HH_CONNECT, subjects.AUTH_HH_LOGOUT,
                 subjects.POLLER_NEW_RESPONSES, subjects.POLLER_ACTIONS, subjects.POLLER_CHATS),
        subscribe=()),
    # The operator's dead-letter tool (python -m rabota_common.dlq): reads and deletes dead letters, replays
    # them to their subjects, asks for re-imports.
    "ops": Permissions(
        publish=(*_layout(), f"$JS.API.STREAM.MSG.GET.{DLQ_STREAM}", f"$JS.API.STREAM.MSG.DELETE.{DLQ_STREAM}",
                 f"$JS.API.DIRECT.GET.{DLQ_STREAM}", f"$JS.API.DIRECT.GET.{DLQ_STREAM}.>",
                 HH_WEBHOOK, HH_NEGOTIATION, HH_NEGOTIATION_IMPORT, CRM_COMMAND, CHAT_REPLY, ANY_APP_EVENT),
        subscribe=()),
}

# The services' process names (deploy/local SERVICES, k8s Deployments) and their NATS users.
SERVICE_USERS = {"auth": "auth", "poller": "poller", "mapper": "mapper", "crm_writer": "crm-writer",
                 "crm-writer": "crm-writer", "ui": "ui"}


def _list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{s}"' for s in items) + "]"


def render_authorization() -> str:
    """The nats.conf `authorization` block. No anonymous access: every connection must be one of USERS."""
    lines = ["# Generated by `python -m rabota_common.nats_auth` from libs/common/rabota_common/nats_auth.py;",
             "# do not edit by hand. Passwords come from the server's environment (NATS_PASSWORD_<USER>).",
             "authorization {", "  timeout: 2", "  users: ["]
    for user, perms in USERS.items():
        own = (f"{inbox_prefix(user)}.>", *perms.subscribe)
        lines += [f"    {{user: \"{user}\", password: ${password_env(user)}, permissions: {{",
                  f"      publish: {{allow: {_list(perms.publish)}}}",
                  f"      subscribe: {{allow: {_list(own)}}}"]
        if perms.allow_responses:
            lines.append("      allow_responses: {max: 1, expires: \"1m\"}")
        lines.append("    }}")
    lines += ["  ]", "}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_authorization(), end="")
