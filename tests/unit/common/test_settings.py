"""The one settings class: outside the sandbox a real, random APP_SECRET_KEY is required (and every old one),
a refused configuration names the setting and the reason but never the value, and the environment is read as
the services get it."""

from __future__ import annotations

import secrets

import pytest
from pydantic import ValidationError
from rabota_common.settings import (
    SANDBOX_APP_SECRET_KEY,
    ConfigurationError,
    Settings,
    get_settings,
    secret_key_problem,
    settings_errors,
)

GOOD = secrets.token_urlsafe(48)


@pytest.mark.parametrize(("key", "problem"), [
    ("", "it is empty"),
    (SANDBOX_APP_SECRET_KEY, "it is the sandbox key"),
    ("my-SECRET-" + GOOD, "it is a placeholder (contains 'secret')"),
    ("a1b2c3d4" * 4, "it is too short"),
    ("abcdefghijklmnop" * 8, "it is not random"),
    ("ab" * 40, "it is not random"),
], ids=["empty", "sandbox", "placeholder", "short", "pattern16", "pattern2"])  # ids fixed: GOOD is random
def test_keys_that_are_refused(key: str, problem: str) -> None:
    found = secret_key_problem(key)
    assert found is not None and found.startswith(problem)
    assert key.strip() == "" or key not in found  # never repeated


def test_generated_keys_pass() -> None:
    assert secret_key_problem(GOOD) is None and secret_key_problem(secrets.token_hex(32)) is None


def test_real_mode_needs_real_keys_the_sandbox_does_not() -> None:
    assert Settings(SANDBOX=True).APP_SECRET_KEY.get_secret_value() == SANDBOX_APP_SECRET_KEY
    assert Settings(SANDBOX=False, APP_SECRET_KEY=GOOD).old_secret_keys == []
    with pytest.raises(ValidationError) as caught:
        Settings(SANDBOX=False)
    assert "APP_SECRET_KEY is refused outside the sandbox" in settings_errors(caught.value)
    older = secrets.token_urlsafe(48)
    assert Settings(SANDBOX=False, APP_SECRET_KEY=GOOD, APP_SECRET_KEY_OLD=f" {older} ,").old_secret_keys == [older]
    with pytest.raises(ValidationError) as caught:
        Settings(SANDBOX=False, APP_SECRET_KEY=GOOD, APP_SECRET_KEY_OLD=f"{older},changeme")
    message = settings_errors(caught.value)
    assert "APP_SECRET_KEY_OLD key 2" in message and older not in message and GOOD not in message


def test_the_environment_is_read_and_a_refusal_exits_without_values(monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SANDBOX", "1")
    monkeypatch.setenv("PUBLIC_URL", "https://app.example.by/")
    monkeypatch.setenv("METRICS_PORT", "0")
    get_settings.cache_clear()
    try:
        settings = get_settings()
        assert settings.SANDBOX and settings.METRICS_PORT == 0
        assert settings.hh_redirect_uri == "https://app.example.by/hh/callback"
        get_settings.cache_clear()
        monkeypatch.setenv("SANDBOX", "0")
        monkeypatch.setenv("APP_SECRET_KEY", "s3cr3t-value-typed-by-hand")
        monkeypatch.setenv("METRICS_PORT", "70000")
        with pytest.raises(ConfigurationError) as caught:
            get_settings()
        assert caught.value.code == 2
        assert "METRICS_PORT" in capsys.readouterr().err  # a field's own check, before the key's
        monkeypatch.setenv("METRICS_PORT", "9100")
        with pytest.raises(ConfigurationError):
            get_settings()
        err = capsys.readouterr().err
        assert "APP_SECRET_KEY is refused" in err and "s3cr3t-value" not in err
    finally:
        get_settings.cache_clear()
