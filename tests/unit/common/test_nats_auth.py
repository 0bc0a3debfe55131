"""The NATS permissions' one definition: each service publishes only its own stage's subjects, nobody reads
another user's reply inboxes, only the services that need a token may ask for it, and the rendered
`authorization` block holds every user with a password from the environment. (tests/security/test_inside.py
checks the same against a live nats-server.)"""

from __future__ import annotations

import re

from rabota_common import nats_auth, subjects
from rabota_common.nats_auth import SERVICE_USERS, USERS, inbox_prefix, password_env, render_authorization


def test_names_of_inboxes_and_passwords() -> None:
    assert inbox_prefix("crm-writer") == "_INBOX_crm_writer"
    assert password_env("crm-writer") == "NATS_PASSWORD_CRM_WRITER"
    assert set(SERVICE_USERS.values()) <= set(USERS)


def test_each_stage_publishes_its_own_results_and_dead_letters_only() -> None:
    result, command = nats_auth.CRM_RESULT, nats_auth.CRM_COMMAND
    assert result in USERS["crm-writer"].publish and all(result not in USERS[u].publish for u in USERS
                                                         if u != "crm-writer")
    assert command in USERS["mapper"].publish and command not in USERS["auth"].publish
    for stage, user in (("mapper", "mapper"), ("crm-writer", "crm-writer"), ("poller", "poller")):
        own = subjects.pattern(subjects.DLQ, stage=stage)
        assert own in USERS[user].publish
        assert all(p == own or not p.startswith("dlq.") for p in USERS[user].publish)


def test_only_the_services_that_need_a_token_may_ask_for_it() -> None:
    askers = {u for u, p in USERS.items() if subjects.AUTH_B24_TOKEN in p.publish}
    assert askers == set(nats_auth.B24_TOKEN_USERS)
    assert {u for u, p in USERS.items() if subjects.AUTH_HH_TOKEN in p.publish} == set(nats_auth.HH_TOKEN_USERS)
    assert [u for u, p in USERS.items() if p.allow_responses] == ["auth", "poller"]


def test_the_rendered_block_holds_every_user_and_no_shared_inbox() -> None:
    block = render_authorization()
    users = re.findall(r'\{user: "([^"]+)", password: \$(\w+),', block)
    assert users == [(u, password_env(u)) for u in USERS]
    subscribes = re.findall(r"subscribe: \{allow: \[([^\]]*)\]\}", block)
    assert len(subscribes) == len(USERS)
    for user, allowed in zip(USERS, subscribes, strict=True):
        inboxes = re.findall(r'"(_INBOX[^"]*)"', allowed)
        assert inboxes == [f"{inbox_prefix(user)}.>"], (user, inboxes)  # its own inboxes only
    assert "_INBOX.>" not in block and '">"' not in block  # no wildcard for everything
