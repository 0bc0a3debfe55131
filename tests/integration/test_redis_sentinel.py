"""Redis with a replica and Sentinel (issue 15): the one client factory follows a failover, errors during the
election are transient, and `Store.replicated` confirms writes on a replica (WAIT) or raises a transient
NotReplicated. Real redis-server processes: a primary, a replica and three Sentinels of the local stack."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from rabota_common.crypto import Crypto
from rabota_common.errors import NotReplicated
from rabota_common.runtime import connect_store
from rabota_common.settings import SANDBOX_APP_SECRET_KEY, Settings
from rabota_common.store import Store
from rabota_common.transience import REDIS_ERRORS, REDIS_REPLICA, classify
from rabota_stack.stack import SENTINEL_MASTER, Stack, StackConfig
from redis.sentinel import MasterNotFoundError, SlaveNotFoundError


@pytest.fixture
def ha(tmp_path: Path) -> Iterator[Stack]:
    """Only the Redis part of a stack: primary, one replica, three Sentinels (with the stack's password)."""
    stack = Stack(StackConfig.ephemeral(tmp_path / "stack", redis_replicas=1, secure=True))
    try:
        stack.start_redis("redis", stack.config.redis_port)
        stack.start_redis("redis-replica-1", stack.config.redis_replica_ports[0])
        for i, port in enumerate(stack.config.sentinel_ports):
            stack.start_sentinel(f"sentinel-{i}", port)
        stack.wait_sentinels_ready()
        yield stack
    finally:
        stack.stop()


def _settings(stack: Stack, **kw: object) -> Settings:
    sentinels = ",".join(f"127.0.0.1:{p}" for p in stack.config.sentinel_ports)
    return Settings(SANDBOX=True, REDIS_URL=f"redis://:{stack.redis_password}@ignored-host:1/0",
                    REDIS_SENTINELS=sentinels, REDIS_SENTINEL_MASTER=SENTINEL_MASTER, **kw)  # type: ignore[arg-type]


def test_sentinels_setting_is_parsed_and_checked() -> None:
    assert Settings(SANDBOX=True, REDIS_SENTINELS=" a:26379, [::1]:5 ,").redis_sentinels == [("a", 26379),
                                                                                           ("::1", 5)]
    assert Settings(SANDBOX=True).redis_sentinels == []
    with pytest.raises(ValueError, match="host:port"):
        Settings(SANDBOX=True, REDIS_SENTINELS="sentinel-0")


def test_not_replicated_is_transient_and_a_redis_error() -> None:
    exc = NotReplicated("0 of 1")
    assert isinstance(exc, REDIS_ERRORS)
    assert classify(exc).kind == "transient" and classify(exc).reason == REDIS_REPLICA
    for election in (MasterNotFoundError("no primary"), SlaveNotFoundError("no replica")):  # during a failover
        assert isinstance(election, REDIS_ERRORS) and classify(election).kind == "transient"


async def test_replicated_confirms_on_a_replica_and_refuses_without(ha: Stack, redis_url: str) -> None:
    crypto = Crypto(SANDBOX_APP_SECRET_KEY, [])
    store = connect_store(_settings(ha, REDIS_WAIT_REPLICAS=1, REDIS_WAIT_MS=2000), crypto)
    client = store.redis
    try:
        await client.set("rs:test", "1")
        started = time.monotonic()
        await store.replicated()  # the replica confirms at once
        assert time.monotonic() - started < 1.0
    finally:
        await client.aclose()
    single = aioredis.Redis.from_url(redis_url)  # a Redis without a replica
    try:
        with pytest.raises(NotReplicated):
            await Store(single, crypto, wait_replicas=1, wait_ms=100).replicated()
        await Store(single, crypto).replicated()  # 0 replicas asked: nothing to confirm
    finally:
        await single.aclose()


async def test_client_follows_the_promoted_replica(ha: Stack) -> None:
    store = connect_store(_settings(ha, REDIS_WAIT_REPLICAS=1, REDIS_WAIT_MS=2000), Crypto(SANDBOX_APP_SECRET_KEY, []))
    client = store.redis
    try:
        await client.set("rs:before", "kept")
        since = await store.replication_id()
        assert since
        assert await store.replicated(since) == []
        pipe = client.pipeline(transaction=False)
        pipe.set("rs:piped", "1")
        pipe.get("rs:piped")
        assert await store.replicated(since, pipe=pipe) == [True, b"1"]  # the pipeline's own results
        ha.stop_process("redis", hard=True)
        killed = time.monotonic()
        errors: set[str] = set()
        deadline = killed + 60.0
        while True:  # what the services see during the election: transient causes only, then the new primary
            try:
                await client.set("rs:after", "written")
                break
            except Exception as exc:
                assert classify(exc).kind == "transient", repr(exc)
                errors.add(type(exc).__name__)
                assert time.monotonic() < deadline, f"no primary after 60 s: {errors}"
                await asyncio.sleep(0.1)
        took = time.monotonic() - killed
        print(f"sentinel failover: writes again {took:.1f}s after the kill; errors meanwhile {sorted(errors)}")
        assert await client.get("rs:before") == b"kept"  # confirmed before the kill: survives the failover
        promoted = aioredis.Redis(port=ha.config.redis_replica_ports[0], password=ha.redis_password)
        try:
            assert (await promoted.info("replication"))["role"] == "master"
        finally:
            await promoted.aclose()
        with pytest.raises(NotReplicated, match="primary changed"):  # work begun before the failover: redone
            await store.replicated(since)
        with pytest.raises(NotReplicated, match="confirmed"):  # the new primary has no replica until the old
            await Store(client, store.crypto, wait_replicas=1, wait_ms=200).replicated()  # node comes back
    finally:
        await client.aclose()


SCRIPTS = Path(__file__).resolve().parents[2] / "deploy" / "redis"


def _role(port: int, password: str) -> tuple[str, int]:
    import redis

    with redis.Redis(port=port, password=password, socket_timeout=2.0, decode_responses=True) as node:
        info = node.info("replication")
    return str(info["role"]), int(info.get("master_port", 0))


def _wait(what: str, check: object, limit_s: float = 60.0) -> float:
    import redis

    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        try:
            if check():  # type: ignore[operator]
                return time.monotonic() - started
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {limit_s:.0f}s")


def test_deploy_scripts_bring_a_killed_primary_back_as_a_replica(tmp_path: Path) -> None:
    """deploy/redis/node.sh and sentinel.sh (compose and k8s run them): the first start makes the initial
    primary; after it is SIGKILLed and the Sentinels promote the replica, the node started again with the same
    command asks the Sentinels and comes back as the new primary's replica at once, never as a second primary."""
    import signal

    from rabota_stack.processes import ProcessGroup, free_port, wait_port

    group = ProcessGroup(tmp_path / "logs")
    password = "p" + "4f" * 12
    a, b = free_port(), free_port()
    sentinels = [free_port() for _ in range(3)]
    common = {"REDIS_MASTER_NAME": "rabota", "REDIS_INITIAL_PRIMARY": "127.0.0.1", "REDIS_INITIAL_PRIMARY_PORT": str(a),
              "REDIS_SENTINEL_HOSTS": " ".join(f"127.0.0.1:{p}" for p in sentinels),
              "REDIS_SENTINEL_PASSWORD": password}

    def node(name: str, port: int) -> None:
        (tmp_path / name).mkdir(exist_ok=True)
        group.start(name, ["sh", str(SCRIPTS / "node.sh"), "--bind", "127.0.0.1", "--dir", str(tmp_path / name),
                           "--appendonly", "yes", "--save", "", "--requirepass", password, "--masterauth", password],
                    {**common, "REDIS_NODE_HOST": "127.0.0.1", "REDIS_PORT": str(port)})
        wait_port(port)

    try:
        node("a", a)
        node("b", b)
        for i, port in enumerate(sentinels):
            (tmp_path / f"s{i}").mkdir()
            group.start(f"s{i}", ["sh", str(SCRIPTS / "sentinel.sh"), "--bind", "127.0.0.1"],
                        {**common, "SENTINEL_HOST": "127.0.0.1", "SENTINEL_PORT": str(port),
                         "SENTINEL_DIR": str(tmp_path / f"s{i}"), "SENTINEL_DOWN_AFTER_MS": "1000",
                         "SENTINEL_FAILOVER_TIMEOUT_MS": "5000", "SENTINEL_AUTH_PASSWORD": password,
                         "SENTINEL_CLIENT_USER": "svc", "SENTINEL_CLIENT_PASSWORD": "q" + "5e" * 12})
            wait_port(port)
        assert _role(a, password) == ("master", 0)
        _wait("b in sync with a", lambda: _role(b, password) == ("slave", a))
        conf = (tmp_path / "s0" / "sentinel.conf").read_text()
        assert "requirepass" in conf and f"sentinel auth-pass rabota {password}" in conf

        def sentinels_know_everyone() -> bool:
            import redis

            for port in sentinels:
                with redis.Redis(port=port, password=password, socket_timeout=2.0) as sentinel:
                    info = sentinel.sentinel_master("rabota")
                    if info["num-slaves"] < 1 or info["num-other-sentinels"] < 2:
                        return False
            return True

        _wait("the Sentinels know the replica and each other", sentinels_know_everyone)
        asyncio.run(_client_user_may_only_ask(sentinels[0], a))
        group.stop_one(group.get("a"), sig=signal.SIGKILL)
        group.procs.remove(group.get("a"))
        promoted = _wait("b promoted", lambda: _role(b, password) == ("master", 0))
        node("a", a)  # the same command again, as a supervisor restarts it
        back = _wait("a back as b's replica", lambda: _role(a, password) == ("slave", b), limit_s=10.0)
        print(f"deploy scripts: b promoted {promoted:.1f}s after a's kill; a a replica of b {back:.1f}s after "
              "its restart")
        assert "starts as a replica of 127.0.0.1:" + str(b) in (tmp_path / "logs" / "a.log").read_text()
    finally:
        group.stop_all()


async def _client_user_may_only_ask(port: int, primary: int) -> None:
    """The services' Sentinel user (SENTINEL_CLIENT_USER): redis-py's discovery works, reconfiguring does not."""
    from redis.asyncio.sentinel import Sentinel

    svc = {"username": "svc", "password": "q" + "5e" * 12}
    sentinel = Sentinel([("127.0.0.1", port)], sentinel_kwargs=svc)
    assert await sentinel.discover_master("rabota") == ("127.0.0.1", primary)
    client = aioredis.Redis(port=port, **svc)  # type: ignore[arg-type]
    try:
        for forbidden in (("SENTINEL", "FAILOVER", "rabota"), ("SENTINEL", "SET", "rabota", "quorum", "1"),
                          ("SENTINEL", "REMOVE", "rabota")):
            with pytest.raises(aioredis.ResponseError, match="no permissions"):
                await client.execute_command(*forbidden)
    finally:
        await client.aclose()
        for s in sentinel.sentinels:
            await s.aclose()
