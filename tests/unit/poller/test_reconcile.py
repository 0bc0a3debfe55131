"""Idle-portal reconciliation: which negotiations need a sync, and the fingerprints that tell a vacancy moved."""

from __future__ import annotations

from rabota_poller.listing import vacancy_fingerprint
from rabota_poller.reconcile import index_fingerprint, needs_sync


def test_needs_sync() -> None:
    assert needs_sync(None, "response")
    assert not needs_sync("response", "response")
    assert needs_sync("response", "interview")
    assert not needs_sync("?", "interview")  # rebuilt from Bitrix24: do not churn


def test_fingerprints_change_with_new_responses_and_moves() -> None:
    v = {"counters": {"responses": 3, "invitations": 1, "views": 10}}
    assert vacancy_fingerprint(v) == vacancy_fingerprint({"counters": {"responses": 3, "invitations": 1}})
    assert vacancy_fingerprint(v) != vacancy_fingerprint({"counters": {"responses": 4, "invitations": 1}})
    a = {"collections": [{"id": "response", "counters": {"total": 2}}, {"id": "interview", "counters": {"total": 0}}]}
    b = {"collections": [{"id": "response", "counters": {"total": 1}}, {"id": "interview", "counters": {"total": 1}}]}
    assert index_fingerprint(a) != index_fingerprint(b)
