"""The one settings class (DESIGN §6). Every service reads its configuration from here."""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from functools import lru_cache

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values the sandbox emulators accept (deploy/sandbox/README.md); never valid against the real APIs.
SANDBOX_HH_CLIENT_ID = "sandbox-hh-client"
SANDBOX_HH_CLIENT_SECRET = "sandbox-hh-secret"
SANDBOX_B24_CLIENT_ID = "sandbox-b24-client"
SANDBOX_B24_CLIENT_SECRET = "sandbox-b24-secret"
SANDBOX_APP_SECRET_KEY = "sandbox-only-app-secret-key-change-me"

# How to make a key (README, .env.example, the k8s secret template).
KEY_ADVICE = 'generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
# Words of template and placeholder values: a key containing one (any case) was typed, not generated.
PLACEHOLDER_WORDS = ("change-me", "changeme", "change_me", "example", "placeholder", "secret", "sandbox",
                     "replace", "password", "default", "dummy", "your-key", "your_key", "todo", "fixme", "xxxx")
MIN_KEY_BITS = 256  # at least 32 random bytes
_ALPHABETS = ((re.compile(r"[0-9a-fA-F]+"), 4.0),  # hex
              (re.compile(r"[0-9a-zA-Z]+"), math.log2(62)),
              (re.compile(r"[0-9a-zA-Z_\-=]+|[0-9a-zA-Z+/=]+"), 6.0))  # base64 / base64url


def secret_key_problem(key: str) -> str | None:
    """Why `key` cannot be APP_SECRET_KEY outside the sandbox (None: it can). Never repeats the key."""
    lowered = key.strip().lower()
    if not lowered:
        return "it is empty"
    if key == SANDBOX_APP_SECRET_KEY:
        return "it is the sandbox key"
    word = next((w for w in PLACEHOLDER_WORDS if w in lowered), None)
    if word is not None:
        return f"it is a placeholder (contains '{word}')"
    # What the key's alphabet allows per character, at most: hex 4 bits, alphanumerics 5.95, base64 6, else 6.5.
    per_char = next((bits for pattern, bits in _ALPHABETS if pattern.fullmatch(key)), 6.5)
    if len(key) * per_char < MIN_KEY_BITS:
        return f"it is too short ({len(key)} characters hold fewer than {MIN_KEY_BITS // 8} random bytes)"
    counts = Counter(key)
    entropy = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    if len(counts) < 12 or entropy < 3.0 or _repeats(key):
        return "it is not random (too few distinct characters or a repeated pattern)"
    return None


