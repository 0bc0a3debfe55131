"""The stream layout has one definition (subjects.STREAMS): stream names, captured subjects, the templates
published into each stream, `stream_of` and the subscriber filters agree."""

from __future__ import annotations

import pytest
from rabota_common import nats_auth, subjects
from rabota_common.bus import MODELS

PORTAL = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"


def _nats_match(pattern: str, subject_name: str) -> bool:
    """NATS subject matching: `*` one token, `>` one or more tokens at the end."""
    want, have = pattern.split("."), subject_name.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


def _example(template: str) -> str:
    return subjects.subject(template, **{name: "x" for name in ("event", "stage") if f"{{{name}}}" in template},
                            portal=PORTAL)


@pytest.mark.parametrize("spec", subjects.STREAMS, ids=lambda s: s.name)
def test_each_template_lands_in_its_stream_and_in_no_other(spec: subjects.StreamSpec) -> None:
    for template in spec.templates:
        for name in (_example(template), subjects.pattern(template)):
            assert subjects.stream_of(name) == spec.name, name
            owners = [s.name for s in subjects.STREAMS if any(_nats_match(p, name) for p in s.subjects)]
            assert owners == [spec.name], (name, owners)


def test_filters_and_streams() -> None:
    assert subjects.pattern(subjects.HH_NEGOTIATION) == "hh.negotiation.*"
    assert subjects.pattern(subjects.HH_NEGOTIATION_IMPORT) == "hh.negotiation.import.*"
    assert subjects.app_events("installed") == "app.installed.*"
    assert subjects.pattern(subjects.DLQ, stage="mapper") == "dlq.mapper.*"
    assert subjects.pattern(subjects.APP_EVENT) == "app.*.*"
    # the live filter (three tokens) never takes an import's negotiation (four)
    assert not _nats_match(subjects.pattern(subjects.HH_NEGOTIATION), _example(subjects.HH_NEGOTIATION_IMPORT))
    assert subjects.stream_of(f"hh.negotiation.import.{PORTAL}") == "HH_NEGOTIATION"
    with pytest.raises(KeyError):
        subjects.stream_of("auth.b24.token")  # core request/reply: no stream
    assert set(MODELS) <= {s.name for s in subjects.STREAMS}
    assert nats_auth.STREAM_NAMES == tuple(s.name for s in subjects.STREAMS)
