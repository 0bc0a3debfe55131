"""A local NATS JetStream cluster that runs the production configuration (deploy/k8s/nats.yaml): one
nats-server per StatefulSet pod, the pods' DNS names and fixed ports turned into free local ports."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

K8S_NATS = Path(__file__).resolve().parents[2] / "k8s" / "nats.yaml"
AUTH_FILE = "auth.conf"
AUTH_INCLUDE = "include ./auth.conf"
_TLS_BLOCK = re.compile(r"\n[ \t]*tls \{[^}]*\}")


def k8s_nats_conf() -> str:
    """The nats.conf of the k8s ConfigMap (it reads POD_NAME from the environment as its server name)."""
    docs = [d for d in yaml.safe_load_all(K8S_NATS.read_text(encoding="utf-8")) if d]
    config_map = next(d for d in docs if d["kind"] == "ConfigMap")
    conf: str = config_map["data"]["nats.conf"]
    return conf


@dataclass(frozen=True)
class NatsNode:
    name: str  # nats-0, nats-1, ...: the process name in the stack and the server name in the cluster
    client_port: int
    route_port: int
    http_port: int

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    @property
    def health_url(self) -> str:
        """200 once this node's JetStream is current (a meta leader elected, its streams caught up)."""
        return f"http://127.0.0.1:{self.http_port}/healthz"


def k8s_auth_conf() -> str:
    """The auth.conf of the k8s ConfigMap: the generated users and permissions (rabota_common.nats_auth)."""
    docs = [d for d in yaml.safe_load_all(K8S_NATS.read_text(encoding="utf-8")) if d]
    config_map = next(d for d in docs if d["kind"] == "ConfigMap")
    conf: str = config_map["data"]["auth.conf"]
    return conf


def local_conf(nodes: list[NatsNode], index: int, work_dir: Path, auth: str | None = None) -> str:
    """The k8s config for node `index`, listening on loopback ports, its store under `work_dir`. Without the
    k8s TLS blocks (no certificates here); the users and permissions of `auth` (an authorization block), or
    none without it."""
    node = nodes[index]
    conf = _TLS_BLOCK.sub("", k8s_nats_conf())
    conf = conf.replace(AUTH_INCLUDE, f"include ./{AUTH_FILE}" if auth is not None else "")
    conf = conf.replace("listen: 0.0.0.0:4222", f"listen: 127.0.0.1:{node.client_port}")
    conf = conf.replace("http: 0.0.0.0:8222", f"http: 127.0.0.1:{node.http_port}")
    conf = conf.replace("listen: 0.0.0.0:6222", f"listen: 127.0.0.1:{node.route_port}")
    conf = conf.replace("/var/run/nats/nats.pid", str(work_dir / f"{node.name}.pid"))
    conf = conf.replace("store_dir: /data", f"store_dir: {work_dir / f'data-{node.name}'}")
    return re.sub(r"nats://nats-(\d)\.nats:6222", lambda m: f"nats://127.0.0.1:{nodes[int(m[1])].route_port}", conf)


def write_confs(nodes: list[NatsNode], work_dir: Path, auth: str | None = None) -> list[Path]:
    work_dir.mkdir(parents=True, exist_ok=True)
    if auth is not None:
        (work_dir / AUTH_FILE).write_text(auth)
    paths = []
    for i, node in enumerate(nodes):
        path = work_dir / f"{node.name}.conf"
        path.write_text(local_conf(nodes, i, work_dir, auth))
        paths.append(path)
    return paths
