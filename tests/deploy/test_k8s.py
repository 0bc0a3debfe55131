"""Kubernetes manifests (deploy/k8s): offline schema validation and the properties the deployment relies on."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest
import yaml

from tests.deploy.files import K8S, k8s_docs, python_module

# The oldest Kubernetes still served by the big clouds; strict = no unknown fields anywhere.
K8S_VERSION = "1.30.0"


def _by_kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in k8s_docs() if doc["kind"] == kind}


def _containers(workload: dict) -> list[dict]:
    return workload["spec"]["template"]["spec"]["containers"]


def _doc_id(path_doc: tuple) -> str:
    path, doc = path_doc
    return f"{path.name}:{doc['kind']}/{doc['metadata']['name']}"


@pytest.mark.parametrize("path_doc", k8s_docs(), ids=_doc_id)
def test_manifest_matches_the_kubernetes_schema(path_doc):
    _, doc = path_doc
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_template():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk - {"secret.template.yaml"}
    assert kustomization["namespace"] == "rabota"
    assert {i["name"] for i in kustomization["images"]} == {"rabota-sync"}


def test_nats_is_a_three_node_jetstream_cluster_on_volumes():
    sts = _by_kind("StatefulSet")["nats"]
    assert sts["spec"]["replicas"] == 3
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    conf = _by_kind("ConfigMap")["nats-config"]["data"]["nats.conf"]
    assert "jetstream" in conf and "store_dir: /data" in conf
    routes = set(re.findall(r"nats://(nats-\d)\.nats:6222", conf))
    assert routes == {f"nats-{i}" for i in range(3)}, "one cluster route per StatefulSet pod"
    headless = _by_kind("Service")["nats"]
    assert headless["spec"]["clusterIP"] == "None" and sts["spec"]["serviceName"] == "nats"
    nats = _containers(sts)[0]
    assert {"readinessProbe", "livenessProbe", "resources"} <= nats.keys()


def test_streams_are_created_r3():
    config = _by_kind("ConfigMap")["rabota-config"]["data"]
    assert config["NATS_STREAM_REPLICAS"] == "3"


def test_redis_persists_with_aof():
    sts = _by_kind("StatefulSet")["redis"]
    args = _containers(sts)[0]["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert sts["spec"]["volumeClaimTemplates"]


def test_services_scale_with_probes_limits_and_scrape_annotations():
    deployments = {name: d for name, d in _by_kind("Deployment").items()
                   if d["metadata"]["labels"].get("app.kubernetes.io/name") == "rabota-sync"}
    assert set(deployments) == {"ui", "auth", "poller", "mapper", "crm-writer"}
    for name, dep in deployments.items():
        assert dep["spec"]["replicas"] >= 2, name
        pod = dep["spec"]["template"]
        (container,) = _containers(dep)
        assert python_module(container["command"]) == "rabota_" + name.replace("-", "_")
        port = container["ports"][0]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}, name
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}, name
        assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
        # Prometheus scrapes METRICS_PORT (9100) everywhere: the ui's public port has no /metrics (issue 14).
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == "9100"
        assert 9100 in {p["containerPort"] for p in container["ports"]}, name
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
        assert refs == {"rabota-config", "rabota-secrets"}
        expected_port = 8000 if name == "ui" else 9100
        assert port["containerPort"] == expected_port


def test_ui_is_published_through_service_and_ingress():
    service = _by_kind("Service")["ui"]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "ui"
    backend = _by_kind("Ingress")["ui"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "ui" and backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def test_secret_template_holds_the_secret_settings_only():
    secret = _by_kind("Secret")["rabota-secrets"]
    assert set(secret["stringData"]) == {"APP_SECRET_KEY", "HH_CLIENT_ID", "HH_CLIENT_SECRET", "B24_CLIENT_ID",
                                         "B24_CLIENT_SECRET"}
    assert set(secret["stringData"].values()) == {"change-me"}
    for name in ("rabota-nats", "rabota-redis"):  # the inside's passwords: placeholders only
        assert all("change-me" in v for v in _by_kind("Secret")[name]["stringData"].values()), name
    config = _by_kind("ConfigMap")["rabota-config"]["data"]
    assert not {k for k in config if "SECRET" in k or k.endswith("_KEY")}, "secrets belong in rabota-secrets"


def test_every_service_connects_as_its_own_nats_user_over_tls_and_to_redis_with_a_password():
    from rabota_common import nats_auth

    config = _by_kind("ConfigMap")["rabota-config"]["data"]
    assert config["NATS_URL"].startswith("tls://") and config["NATS_TLS_CA"]
    assert "REDIS_URL" not in config, "REDIS_URL carries the ACL password: it lives in rabota-redis"
    for name, dep in _by_kind("Deployment").items():
        if dep["metadata"]["labels"].get("app.kubernetes.io/name") != "rabota-sync":
            continue
        (container,) = _containers(dep)
        env = {e["name"]: e for e in container["env"]}
        assert env["NATS_USER"]["value"] == name and name in nats_auth.USERS
        assert env["NATS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "rabota-nats", "key": nats_auth.password_env(name)}
        assert env["REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "rabota-redis", "key": "REDIS_URL"}
    nats_env = _containers(_by_kind("StatefulSet")["nats"])[0]["envFrom"]
    assert {"secretRef": {"name": "rabota-nats"}} in nats_env
    secret = _by_kind("Secret")["rabota-nats"]
    assert set(secret["stringData"]) == {nats_auth.password_env(u) for u in nats_auth.USERS}


def test_redis_has_no_anonymous_user():
    args = _containers(_by_kind("StatefulSet")["redis"])[0]["args"]
    assert args[args.index("--user") + 1: args.index("--user") + 3] == ["default", "off"]
    assert ">$(REDIS_PASSWORD)" in args


def test_the_namespace_denies_by_default_and_allows_only_named_flows():
    policies = _by_kind("NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    for name, policy in policies.items():
        for rule in policy["spec"].get("ingress", []) + policy["spec"].get("egress", []):
            assert rule.get("ports"), f"{name}: every allowed flow names its ports"
            assert rule.get("from", rule.get("to")), f"{name}: every allowed flow names its peers"
    # Redis: the services, and (since the replicas and Sentinels, issue 15) the data nodes and the Sentinels.
    assert policies["redis"]["spec"]["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": name}}}
        for name in ("rabota-sync", "redis", "redis-sentinel")]
    assert policies["redis-sentinel"]["spec"]["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": name}}}
        for name in ("rabota-sync", "redis", "redis-sentinel")]


def test_redis_has_two_replicas_and_three_sentinels_the_services_follow():
    """Issue 15: a primary and two replicas, three Sentinels; the services ask the Sentinels (every one of them
    by its stable name) as the Sentinels' restricted user `rabota` (REDIS_URL's user and password) and never get
    the internal or the Sentinels' own password; the start scripts are deploy/redis's."""
    from tests.deploy.files import DEPLOY

    redis, sentinel = _by_kind("StatefulSet")["redis"], _by_kind("StatefulSet")["redis-sentinel"]
    assert redis["spec"]["replicas"] == 3 and sentinel["spec"]["replicas"] == 3
    assert _by_kind("Service")["redis"]["spec"]["clusterIP"] == "None"
    assert _by_kind("Service")["redis-sentinel"]["spec"]["clusterIP"] == "None"
    scripts = _by_kind("ConfigMap")["redis-scripts"]["data"]
    for name in ("node.sh", "sentinel.sh"):
        assert scripts[name] == (DEPLOY / "redis" / name).read_text(encoding="utf-8"), f"{name} differs"
    assert _containers(redis)[0]["command"] == ["sh", "/opt/rabota-redis/node.sh"]
    assert _containers(sentinel)[0]["command"] == ["sh", "/opt/rabota-redis/sentinel.sh"]
    config = _by_kind("ConfigMap")["rabota-config"]["data"]
    assert config["REDIS_SENTINELS"].split(",") == [
        f"redis-sentinel-{i}.redis-sentinel:26379" for i in range(3)]
    assert config["REDIS_SENTINEL_MASTER"] == "rabota"
    for name, dep in _by_kind("Deployment").items():
        if dep["metadata"]["labels"].get("app.kubernetes.io/name") != "rabota-sync":
            continue
        env = {e["name"]: e for e in _containers(dep)[0]["env"]}
        assert not {"REDIS_INTERNAL_PASSWORD", "REDIS_SENTINEL_PASSWORD"} & env.keys(), name
    sentinel_env = {e["name"]: e for e in _containers(sentinel)[0]["env"]}
    assert sentinel_env["SENTINEL_CLIENT_USER"]["value"] == "rabota"
    assert sentinel_env["SENTINEL_CLIENT_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "rabota-redis", "key": "REDIS_PASSWORD"}
    args = _containers(redis)[0]["args"]
    users = [args[i + 1] for i, a in enumerate(args) if a == "--user"]
    assert users == ["default", "rabota", "replication", "sentinel"]
    assert args[args.index("--masteruser") + 1] == "replication"
    secret = _by_kind("Secret")["rabota-redis"]["stringData"]
    assert {"REDIS_PASSWORD", "REDIS_URL", "REDIS_INTERNAL_PASSWORD", "REDIS_SENTINEL_PASSWORD"} == set(secret)