def _repeats(key: str) -> bool:
    """A key made of one short piece repeated ('abcabcabc…')."""
    return any(key == (key[:size] * (len(key) // size + 1))[:len(key)] for size in range(1, len(key) // 2 + 1))


class Settings(BaseSettings):
    # A refused value is never echoed in the error: it may be a secret.
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=True, hide_input_in_errors=True)

    # Off unless set: the sandbox (SANDBOX=1) accepts the emulators' credentials and the sandbox key.
    SANDBOX: bool = False
    NATS_URL: str = "nats://127.0.0.1:4222"
    # NATS credentials and TLS (DESIGN §11; deploy/nats/auth.conf): all optional, so that a bare local nats-server
    # works. NATS_USER + NATS_PASSWORD, or NATS_CREDS (a .creds file); NATS_TLS_CA verifies the server, and
    # NATS_TLS_CERT + NATS_TLS_KEY are the client certificate when the server asks for one. The reply inboxes
    # are NATS_INBOX_PREFIX, by default `_INBOX_<user>` with a user (the only inboxes that user may subscribe to).
    NATS_USER: str | None = None
    NATS_PASSWORD: SecretStr | None = None
    NATS_CREDS: str | None = None
    NATS_TLS_CA: str | None = None
    NATS_TLS_CERT: str | None = None
    NATS_TLS_KEY: str | None = None
    NATS_INBOX_PREFIX: str | None = None
    # With a Redis ACL user, the credentials travel in the URL: redis://<user>:<password>@redis:6379/0
    # (rediss:// for TLS); they are used as given.
    REDIS_URL: str = "redis://127.0.0.1:6379/0"
    # High availability (issue 15): with REDIS_SENTINELS (comma-separated host:port), every process asks the
    # Sentinels for the primary of REDIS_SENTINEL_MASTER and follows a failover. REDIS_URL then gives only the
    # credentials, database and TLS (its host is not used). REDIS_SENTINEL_PASSWORD logs in to the Sentinels'
    # default user (requirepass of sentinel.conf); unset, REDIS_URL's user and password log in to them too.
    REDIS_SENTINELS: str = ""
    REDIS_SENTINEL_MASTER: str = "rabota"
    REDIS_SENTINEL_PASSWORD: SecretStr | None = None
    # Replication is asynchronous: a write the primary acknowledged can vanish in a failover. With Sentinels,
    # what a Bitrix24 create or a message's ack depends on is confirmed by this many replicas (WAIT) within
    # REDIS_WAIT_MS; unconfirmed, the work waits («ожидание: реплика Redis …»). 0: no confirmation.
    REDIS_WAIT_REPLICAS: int = Field(default=1, ge=0)
    REDIS_WAIT_MS: int = Field(default=2000, gt=0)
    PUBLIC_URL: str = "http://127.0.0.1:8000"
    # At least 32 random bytes outside the sandbox (see KEY_ADVICE). Per-purpose keys are derived from it.
    APP_SECRET_KEY: SecretStr = SecretStr(SANDBOX_APP_SECRET_KEY)
    # Previous keys after a rotation, comma-separated, newest first: they still decrypt and verify, never sign.
    APP_SECRET_KEY_OLD: SecretStr = SecretStr("")

    HH_CLIENT_ID: str = SANDBOX_HH_CLIENT_ID
    HH_CLIENT_SECRET: SecretStr = SecretStr(SANDBOX_HH_CLIENT_SECRET)
    HH_USER_AGENT: str = "rabota-sync/0.1 (support@rabota-sync.example)"
    HH_API_URL: str = "https://api.hh.ru"
    HH_AUTHORIZE_URL: str = "https://rabota.by/oauth/authorize"
    HH_HOST: str = "rabota.by"
    # Hosts (`host` or `host:port`) that may receive the HeadHunter token besides HH_API_URL's: the documented
    # hosts of resume and PDF links. A link to any other host fails without a request.
    HH_ALLOWED_HOSTS: str = "api.hh.ru,hh.ru,rabota.by,api.rabota.by"
    # HeadHunter's limit counts per source IP and is undocumented (about 10/s, "may change"): the deployment's
    # budget adapts between HH_RATE_MIN (where it starts) and HH_RATE (the ceiling), rising while no 429
    # comes and cut on a 429 or a burst of 503s (rabota_common.budget.AdaptiveBucket).
    HH_RATE: float = Field(default=20.0, gt=0, description="ceiling of HeadHunter requests per second, per egress")
    HH_RATE_MIN: float = Field(default=2.0, gt=0, description="floor (and start) of the adaptive HeadHunter rate")
    # Processes sharing one egress IP share one budget: with several egress IPs give each group of replicas
    # its own name (docs/benchmarks.md, scale model). Empty: one budget for the whole deployment.
    HH_EGRESS: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]{0,40}$")
    # 1: requests spaced evenly; a burst only spends HeadHunter's (sliding, per-IP) window early.
    HH_BURST: int = Field(default=1, gt=0)

    B24_CLIENT_ID: str = SANDBOX_B24_CLIENT_ID
    B24_CLIENT_SECRET: SecretStr = SecretStr(SANDBOX_B24_CLIENT_SECRET)
    B24_OAUTH_URL: str = "https://oauth.bitrix.info"
    B24_JS_URL: str = "https://api.bitrix24.com/api/v1/"
    # Comma-separated `host` or `host:port` entries admitted as Bitrix24 endpoints although they are not public
    # https portals (on-premise portals, the sandbox): http and private addresses are allowed for them.
    B24_ALLOWED_HOSTS: str = ""
    B24_RATE: float = Field(default=2.0, gt=0)
    B24_BURST: int = Field(default=50, gt=0)

    # Public endpoints (webhook receiver, Bitrix24 frames and events, OAuth callback): a token bucket per
    # client IP and endpoint group. High defaults: HeadHunter's webhook bursts and the 200 req/s webhook
    # benchmark from loopback stay far below them; a client hammering an endpoint gets 429 + Retry-After.
    PUBLIC_RATE_PER_IP: float = Field(default=1000.0, gt=0, description="requests per second per client IP")
    PUBLIC_BURST_PER_IP: int = Field(default=2000, gt=0)
    # Behind a reverse proxy: its addresses (comma-separated IPs or CIDRs). When the peer is one of them, the
    # per-IP limit keys on the right-most X-Forwarded-For address that is not a trusted proxy; otherwise on
    # the peer itself (an untrusted peer's X-Forwarded-For is ignored). Empty: no proxy is trusted.
    TRUSTED_PROXIES: str = ""
    # The session API (/api): a token bucket per portal user, shared by every ui replica.
    API_RATE_PER_SESSION: float = Field(default=30.0, gt=0, description="requests per second per portal user")
    API_BURST_PER_SESSION: int = Field(default=600, gt=0)
    # Feedback: per portal user, and at most FEEDBACK_MAX_PER_PORTAL entries kept per portal (oldest dropped).
    FEEDBACK_PER_HOUR: float = Field(default=20.0, gt=0)
    FEEDBACK_BURST: int = Field(default=5, gt=0)
    FEEDBACK_MAX_PER_PORTAL: int = Field(default=500, gt=0)

    # Request bodies of the public surface: larger ones get 413 before they are parsed. HeadHunter's webhooks
    # are a few hundred bytes of ids; Bitrix24's frames and events, and /api bodies, are small forms and JSON.
    MAX_BODY_BYTES: int = Field(default=1024 * 1024, gt=0, description="largest request body, bytes")
    WEBHOOK_MAX_BODY_BYTES: int = Field(default=64 * 1024, gt=0, description="largest webhook body, bytes")
    # Webhooks of one portal received but not yet handled by the poller: above this the receiver answers 429
    # (HeadHunter delivers it again later), so one portal's flood never fills the poller's consumer.
    WEBHOOK_PENDING_PER_PORTAL: int = Field(default=100, gt=0)
    # The poller handles this many webhooks of one portal at a time, and this many of all portals.
    WEBHOOK_IN_FLIGHT_PER_PORTAL: int = Field(default=4, gt=0)
    WEBHOOK_IN_FLIGHT: int = Field(default=32, gt=0)

    # Reconciliation: a portal whose webhooks are healthy (subscription in place, no response found that the
    # webhooks had missed, or a webhook seen since) is reconciled every RECONCILE_INTERVAL_S with one vacancy
    # list per manager; any other portal is polled every POLL_INTERVAL_S as before (issue 17).
    POLL_INTERVAL_S: float = Field(default=300.0, gt=0)
    # A portal Bitrix24 paused (PAYMENT_REQUIRED): at most one refresh per this many seconds probes it.
    B24_PAUSE_PROBE_S: float = Field(default=600.0, gt=0)
    RECONCILE_INTERVAL_S: float = Field(default=3600.0, gt=0)
    # Short: a dismissed user or a demoted admin keeps access at most this long (the page asks to reopen on 401).
    SESSION_TTL_S: int = Field(default=900, ge=60, le=86400)
    HTTP_TIMEOUT_S: float = 30.0
    # Caps on answers read from HeadHunter and Bitrix24: reading stops beyond them with a clear error.
    HTTP_MAX_JSON_BYTES: int = Field(default=2 * 1024 * 1024, gt=0)
    HTTP_MAX_PDF_BYTES: int = Field(default=16 * 1024 * 1024, gt=0)
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
    def _sentinels_are_host_port(self) -> Settings:
        self.redis_sentinels  # noqa: B018 - raises on a malformed entry, at start and with one line
        return self

    @model_validator(mode="after")
    def _real_mode_needs_real_secrets(self) -> Settings:
        if self.SANDBOX:
            return self
        problem = secret_key_problem(self.APP_SECRET_KEY.get_secret_value())
        if problem:
            raise ValueError(f"APP_SECRET_KEY is refused outside the sandbox (SANDBOX=0): {problem}; {KEY_ADVICE}")
        for i, old in enumerate(self.old_secret_keys, 1):
            problem = secret_key_problem(old)
            if problem:
                raise ValueError(f"APP_SECRET_KEY_OLD key {i} is refused outside the sandbox: {problem}")
        return self

    @property
    def redis_sentinels(self) -> list[tuple[str, int]]:
        """REDIS_SENTINELS as (host, port) pairs; empty without Sentinel."""
        out: list[tuple[str, int]] = []
        for entry in filter(None, (e.strip() for e in self.REDIS_SENTINELS.split(","))):
            host, _, port = entry.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"REDIS_SENTINELS: {entry!r} is not host:port")
            out.append((host.strip("[]"), int(port)))
        return out

    @property
    def old_secret_keys(self) -> list[str]:
        return [k.strip() for k in self.APP_SECRET_KEY_OLD.get_secret_value().split(",") if k.strip()]

    @property
    def hh_redirect_uri(self) -> str:
        return f"{self.PUBLIC_URL.rstrip('/')}/hh/callback"


class ConfigurationError(SystemExit):
    """A service refuses to start: the message says which setting and why, without values or a traceback."""


def settings_errors(exc: ValidationError) -> str:
    """The errors of a refused configuration, one line each, never the values (they may be secrets)."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        lines.append(f"  {where}: {error['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        print(f"rabota-sync: configuration refused:\n{settings_errors(exc)}", file=sys.stderr)
        raise ConfigurationError(2) from None
