"""The local stack: NATS (JetStream), Redis (AOF), the sandbox emulators and the five services."""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rabota_common import nats_auth

from rabota_stack.nats_cluster import NatsNode, write_confs
from rabota_stack.processes import (
    SERVICES,
    ProcessGroup,
    free_port,
    nats_server_binary,
    redis_server_binary,
    wait_http,
    wait_port,
)

STACK_USER = "stack"  # the local stack's own user (tests' clients), never in k8s or compose
SENTINELS = 3
SENTINEL_MASTER = "rabota"
# A fast failover for the local stack and the tests; production values are in deploy/compose and deploy/k8s.
SENTINEL_DOWN_AFTER_MS = 1000
SENTINEL_FAILOVER_TIMEOUT_MS = 5000
REDIS_SCRIPTS = Path(__file__).resolve().parents[2] / "redis"  # deploy/redis: node.sh, sentinel.sh


@dataclass
class StackConfig:
    data_dir: Path
    sandbox: bool = True
    nats_port: int = 14222
    redis_port: int = 16379
    ui_port: int = 8000
    hh_port: int = 8010
    b24_port: int = 8020
    nats_url: str | None = None  # external servers instead of starting our own
    redis_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    services: tuple[str, ...] = SERVICES
    # 3: a JetStream cluster of three nats-server processes (nats-0..2, the k8s config) with R3 streams
    # instead of the single server; 0: the single server.
    nats_cluster: int = 0
    nats_nodes: list[NatsNode] = field(default_factory=list)
    # n >= 1: Redis as deployed with high availability (issue 15): the primary `redis`, n replicas
    # (`redis-replica-1`..) and three Sentinels (`sentinel-0..2`, quorum 2, fast failover), the services
    # following the primary through REDIS_SENTINELS; 0: the single Redis.
    redis_replicas: int = 0
    redis_replica_ports: list[int] = field(default_factory=list)
    sentinel_ports: list[int] = field(default_factory=list)
    # METRICS_PORT of each service (/healthz, /readyz, /metrics); the ui's public port has no /metrics.
    metrics_ports: dict[str, int] = field(default_factory=lambda: dict(zip(
        SERVICES, range(9100, 9100 + len(SERVICES)), strict=True)))
    # The inside as deployed (DESIGN §11): nats-server with the generated users and per-service permissions
    # (rabota_common.nats_auth, the same auth.conf as k8s and compose), each service connecting as its own user,
    # and Redis with a password. Random passwords per stack. Tests' own clients use `Stack.nats_url`, which
    # then carries the credentials of a local-only `stack` user with every permission. On by default;
    # RABOTA_STACK_SECURE=0 starts a bare NATS and Redis.
    secure: bool = field(default_factory=lambda: os.environ.get("RABOTA_STACK_SECURE", "1") != "0")

    @classmethod
    def ephemeral(cls, data_dir: Path, nats_cluster: int = 0, redis_replicas: int = 0, **kw: Any) -> StackConfig:
        """Free ports everywhere: for tests, so that stacks never share state."""
        ports = {name: free_port() for name in ("nats_port", "redis_port", "ui_port", "hh_port", "b24_port")}
        metrics = {name: free_port() for name in SERVICES}
        nodes = [NatsNode(f"nats-{i}", free_port(), free_port(), free_port()) for i in range(nats_cluster)]
        replica_ports = [free_port() for _ in range(redis_replicas)]
        sentinel_ports = [free_port() for _ in range(SENTINELS)] if redis_replicas else []
        return cls(data_dir=data_dir, metrics_ports=metrics, nats_cluster=nats_cluster, nats_nodes=nodes,
                   redis_replicas=redis_replicas, redis_replica_ports=replica_ports, sentinel_ports=sentinel_ports,
                   **ports, **kw)  # type: ignore[arg-type]


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.group = ProcessGroup(config.data_dir / "logs")
        if config.nats_cluster and len(config.nats_nodes) != config.nats_cluster:
            raise ValueError("nats_cluster needs one NatsNode per server (StackConfig.ephemeral assigns them)")
        # Several servers: a comma-separated list, which rabota_common.bus.nats_servers splits.
        secure = config.secure and config.nats_url is None
        self.nats_passwords = {user: "p" + secrets.token_hex(16) for user in (*nats_auth.USERS, STACK_USER)} \
            if secure else {}
        self.redis_password = secrets.token_hex(16) if config.secure and config.redis_url is None else None
        self.service_nats_url = config.nats_url or (",".join(n.url for n in config.nats_nodes) if config.nats_cluster
                                                    else f"nats://127.0.0.1:{config.nats_port}")
        self.nats_url = self.service_nats_url if not secure else ",".join(
            url.replace("nats://", f"nats://{STACK_USER}:{self.nats_passwords[STACK_USER]}@", 1)
            for url in self.service_nats_url.split(","))
        self.redis_url = config.redis_url or (f"redis://:{self.redis_password}@127.0.0.1:{config.redis_port}/0"
                                              if self.redis_password else f"redis://127.0.0.1:{config.redis_port}/0")
        self.public_url = f"http://127.0.0.1:{config.ui_port}"
        self.hh_url = f"http://127.0.0.1:{config.hh_port}"
        self.b24_url = f"http://127.0.0.1:{config.b24_port}"
        self.trace_dir = config.data_dir / "traces"

    # -- environment of the product's services -------------------------------------------------
    def metrics_url(self, name: str) -> str:
        """Base URL of a service's /healthz, /readyz and /metrics."""
        return f"http://127.0.0.1:{self.config.metrics_ports[name]}"

    def nats_credentials(self, service: str | None) -> dict[str, str]:
        """NATS_USER and NATS_PASSWORD of a service's processes (nothing without `secure`); without a service,
        the operator's tools' user (python -m rabota_common.dlq)."""
        user = nats_auth.SERVICE_USERS.get(service) if service else "ops"
        if not self.nats_passwords or user is None:
            return {}
        return {"NATS_USER": user, "NATS_PASSWORD": self.nats_passwords[user]}

    def nats_server_env(self) -> dict[str, str]:
        """The passwords the generated auth.conf reads from nats-server's environment."""
        return {nats_auth.password_env(user): pw for user, pw in self.nats_passwords.items()}

    def auth_conf(self) -> str | None:
        if not self.nats_passwords:
            return None
        stack_user = (f'    {{user: "{STACK_USER}", password: ${nats_auth.password_env(STACK_USER)}}}'
                      "  # local stack only: the tests' own clients\n")
        return nats_auth.render_authorization().replace("  users: [\n", "  users: [\n" + stack_user, 1)

    def service_env(self, name: str | None = None) -> dict[str, str]:
        env = {
            "NATS_URL": self.service_nats_url,
            "NATS_STREAM_REPLICAS": str(self.config.nats_cluster or 1),
            "REDIS_URL": self.redis_url,
            "PUBLIC_URL": os.environ.get("PUBLIC_URL", self.public_url) if not self.config.sandbox else self.public_url,
            "UI_PORT": str(self.config.ui_port),
            "TRACE_DIR": str(self.trace_dir),
            "PYTHONUNBUFFERED": "1",
        }
        if self.config.sandbox:
            env.update({
                "SANDBOX": "1",
                "HH_API_URL": self.hh_url,
                "HH_AUTHORIZE_URL": f"{self.hh_url}/oauth/authorize",
                "HH_ALLOWED_HOSTS": f"127.0.0.1:{self.config.hh_port}",
                "B24_OAUTH_URL": self.b24_url,
                "B24_JS_URL": f"{self.b24_url}/api/v1/",
                # The sandbox's portals are plain http on loopback: admitted explicitly (issue 14).
                "B24_ALLOWED_HOSTS": f"127.0.0.1:{self.config.b24_port},localhost:{self.config.b24_port}",
            })
        else:
            env["SANDBOX"] = "0"
        # Every process its own port; the ui (and callers without a service) open none.
        env["METRICS_PORT"] = str(self.config.metrics_ports.get(name, 0) if name else 0)
        env.update(self.nats_credentials(name))
        if self.config.redis_replicas:
            env.update({"REDIS_SENTINELS": ",".join(f"127.0.0.1:{p}" for p in self.config.sentinel_ports),
                        "REDIS_SENTINEL_MASTER": SENTINEL_MASTER})
        env.update(self.config.extra_env)
        return env

    def sandbox_env(self) -> dict[str, str]:
        return {
            "HH_SANDBOX_PORT": str(self.config.hh_port),
            "B24_SANDBOX_PORT": str(self.config.b24_port),
            "SANDBOX_APP_URL": self.public_url,
            **{k: v for k, v in self.config.extra_env.items() if "SANDBOX" in k},
        }

    # -- lifecycle ---------------------------------------------------------------------------
    def start_infra(self) -> None:
        data = self.config.data_dir
        if self.config.nats_url is None and self.config.nats_cluster:
            self.start_nats_cluster()
        elif self.config.nats_url is None:
            (data / "nats").mkdir(parents=True, exist_ok=True)
            argv = [nats_server_binary(), "-js", "-sd", str(data / "nats"), "-a", "127.0.0.1",
                    "-p", str(self.config.nats_port)]
            if (auth := self.auth_conf()) is not None:
                (data / "nats" / "auth.conf").write_text(auth)
                argv += ["-c", str(data / "nats" / "auth.conf")]
            proc = self.group.start("nats", argv, self.nats_server_env())
            wait_port(self.config.nats_port, proc=proc)
        if self.config.redis_url is None:
            self.start_redis("redis", self.config.redis_port)
            for i, port in enumerate(self.config.redis_replica_ports, 1):
                self.start_redis(f"redis-replica-{i}", port)
            for i, port in enumerate(self.config.sentinel_ports):
                self.start_sentinel(f"sentinel-{i}", port)
            if self.config.redis_replicas:
                self.wait_sentinels_ready()

    def start_redis(self, name: str, port: int) -> None:
        """One redis-server (AOF). With Sentinels, through deploy/redis/node.sh as compose and k8s run it: the
        node follows the primary the Sentinels name (the first start: the node `redis`), and with a password
        every node also logs in to its primary with it (masterauth), so that a demoted primary can follow."""
        data = self.config.data_dir / name
        data.mkdir(parents=True, exist_ok=True)
        password = ["--requirepass", self.redis_password] if self.redis_password else []
        args = ["--bind", "127.0.0.1", "--dir", str(data), "--appendonly", "yes", "--save", "", "--daemonize", "no",
                *password]
        if not self.config.sentinel_ports:
            proc = self.group.start(name, [redis_server_binary(), "--port", str(port), *args])
        else:
            masterauth = ["--masterauth", self.redis_password] if self.redis_password else []
            proc = self.group.start(name, ["sh", str(REDIS_SCRIPTS / "node.sh"), *args, *masterauth],
                                    self.redis_node_env(name))
        wait_port(port, proc=proc)

    def redis_node_env(self, name: str) -> dict[str, str]:
        """node.sh's and sentinel.sh's environment (deploy/redis): everything on 127.0.0.1, told apart by port."""
        env = {"REDIS_MASTER_NAME": SENTINEL_MASTER, "REDIS_INITIAL_PRIMARY": "127.0.0.1",
               "REDIS_INITIAL_PRIMARY_PORT": str(self.config.redis_port),
               "REDIS_SENTINEL_HOSTS": " ".join(f"127.0.0.1:{p}" for p in self.config.sentinel_ports),
               "REDIS_SENTINEL_PASSWORD": self.redis_password or ""}
        if name.startswith("sentinel-"):
            return {**env, "SENTINEL_HOST": "127.0.0.1",
                    "SENTINEL_PORT": str(self.config.sentinel_ports[int(name.rsplit("-", 1)[1])]),
                    "SENTINEL_DIR": str(self.config.data_dir / name),
                    "SENTINEL_DOWN_AFTER_MS": str(SENTINEL_DOWN_AFTER_MS),
                    "SENTINEL_FAILOVER_TIMEOUT_MS": str(SENTINEL_FAILOVER_TIMEOUT_MS),
                    "SENTINEL_AUTH_PASSWORD": self.redis_password or ""}
        return {**env, "REDIS_NODE_HOST": "127.0.0.1", "REDIS_PORT": str(self.redis_port_of(name))}

    def start_sentinel(self, name: str, port: int) -> None:
        """A Sentinel watching the primary (quorum 2 of 3) through deploy/redis/sentinel.sh, with the data nodes'
        password as its own (the same, as compose runs it); it rewrites its own config file as it learns."""
        (self.config.data_dir / name).mkdir(parents=True, exist_ok=True)
        proc = self.group.start(name, ["sh", str(REDIS_SCRIPTS / "sentinel.sh"), "--bind", "127.0.0.1"],
                                self.redis_node_env(name))
        wait_port(port, proc=proc)

    def wait_sentinels_ready(self, timeout: float = 60.0) -> None:
        """Until every replica is in sync with the primary and every Sentinel knows the replicas and the other
        Sentinels (a failover needs a majority of them to agree)."""
        import time

        import redis

        want = {"num-slaves": self.config.redis_replicas, "num-other-sentinels": len(self.config.sentinel_ports) - 1}
        deadline = time.monotonic() + timeout
        seen: dict[str, object] = {}
        while time.monotonic() < deadline:
            try:
                with redis.Redis(port=self.config.redis_port, password=self.redis_password, socket_timeout=2.0,
                                 decode_responses=True) as primary:
                    online = sum(1 for k, v in primary.info("replication").items()
                                 if k.startswith("slave") and isinstance(v, dict) and v.get("state") == "online")
                seen = {"online": online}
                ready = online == self.config.redis_replicas
                for port in self.config.sentinel_ports:
                    with redis.Redis(port=port, password=self.redis_password, socket_timeout=2.0,
                                     decode_responses=True) as sentinel:
                        flat = sentinel.execute_command("SENTINEL", "MASTER", SENTINEL_MASTER)
                        info = dict(zip(flat[::2], flat[1::2], strict=True)) if isinstance(flat, list) else dict(flat)
                        seen[str(port)] = {k: info.get(k) for k in want}
                        ready = ready and all(int(info.get(k, -1)) >= v for k, v in want.items())
                if ready:
                    return
            except (redis.RedisError, OSError) as exc:
                seen = {"error": repr(exc)}
            time.sleep(0.2)
        raise RuntimeError(f"Redis replicas and Sentinels not ready after {timeout:.0f}s: {seen}")

    def redis_port_of(self, name: str) -> int:
        """The port of a Redis data node by process name (`redis`, `redis-replica-1`, …)."""
        if name == "redis":
            return self.config.redis_port
        return self.config.redis_replica_ports[int(name.rsplit("-", 1)[1]) - 1]

    def start_nats_cluster(self) -> None:
        """All nodes at once (JetStream needs a quorum), then wait until each has a current JetStream."""
        nodes = self.config.nats_nodes
        confs = write_confs(nodes, self.config.data_dir / "nats", self.auth_conf())
        procs = [self.group.start(node.name, [nats_server_binary(), "-c", str(conf)],
                                  {"POD_NAME": node.name, **self.nats_server_env()})
                 for node, conf in zip(nodes, confs, strict=True)]
        for node, proc in zip(nodes, procs, strict=True):
            wait_http(node.health_url, timeout=60.0, proc=proc, ok_below=300)

    def nats_node(self, name: str) -> NatsNode | None:
        return next((n for n in self.config.nats_nodes if n.name == name), None)

    def start_sandbox(self) -> None:
        proc = self.group.start("sandbox", [sys.executable, "-m", "rabota_sandbox"], self.sandbox_env())
        wait_http(f"{self.hh_url}/_sandbox/health", proc=proc)
        wait_http(f"{self.b24_url}/_sandbox/health", proc=proc)

    def start_service(self, name: str) -> None:
        proc = self.group.start(name, [sys.executable, "-m", f"rabota_{name}"], self.service_env(name))
        if name == "ui":
            wait_http(f"{self.public_url}/healthz", proc=proc)

    def start(self) -> None:
        try:
            self.start_infra()
            if self.config.sandbox:
                self.start_sandbox()
            for name in self.config.services:
                self.start_service(name)
            for name in self.config.services:  # consumers subscribed, the token broker answering
                self.wait_ready(name)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, name: str, timeout: float = 60.0) -> None:
        """Until a service's /readyz says ready (connected to NATS and Redis); no-op without its endpoint."""
        if name == "ui" or self.config.metrics_ports.get(name):
            wait_http(f"{self.metrics_url(name)}/readyz", timeout=timeout, proc=self.group.get(name).popen,
                      ok_below=300)

    def start_replica(self, service: str, name: str, metrics_port: int = 0) -> None:
        """One more process of a service (e.g. a second crm-writer), under its own name and log; with
        `metrics_port`, its own /healthz, /readyz and /metrics there (see metrics_url(name); wait_ready)."""
        env = {**self.service_env(), **self.nats_credentials(service)}
        if metrics_port:  # a ui replica serves them, and its pages, on that port
            self.config.metrics_ports[name] = metrics_port
            env["UI_PORT" if service == "ui" else "METRICS_PORT"] = str(metrics_port)
        self.group.start(name, [sys.executable, "-m", f"rabota_{service}"], env)

    def restart_service(self, name: str, hard: bool = False, down_s: float = 0.0) -> int | None:
        """Stop a process (SIGKILL when hard, else SIGTERM) and start it again with the same command:
        a service, a replica, the sandbox, Redis/NATS or one node of a NATS cluster (nats-0..2; their data
        directories survive). Returns the exit code of the stopped process."""
        import time

        argv, code = self.stop_process(name, hard)
        time.sleep(down_s)
        self.start_again(name, argv)
        return code

    def stop_process(self, name: str, hard: bool = False) -> tuple[list[str], int | None]:
        """Stop one process (SIGKILL when hard); returns its command (for start_again) and exit code."""
        import signal

        proc = self.group.get(name)
        argv = [str(a) for a in proc.popen.args]  # type: ignore[union-attr]
        code = self.group.stop_one(proc, sig=signal.SIGKILL if hard else signal.SIGTERM)
        self.group.procs.remove(proc)
        return argv, code

    def start_again(self, name: str, argv: list[str]) -> None:
        """Start a process stopped by stop_process with the same command, as a supervisor would."""
        node = self.nats_node(name)
        module = next((a for a in argv if a.startswith("rabota_")), "").removeprefix("rabota_")
        redis_node = name == "redis" or name.startswith(("redis-replica-", "sentinel-"))
        infra_env = self.redis_node_env(name) if redis_node and self.config.sentinel_ports else None
        env = {"nats": self.nats_server_env(), "sandbox": self.sandbox_env()}.get(
            name, infra_env if redis_node else {"POD_NAME": name, **self.nats_server_env()} if node
            else {**self.service_env(), **self.nats_credentials(module)})
        popen = self.group.start(name, argv, env)
        if node is not None:
            wait_port(node.client_port, proc=popen)
        elif name == "redis" or name.startswith("redis-replica-"):
            wait_port(self.redis_port_of(name), proc=popen)
        elif name.startswith("sentinel-"):
            wait_port(self.config.sentinel_ports[int(name.rsplit("-", 1)[1])], proc=popen)
        elif name == "nats":
            wait_port(self.config.nats_port, proc=popen)
        elif name == "ui":
            wait_http(f"{self.public_url}/healthz", proc=popen)

    def stop(self) -> None:
        self.group.stop_all()
