"""The local stack: NATS (JetStream), Redis (AOF), the sandbox emulators and the five services."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rabota_stack.processes import (
    METRICS_SERVICES,
    SERVICES,
    ProcessGroup,
    free_port,
    nats_server_binary,
    redis_server_binary,
    wait_http,
    wait_port,
)


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
    # METRICS_PORT of each non-ui service (/healthz, /readyz, /metrics); the ui serves them on ui_port.
    metrics_ports: dict[str, int] = field(default_factory=lambda: dict(zip(
        METRICS_SERVICES, range(9101, 9101 + len(METRICS_SERVICES)), strict=True)))

    @classmethod
    def ephemeral(cls, data_dir: Path, **kw: object) -> StackConfig:
        """Free ports everywhere: for tests, so that stacks never share state."""
        ports = {name: free_port() for name in ("nats_port", "redis_port", "ui_port", "hh_port", "b24_port")}
        metrics = {name: free_port() for name in METRICS_SERVICES}
        return cls(data_dir=data_dir, **ports, metrics_ports=metrics, **kw)  # type: ignore[arg-type]


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.group = ProcessGroup(config.data_dir / "logs")
        self.nats_url = config.nats_url or f"nats://127.0.0.1:{config.nats_port}"
        self.redis_url = config.redis_url or f"redis://127.0.0.1:{config.redis_port}/0"
        self.public_url = f"http://127.0.0.1:{config.ui_port}"
        self.hh_url = f"http://127.0.0.1:{config.hh_port}"
        self.b24_url = f"http://127.0.0.1:{config.b24_port}"
        self.trace_dir = config.data_dir / "traces"

    # -- environment of the product's services -------------------------------------------------
    def metrics_url(self, name: str) -> str:
        """Base URL of a service's /healthz, /readyz and /metrics."""
        return self.public_url if name == "ui" else f"http://127.0.0.1:{self.config.metrics_ports[name]}"

    def service_env(self, name: str | None = None) -> dict[str, str]:
        env = {
            "NATS_URL": self.nats_url,
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
                "B24_OAUTH_URL": self.b24_url,
                "B24_JS_URL": f"{self.b24_url}/api/v1/",
            })
        else:
            env["SANDBOX"] = "0"
        # Every process its own port; the ui (and callers without a service) open none.
        env["METRICS_PORT"] = str(self.config.metrics_ports.get(name, 0) if name else 0)
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
        if self.config.nats_url is None:
            (data / "nats").mkdir(parents=True, exist_ok=True)
            proc = self.group.start("nats", [nats_server_binary(), "-js", "-sd", str(data / "nats"),
                                             "-a", "127.0.0.1", "-p", str(self.config.nats_port)])
            wait_port(self.config.nats_port, proc=proc)
        if self.config.redis_url is None:
            (data / "redis").mkdir(parents=True, exist_ok=True)
            proc = self.group.start("redis", [redis_server_binary(), "--port", str(self.config.redis_port),
                                              "--bind", "127.0.0.1", "--dir", str(data / "redis"),
                                              "--appendonly", "yes", "--save", "", "--daemonize", "no"])
            wait_port(self.config.redis_port, proc=proc)

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
        except BaseException:
            self.stop()
            raise

    def start_replica(self, service: str, name: str) -> None:
        """One more process of a service (e.g. a second crm-writer), under its own name and log."""
        self.group.start(name, [sys.executable, "-m", f"rabota_{service}"], self.service_env())

    def restart_service(self, name: str, hard: bool = False, down_s: float = 0.0) -> int | None:
        """Stop a process (SIGKILL when hard, else SIGTERM) and start it again with the same command:
        a service, a replica, the sandbox, or Redis/NATS (their data directories survive). Returns the exit
        code of the stopped process."""
        import signal
        import time

        proc = self.group.get(name)
        argv = [str(a) for a in proc.popen.args]  # type: ignore[union-attr]
        code = self.group.stop_one(proc, sig=signal.SIGKILL if hard else signal.SIGTERM)
        self.group.procs.remove(proc)
        time.sleep(down_s)
        env = {"nats": None, "redis": None, "sandbox": self.sandbox_env()}.get(name, self.service_env())
        popen = self.group.start(name, argv, env)
        if name == "redis":
            wait_port(self.config.redis_port, proc=popen)
        elif name == "nats":
            wait_port(self.config.nats_port, proc=popen)
        elif name == "ui":
            wait_http(f"{self.public_url}/healthz", proc=popen)
        return code

    def stop(self) -> None:
        self.group.stop_all()
