"""The ui's bearer sessions: signed, of a known and installed portal, of the current install generation;
settings change only under an administrator's session."""

from __future__ import annotations

from rabota_common.crypto import SESSION, TOKENS
from rabota_ui.deps import FORBIDDEN_MESSAGE

from tests.integration.ui.conftest import Ui


async def test_a_valid_session_reads_the_portals_settings(ui: Ui) -> None:
    r = await ui.http.get("/api/settings", headers={"Authorization": ui.session()})
    assert r.status_code == 200 and r.json() == {}


async def test_sessions_that_authenticate_nothing(ui: Ui) -> None:
    cases = {
        None: "no_session",
        "Basic abc": "no_session",
        "Bearer not-a-token": "bad_session",
        ui.session(generation="g0"): "session_ended",  # issued before a reinstall
    }
    for header, error in cases.items():
        r = await ui.http.get("/api/settings", headers={"Authorization": header} if header else {})
        assert (r.status_code, r.json()["error"]) == (401, error), header
    forged = ui.rt.crypto.sign({"kind": "session", "p": "*", "u": 1, "a": True, "g": "g1"}, 60, purpose=SESSION)
    r = await ui.http.get("/api/settings", headers={"Authorization": f"Bearer {forged}"})
    assert (r.status_code, r.json()["error"]) == (401, "bad_session")
    other = ui.rt.crypto.sign({"kind": "session", "p": "c" * 32, "u": 1, "a": True, "g": "g1"}, 60, purpose=SESSION)
    r = await ui.http.get("/api/settings", headers={"Authorization": f"Bearer {other}"})
    assert (r.status_code, r.json()["error"]) == (401, "portal_unknown")


async def test_only_an_administrator_changes_settings(ui: Ui) -> None:
    r = await ui.http.put("/api/settings", json={}, headers={"Authorization": ui.session(user_id=5, is_admin=False)})
    assert r.status_code == 403 and r.json() == {"error": "forbidden", "message": FORBIDDEN_MESSAGE}


def test_a_users_own_token_travels_encrypted(ui: Ui) -> None:
    header = ui.session(user_id=5, is_admin=False, user_token="user-secret-token", user_token_expires_at=2e9)
    assert "user-secret-token" not in header
    body = ui.rt.crypto.verify(header.removeprefix("Bearer "), purpose=SESSION)
    assert ui.rt.crypto.decrypt(body["t"], TOKENS) == "user-secret-token" and body["te"] == 2_000_000_000
    admin = ui.rt.crypto.verify(ui.session(user_token="x").removeprefix("Bearer "), purpose=SESSION)
    assert "t" not in admin  # an administrator carries none
