"""Configuration of the HeadHunter emulator (environment + defaults) and the runtime knobs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

CLIENT_ID = "sandbox-hh-client"
CLIENT_SECRET = "sandbox-hh-secret"
EMPLOYER_ID = "1000"
ACCESS_TOKEN_TTL_S = 1_209_600  # 14 days, the documented example value
AUTH_CODE_TTL_S = 60.0  # strict choice: the docs only say "rather short"


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class HHSandboxConfig:
    host: str = "127.0.0.1"
    port: int = 8010
    app_url: str = "http://127.0.0.1:8000"
    negotiations: int = 60
    seed: int = 1
    live: bool = False
    live_interval_s: float = 5.0
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    knobs: dict[str, Any] = field(default_factory=dict)

    @property
    def redirect_uri(self) -> str:
        return self.app_url.rstrip("/") + "/hh/callback"

    @classmethod
    def from_env(cls) -> HHSandboxConfig:
        return cls(
            host=os.environ.get("HH_SANDBOX_HOST", "127.0.0.1"),
            port=int(os.environ.get("HH_SANDBOX_PORT", "8010")),
            app_url=os.environ.get("SANDBOX_APP_URL", "http://127.0.0.1:8000"),
            negotiations=int(os.environ.get("HH_SANDBOX_NEGOTIATIONS", "60")),
            seed=int(os.environ.get("HH_SANDBOX_SEED", "1")),
            live=_env_bool("HH_SANDBOX_LIVE", False),
        )


# Knobs: the documented ones first, then the emulator's own extras.
DEFAULT_KNOBS: dict[str, Any] = {
    "error_rate_5xx": 0.0,
    "error_rate_429": 0.0,
    "error_rate_503": 0.0,
    "latency_ms": 0,
    "rate_limit_rps": 10,
    "resume_view_limit": None,
    "webhooks": True,
    # extras
    "live_interval_s": None,  # seconds between live events; null = live mode off
    "webhook_retry_scale": 1.0,  # multiplies the retry delays 1, 2, 4, 8, 16 s
    "webhook_max_attempts": 6,
    "webhook_timeout_s": 2.0,  # the documented 2 s answer deadline
    "access_token_ttl_s": ACCESS_TOKEN_TTL_S,  # lifetime of newly issued access tokens
    "auth_code_ttl_s": AUTH_CODE_TTL_S,
    "old_invalidate_path_only": False,  # true: DELETE /token answers 404, only DELETE /oauth/token works
}

_NUMBER = (int, float)


def validate_knobs(update: dict[str, Any]) -> list[str]:
    """Return a list of problems with a knob update (unknown keys, wrong types)."""
    problems: list[str] = []
    for key, value in update.items():
        if key not in DEFAULT_KNOBS:
            problems.append(f"unknown knob {key!r}")
            continue
        if key in {"webhooks", "old_invalidate_path_only"}:
            if not isinstance(value, bool):
                problems.append(f"{key} must be a boolean")
        elif key in {"resume_view_limit", "live_interval_s", "rate_limit_rps"}:
            if value is not None and (isinstance(value, bool) or not isinstance(value, _NUMBER) or value < 0):
                problems.append(f"{key} must be a non-negative number or null")
        elif key.startswith("error_rate"):
            if isinstance(value, bool) or not isinstance(value, _NUMBER) or not 0 <= value <= 1:
                problems.append(f"{key} must be a number in [0, 1]")
        elif isinstance(value, bool) or not isinstance(value, _NUMBER) or value < 0:
            problems.append(f"{key} must be a non-negative number")
    return problems
