"""The one settings class (DESIGN §6). Every service reads its configuration from here."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values the sandbox emulators accept (deploy/sandbox/README.md); never valid against the real APIs.
SANDBOX_HH_CLIENT_ID = "sandbox-hh-client"
SANDBOX_HH_CLIENT_SECRET = "sandbox-hh-secret"
SANDBOX_B24_CLIENT_ID = "sandbox-b24-client"
SANDBOX_B24_CLIENT_SECRET = "sandbox-b24-secret"
SANDBOX_APP_SECRET_KEY = "sandbox-only-app-secret-key-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=True)

    SANDBOX: bool = True
    NATS_URL: str = "nats://127.0.0.1:4222"
    REDIS_URL: str = "redis://127.0.0.1:6379/0"
    PUBLIC_URL: str = "http://127.0.0.1:8000"
    APP_SECRET_KEY: SecretStr = SecretStr(SANDBOX_APP_SECRET_KEY)

    HH_CLIENT_ID: str = SANDBOX_HH_CLIENT_ID
    HH_CLIENT_SECRET: SecretStr = SecretStr(SANDBOX_HH_CLIENT_SECRET)
    HH_USER_AGENT: str = "rabota-sync/0.1 (support@rabota-sync.example)"
    HH_API_URL: str = "https://api.hh.ru"
    HH_AUTHORIZE_URL: str = "https://rabota.by/oauth/authorize"
    HH_HOST: str = "rabota.by"
    HH_RATE: float = Field(default=6.0, gt=0, description="HeadHunter requests per second, whole deployment")
    HH_BURST: int = Field(default=2, gt=0)

    B24_CLIENT_ID: str = SANDBOX_B24_CLIENT_ID
    B24_CLIENT_SECRET: SecretStr = SecretStr(SANDBOX_B24_CLIENT_SECRET)
    B24_OAUTH_URL: str = "https://oauth.bitrix.info"
    B24_JS_URL: str = "https://api.bitrix24.com/api/v1/"
    B24_RATE: float = Field(default=2.0, gt=0)
    B24_BURST: int = Field(default=50, gt=0)

    # Public endpoints (webhook receiver, Bitrix24 frames and events, OAuth callback): a token bucket per
    # client IP and endpoint group. High defaults: HeadHunter's webhook bursts and the 200 req/s webhook
    # benchmark from loopback stay far below them; a client hammering an endpoint gets 429 + Retry-After.
    PUBLIC_RATE_PER_IP: float = Field(default=1000.0, gt=0, description="requests per second per client IP")
    PUBLIC_BURST_PER_IP: int = Field(default=2000, gt=0)

    POLL_INTERVAL_S: float = Field(default=300.0, gt=0)
    SESSION_TTL_S: int = 3600
    HTTP_TIMEOUT_S: float = 30.0
    MAX_DELIVER: int = 8
    # Replicas of each JetStream stream and of the object store when first created: 3 on a 3-node cluster.
    NATS_STREAM_REPLICAS: int = Field(default=1, ge=1, le=5)
    UI_HOST: str = "127.0.0.1"
    UI_PORT: int = 8000
    # GET /healthz, /readyz, /metrics of the non-ui services (the ui serves them on UI_PORT); 0 = off.
    METRICS_PORT: int = Field(default=9100, ge=0, le=65535)
    # JSON-lines span files, one per service, for local debugging and tests (OTLP uses OTEL_*).
    TRACE_DIR: str | None = None
    LOG_LEVEL: str = "INFO"

    @model_validator(mode="after")
    def _real_mode_needs_real_secrets(self) -> Settings:
        if not self.SANDBOX and self.APP_SECRET_KEY.get_secret_value() == SANDBOX_APP_SECRET_KEY:
            raise ValueError("APP_SECRET_KEY must be set outside the sandbox (SANDBOX=0)")
        return self

    @property
    def hh_redirect_uri(self) -> str:
        return f"{self.PUBLIC_URL.rstrip('/')}/hh/callback"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
