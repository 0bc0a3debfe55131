"""docs/asyncapi.json is FastStream's document of the services' brokers, current and complete."""

from __future__ import annotations

import fnmatch
import json

from rabota_common import subjects
from rabota_stack import asyncapi_doc

from tests.deploy.files import ROOT

DOC = ROOT / "docs" / "asyncapi.json"


def test_checked_in_document_is_up_to_date():
    assert DOC.read_text(encoding="utf-8") == asyncapi_doc.render(), \
        "docs/asyncapi.json is stale: run .venv/bin/python -m rabota_stack.asyncapi_doc"


def test_every_subject_is_documented_with_a_payload_schema():
    doc = json.loads(DOC.read_text(encoding="utf-8"))
    assert doc["asyncapi"].startswith("3.")
    addresses = {channel["address"] for channel in doc["channels"].values()}
    for spec in subjects.STREAMS:  # each stream carries at least one documented subject (NATS `>`: fnmatch `*`)
        assert any(fnmatch.fnmatchcase(a, pattern.replace(">", "*")) for pattern in spec.subjects
                   for a in addresses), spec.name
    core = {subjects.AUTH_B24_TOKEN, subjects.AUTH_HH_TOKEN, subjects.AUTH_HH_CONNECT, subjects.AUTH_HH_LOGOUT,
            subjects.AUTH_HH_REVOKED, subjects.POLLER_NEW_RESPONSES}
    assert core <= addresses
    assert "crm.command.*" in {c["address"] for c in doc["channels"].values() if "crm-writer consumes" in
                               c.get("description", "")}
    for message in doc["components"]["messages"].values():
        ref = message["payload"]["$ref"].rsplit("/", 1)[-1]
        assert ref in doc["components"]["schemas"], ref
