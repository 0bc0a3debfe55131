"""Mutable state of one emulator instance: data, tokens, subscriptions, knobs, stats."""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .config import DEFAULT_KNOBS, HHSandboxConfig
from .data import Store, generate
from .ratelimit import SlidingWindowLimiter


def seed_clock() -> float:
    """The "now" seeded dates count back from: the start of the current hour, so two sandboxes seeded
    with the same seed a moment apart hold the same data (dates, not just ids)."""
    return float(int(time.time()) // 3600 * 3600)


@dataclass(slots=True)
class Token:
    access: str
    refresh: str | None
    login: str | None  # None for an application token
    client_id: str
    issued_at: float
    expires_at: float | None  # None: never expires (application token)
    refreshed: bool = False
    revoked: str | None = None  # None | "revoked" | "deactivated" | "replaced"


@dataclass(slots=True)
class AuthCode:
    code: str
    login: str
    client_id: str
    redirect_uri: str | None
    created_at: float
    used: bool = False
    revoked: bool = False


@dataclass
class Subscription:
    id: str
    user_id: str
    client_id: str
    url: str
    actions: list[dict[str, Any]]


@dataclass
class SandboxState:
    config: HHSandboxConfig
    store: Store
    knobs: dict[str, Any]
    tokens: dict[str, Token] = field(default_factory=dict)  # by access token
    refresh_index: dict[str, Token] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    app_token_issued_at: dict[str, float] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    views: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (manager, day) -> resumes
    stats_routes: Counter[str] = field(default_factory=Counter)
    stats_status: Counter[str] = field(default_factory=Counter)
    limiter: SlidingWindowLimiter = field(default_factory=SlidingWindowLimiter)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    live_task: asyncio.Task[Any] | None = None
    rng: random.Random = field(default_factory=random.Random)
    next_sub_id: int = 700_001
    next_message_id: int = 1
    chats: dict[str, Any] = field(default_factory=dict)  # chat id -> chats.Chat
    next_chat_message_id: int = 7_000_000_001

    @classmethod
    def create(cls, config: HHSandboxConfig) -> SandboxState:
        knobs = dict(DEFAULT_KNOBS)
        if config.live:
            knobs["live_interval_s"] = config.live_interval_s
        knobs.update(config.knobs)
        return cls(
            config=config,
            store=generate(config.negotiations, config.seed, seed_clock()),
            knobs=knobs,
            rng=random.Random(config.seed),
        )

    def reset(self, negotiations: int | None = None, seed: int | None = None) -> None:
        for task in list(self.tasks):
            task.cancel()
        self.tasks.clear()
        if negotiations is not None:
            self.config.negotiations = negotiations
        if seed is not None:
            self.config.seed = seed
        self.store = generate(self.config.negotiations, self.config.seed, seed_clock())
        self.tokens.clear()
        self.refresh_index.clear()
        self.codes.clear()
        self.app_token_issued_at.clear()
        self.subscriptions.clear()
        self.deliveries.clear()
        self.views.clear()
        self.chats.clear()
        self.limiter.reset()
        self.rng = random.Random(self.config.seed)

    # -- tokens ------------------------------------------------------------------------------------
    def issue_user_token(self, login: str, client_id: str) -> Token:
        now = time.time()
        tok = Token(
            access="USER" + secrets.token_hex(30),
            refresh="USER" + secrets.token_hex(30),
            login=login,
            client_id=client_id,
            issued_at=now,
            expires_at=now + float(self.knobs["access_token_ttl_s"]),
        )
        self.tokens[tok.access] = tok
        assert tok.refresh is not None
        self.refresh_index[tok.refresh] = tok
        return tok

    def issue_app_token(self, client_id: str) -> Token:
        now = time.time()
        for tok in self.tokens.values():
            if tok.login is None and tok.client_id == client_id and tok.revoked is None:
                tok.revoked = "replaced"
        tok = Token("APPL" + secrets.token_hex(30), None, None, client_id, now, None)
        self.tokens[tok.access] = tok
        self.app_token_issued_at[client_id] = now
        return tok

    def user_tokens(self, login: str | None) -> list[Token]:
        return [t for t in self.tokens.values() if t.login is not None and (login is None or t.login == login)]

    def drop_subscriptions(self, user_id: str, client_id: str | None = None) -> None:
        for sid, sub in list(self.subscriptions.items()):
            if sub.user_id == user_id and (client_id is None or sub.client_id == client_id):
                del self.subscriptions[sid]

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task
