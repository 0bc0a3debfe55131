"""What every store module shares: the Redis client, the key scheme, sealing, and the portal's index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.asyncio.connection import SSLConnection, parse_url
from redis.asyncio.sentinel import Sentinel
from redis.commands.core import AsyncScript

from rabota_common.crypto import Crypto
from rabota_common.ids import member_id as valid_member_id

M = TypeVar("M", bound=BaseModel)
S = TypeVar("S", bound="StoreBase")

SECRET_FIELDS = frozenset({"access_token", "refresh_token", "application_token"})


def text(value: Any) -> str:
    """Redis answers bytes; the store speaks str."""
    return value.decode() if isinstance(value, bytes) else str(value)


def redis_client(url: str, *, sentinels: Sequence[tuple[str, int]] = (), sentinel_master: str = "rabota",
                 sentinel_password: str | None = None, wait_ms: int = 2000) -> Redis:
    """The one place a process gets its Redis client. With `sentinels`, a client of whatever primary the
    Sentinels name for `sentinel_master`: it asks them again when its connection breaks or the node it reaches
    has become a replica (a failover), and until a primary is elected its commands raise MasterNotFoundError,
    a transient cause (rabota_common.transience.REDIS_ERRORS). `url` still gives the credentials, database and
    TLS (its host is not used). Without Sentinels: `url` as it is."""
    if not sentinels:
        return Redis.from_url(url)
    kwargs: dict[str, Any] = dict(parse_url(url))
    for name in ("host", "port", "path"):
        kwargs.pop(name, None)
    if kwargs.pop("connection_class", None) is SSLConnection:  # rediss://: the Sentinel-managed TLS connection
        kwargs["ssl"] = True
    # A primary that vanished without closing its sockets (a node lost, not a process) must not hang a
    # command for ever: a bounded read, longer than the longest WAIT the store issues.
    kwargs.setdefault("socket_connect_timeout", 2.0)
    kwargs.setdefault("socket_timeout", max(5.0, wait_ms / 1000 + 3.0))
    # The Sentinels: with `sentinel_password` their default user; else the url's user and password (k8s: an ACL
    # user of the Sentinels that may only ask who the primary is).
    sentinel_kwargs: dict[str, Any] = {"socket_connect_timeout": 2.0, "socket_timeout": 2.0}
    if sentinel_password is not None:
        sentinel_kwargs["password"] = sentinel_password
    else:
        sentinel_kwargs.update({k: kwargs[k] for k in ("username", "password") if kwargs.get(k)})
    sentinel = Sentinel(list(sentinels), sentinel_kwargs=sentinel_kwargs, **kwargs)
    client: Redis = sentinel.master_for(sentinel_master, redis_class=Redis)
    return client


class StoreBase:
    """The Redis client and the helpers the concern modules (portals, hh, ledger…) build on."""

    def __init__(self, redis: Redis, crypto: Crypto, wait_replicas: int = 0, wait_ms: int = 2000) -> None:
        self.redis = redis
        self.crypto = crypto
        self._scripts: dict[str, AsyncScript] = {}
        # With Redis replicas: how many must confirm the writes that something outside Redis relies on, and
        # for how long to wait for them (store/replication.py); 0: no confirmation (a single Redis).
        self.wait_replicas = wait_replicas
        self.wait_ms = wait_ms

    def _script(self, source: str) -> AsyncScript:
        """A Lua script, registered once per store."""
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self.redis.register_script(source)
        return script

    @classmethod
    def connect(cls: type[S], *, url: str, crypto: Crypto, sentinels: Sequence[tuple[str, int]] = (),
                sentinel_master: str = "rabota", sentinel_password: str | None = None, wait_replicas: int = 0,
                wait_ms: int = 2000) -> S:
        """A store on a new client (the services' runtime builds its store so): of `url` as it is, or with
        `sentinels` of whatever primary they name for `sentinel_master` (see redis_client); then what it relies
        on is confirmed by `wait_replicas` replicas (store/replication.py)."""
        client = redis_client(url, sentinels=sentinels, sentinel_master=sentinel_master,
                              sentinel_password=sentinel_password, wait_ms=wait_ms)
        return cls(client, crypto, wait_replicas=wait_replicas if sentinels else 0, wait_ms=wait_ms)

    async def close(self) -> None:
        await self.redis.aclose()

    async def ping(self) -> bool:
        """Whether Redis answers (readiness)."""
        return bool(await self.redis.ping())

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def key(portal: str, *parts: str) -> str:
        """`rs:{member_id}:…`; a portal id that is not a member_id never becomes (part of) a key."""
        return ":".join(("rs", valid_member_id(portal), *parts))

    async def track(self, portal: str, *keys: str) -> None:
        """Remember per-portal keys whose names come from data (`resume-cache:<id>`, `notified:<digest>`…)
        in the portal's index, so that a CLEAN uninstall finds them without a pattern."""
        if keys:
            await self.redis.sadd(self.key(portal, "index"), *keys)

    def _seal(self, data: dict[str, Any]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for name, value in data.items():
            if name in SECRET_FIELDS and value:
                out[name] = self.crypto.encrypt(str(value))
            elif isinstance(value, bool):
                out[name] = "1" if value else "0"
            else:
                out[name] = str(value)
        return out

    def _open(self, raw: dict[Any, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for k, v in raw.items():
            name, value = text(k), text(v)
            data[name] = self.crypto.decrypt(value) if name in SECRET_FIELDS and value else value
        return data

    def seal(self, plain: str) -> str:
        """Personal data as stored: encrypted with the personal-data key."""
        return self.crypto.seal(plain)

    def unseal(self, stored: Any) -> str:
        """A stored personal value in clear (a value from before encryption is returned as it is)."""
        return self.crypto.unseal(text(stored))

    def seal_json(self, data: Any) -> str:
        return self.crypto.seal_json(data)

    def unseal_json(self, stored: Any) -> Any:
        return self.crypto.unseal_json(text(stored))

    async def _get_model(self, key: str, model: type[M]) -> M | None:
        raw = await self.redis.hgetall(key)
        if not raw:
            return None
        data = self._open(raw)
        for name, field in model.model_fields.items():
            if field.annotation is bool and name in data:
                data[name] = data[name] == "1"
        return model.model_validate(data)

    async def _claim(self, key: str, *, value: str = "1", ttl_s: int | None = None) -> bool:
        """SET NX (with a TTL): True for the one caller that set it."""
        return bool(await self.redis.set(key, value, nx=True, ex=ttl_s))
