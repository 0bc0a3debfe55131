"""The NATS configuration of deploy/k8s runs: three local servers from it form a JetStream cluster on which
the services' layout (ensure_jetstream with NATS_STREAM_REPLICAS=3) creates R3 streams and object store."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from rabota_common import nats_auth, subjects
from rabota_common.bus import ensure_jetstream, nats_servers
from rabota_common.settings import Settings
from rabota_stack.nats_cluster import NatsNode, k8s_auth_conf, k8s_nats_conf, write_confs
from rabota_stack.processes import ProcessGroup, free_port, nats_server_binary, wait_port

NODES = 3
ROOT = Path(__file__).resolve().parents[2]


def test_k8s_nats_config_passes_nats_server_check(tmp_path: Path):
    """With its auth.conf beside it, the users' passwords in the environment and a certificate where the nats-tls
    Secret is mounted (a throwaway self-signed one here)."""
    tls = tmp_path / "tls"
    tls.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=nats", "-keyout", str(tls / "tls.key"),
                    "-out", str(tls / "tls.crt")], check=True, capture_output=True, timeout=30)
    (tls / "ca.crt").write_bytes((tls / "tls.crt").read_bytes())
    path = tmp_path / "nats.conf"
    path.write_text(k8s_nats_conf().replace("/etc/nats-tls/", f"{tls}/"))
    (tmp_path / "auth.conf").write_text(k8s_auth_conf())
    env = {"POD_NAME": "nats-0", **{nats_auth.password_env(user): "p0secret" for user in nats_auth.USERS}}
    result = subprocess.run([nats_server_binary(), "-t", "-c", str(path)], env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_k8s_nats_config_is_the_generated_one_with_tls_and_no_anonymous_access():
    conf = k8s_nats_conf()
    assert "include ./auth.conf" in conf
    assert conf.count("tls {") == 2 and "verify: true" in conf, "clients and routes over TLS"
    auth = k8s_auth_conf()
    assert auth == nats_auth.render_authorization(), "regenerate: python -m rabota_common.nats_auth"
    assert (ROOT / "deploy" / "nats" / "auth.conf").read_text() == auth
    assert "no_auth_user" not in conf + auth
    users = set(re.findall(r'user: "([a-z-]+)", password: \$(NATS_PASSWORD_[A-Z_]+), permissions', auth))
    assert users == {(u, nats_auth.password_env(u)) for u in nats_auth.USERS}, "every user has permissions"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    """The k8s config with pod DNS names turned into local ports, one server per StatefulSet pod."""
    nodes = [NatsNode(f"nats-{i}", free_port(), free_port(), free_port()) for i in range(NODES)]
    group = ProcessGroup(tmp_path / "logs")
    for node, conf in zip(nodes, write_confs(nodes, tmp_path), strict=True):
        group.start(node.name, [nats_server_binary(), "-c", str(conf)], {"POD_NAME": node.name})
    for node in nodes:
        wait_port(node.client_port)
    yield nodes[0].url
    group.stop_all()


async def test_streams_and_object_store_are_r3_on_the_cluster(cluster: str):
    replicas = NODES  # NATS_STREAM_REPLICAS of deploy/k8s/config.yaml
    deadline = asyncio.get_running_loop().time() + 30
    while True:  # until the cluster has elected its JetStream meta leader
        try:
            await ensure_jetstream(cluster, replicas=replicas)
            break
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)
    await ensure_jetstream(cluster, replicas=replicas)  # every replica of every service runs it at start
    nc = await nats.connect(cluster)
    try:
        js = nc.jetstream()
        for spec in subjects.STREAMS:
            info = await js.stream_info(spec.name)
            assert info.config.num_replicas == NODES, spec.name
            assert info.cluster is not None and len(info.cluster.replicas or []) == NODES - 1, spec.name
        bucket = await js.stream_info(f"OBJ_{subjects.RESUMES_BUCKET}")
        assert bucket.config.num_replicas == NODES
    finally:
        await nc.close()


def test_replicas_default_to_one_for_a_single_server(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("NATS_STREAM_REPLICAS", raising=False)
    monkeypatch.setenv("SANDBOX", "1")
    assert Settings().NATS_STREAM_REPLICAS == 1
    monkeypatch.setenv("NATS_STREAM_REPLICAS", "3")
    assert Settings().NATS_STREAM_REPLICAS == 3


def test_nats_url_may_list_the_cluster_nodes():
    assert nats_servers("nats://127.0.0.1:4222") == ["nats://127.0.0.1:4222"]
    assert nats_servers("nats://nats-0:4222, nats://nats-1:4222,nats://nats-2:4222,") == [
        "nats://nats-0:4222", "nats://nats-1:4222", "nats://nats-2:4222"]
