"""Configuration of the Bitrix24 emulator (environment variables, fixed credentials, default knobs)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

DEFAULT_KNOBS: dict[str, Any] = {
    "rate": 2.0,
    "burst": 50,
    "error_rate_5xx": 0.0,
    "error_rate_503": 0.0,
    "latency_ms": 0,
    # A share of requests that take latency_spike_ms longer (a slow node behind the balancer).
    "latency_spike_rate": 0.0,
    "latency_spike_ms": 0,
    "operation_time_limit_s": 480.0,
    "operation_cost_s": 0.01,
    "mandatory_fields": {},
    # Test-only: {method: error code} makes that REST method fail (alone or inside `batch`) with the error
    # the real portal answers; the codes are those of DOCUMENTED_ERRORS.
    "failing_methods": {},
    # The app's subscription ended on this portal (settings/oauth/error-codes.md, 2026-08): every REST call and
    # every token refresh is refused with PAYMENT_REQUIRED until it is switched off again.
    "payment_required": False,
}

# Errors a method can be made to fail with, as the real API answers them: code -> (HTTP status, description).
DOCUMENTED_ERRORS: dict[str, tuple[int, str]] = {
    "ACCESS_DENIED": (400, "Access denied"),  # crm.activity.configurable.add, crm.*.add without permission
    "WRONG_FIELD_VALUE": (400, "field layout wrong value"),
    "INTERNAL_SERVER_ERROR": (500, "Internal server error"),
}


@dataclass
class B24SandboxConfig:
    host: str = "127.0.0.1"
    port: int = 8020
    # Public base URL of the emulator (portal domains and client_endpoint are built from it).
    public_url: str = ""
    # Where the product's ui lives: installer, main page and the install event handler.
    app_url: str = "http://127.0.0.1:8000"
    client_id: str = "sandbox-b24-client"
    client_secret: str = "sandbox-b24-secret"
    app_version: str = "1"
    app_status: str = "F"
    scope: str = "crm,placement,im,user,userfieldconfig,imopenlines,basic"
    access_ttl_s: int = 3600
    refresh_ttl_s: int = 180 * 24 * 3600
    # Deliver events (ONAPPINSTALL, bound events) over HTTP.
    deliver_events: bool = True
    delivery_timeout_s: float = 10.0
    knobs: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_KNOBS))

    def __post_init__(self) -> None:
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        self.public_url = self.public_url.rstrip("/")
        self.app_url = self.app_url.rstrip("/")
        merged = dict(DEFAULT_KNOBS)
        merged.update(self.knobs)
        self.knobs = merged

    @property
    def host_port(self) -> str:
        """`127.0.0.1:8020`: the public URL without its scheme."""
        return self.public_url.split("://", 1)[-1]

    @classmethod
    def from_env(cls) -> B24SandboxConfig:
        host = os.environ.get("B24_SANDBOX_HOST", "127.0.0.1")
        port = int(os.environ.get("B24_SANDBOX_PORT", "8020"))
        return cls(
            host=host,
            port=port,
            public_url=os.environ.get("B24_SANDBOX_PUBLIC_URL", ""),
            app_url=os.environ.get("SANDBOX_APP_URL", "http://127.0.0.1:8000"),
        )
