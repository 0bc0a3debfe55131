"""The single-host compose file (deploy/compose): compose-spec schema and the shape the operations guide relies on."""

from __future__ import annotations

import importlib.resources
import json

import jsonschema
import yaml

from tests.deploy.files import COMPOSE_DIR, compose, python_module

BUS_SERVICES = {"auth": "rabota_auth", "poller": "rabota_poller", "mapper": "rabota_mapper",
                "crm-writer": "rabota_crm_writer"}


def test_compose_matches_the_compose_spec_schema():
    # check-jsonschema vendors the compose-spec schema, so this runs offline.
    schema_file = importlib.resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    jsonschema.validators.validator_for(schema)(schema).validate(compose())


def test_every_service_runs_its_module_from_the_one_image_with_a_healthcheck():
    services = compose()["services"]
    images = {services[name]["image"] for name in (*BUS_SERVICES, "ui")}
    assert images == {"${RABOTA_IMAGE:-rabota-sync:local}"}
    # Issue 16 item 10: the product's image holds no emulator; the sandbox profile builds the Dockerfile's
    # `sandbox` target as an image of its own.
    assert services["sandbox"]["image"] == "${RABOTA_SANDBOX_IMAGE:-rabota-sync-sandbox:local}"
    for name, module in {**BUS_SERVICES, "ui": "rabota_ui", "sandbox": "rabota_sandbox"}.items():
        svc = services[name]
        assert python_module(svc["command"]) == module
        target = {"target": "sandbox"} if name == "sandbox" else {}
        assert svc["build"] == {"context": "../..", "dockerfile": "deploy/docker/Dockerfile", **target}
        assert "healthcheck" in svc, name
    for name in BUS_SERVICES:
        assert "http://127.0.0.1:9100/readyz" in " ".join(services[name]["healthcheck"]["test"])
        assert services[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        assert {"nats", "redis"} <= services[name]["depends_on"].keys()
    assert "http://127.0.0.1:8000/readyz" in " ".join(services["ui"]["healthcheck"]["test"])
    assert services["ui"]["ports"] == ["${UI_PUBLISH:-8000}:8000"]
    assert services["sandbox"]["profiles"] == ["sandbox"]


def test_nats_keeps_jetstream_and_redis_keeps_aof_on_volumes():
    doc = compose()
    nats, redis = doc["services"]["nats"], doc["services"]["redis"]
    assert nats["command"] == ["--config", "/etc/nats/nats.conf"] and "nats-data:/data" in nats["volumes"]
    conf = (COMPOSE_DIR.parent / "nats" / "compose.conf").read_text()
    assert "jetstream {" in conf and "store_dir: /data" in conf
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert "redis-data:/data" in redis["volumes"]
    assert {"nats-data", "redis-data"} <= doc["volumes"].keys()


def test_traces_go_through_the_collector_to_jaeger():
    doc = compose()
    assert "jaeger" in doc["services"] and "otel-collector" in doc["services"]
    collector = yaml.safe_load((COMPOSE_DIR / "otel-collector.yaml").read_text())
    assert collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    assert collector["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger:4317"
    assert collector["service"]["pipelines"]["traces"]["exporters"] == ["otlp/jaeger"]


def test_prometheus_scrapes_every_service():
    prometheus = yaml.safe_load((COMPOSE_DIR / "prometheus.yaml").read_text())
    targets = {t for job in prometheus["scrape_configs"] for cfg in job["static_configs"] for t in cfg["targets"]}
    # /metrics is not on the ui's public port (issue 14): the ui serves it on METRICS_PORT like the others.
    assert targets == {"ui:9100", *(f"{name}:9100" for name in BUS_SERVICES)}


def test_non_public_ports_are_published_on_loopback_only():
    services = compose()["services"]
    for name in ("jaeger", "prometheus", "sandbox"):
        for port in services[name].get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_nats_has_the_generated_users_and_every_service_its_own_and_redis_a_password():
    from rabota_common import nats_auth

    doc = compose()
    nats = doc["services"]["nats"]
    assert "../nats/auth.conf:/etc/nats/auth.conf:ro" in nats["volumes"]
    assert "include ./auth.conf" in (COMPOSE_DIR.parent / "nats" / "compose.conf").read_text()
    assert (COMPOSE_DIR.parent / "nats" / "auth.conf").read_text() == nats_auth.render_authorization()
    for name in ("ui", "auth", "poller", "mapper", "crm-writer"):
        env = doc["services"][name]["environment"]
        assert env["NATS_USER"] == name
        assert env["NATS_PASSWORD"].startswith("${" + nats_auth.password_env(name) + ":?")
        assert "${REDIS_PASSWORD" in env["REDIS_URL"]
    assert "--requirepass" in doc["services"]["redis"]["command"]


def test_redis_has_a_replica_and_three_sentinels_the_services_follow():
    """Issue 15: `redis` and `redis-replica` start through deploy/redis/node.sh, three Sentinels through
    sentinel.sh, each on its own volume; every service asks those Sentinels."""
    doc = compose()
    services = doc["services"]
    for name in ("redis", "redis-replica"):
        assert services[name]["entrypoint"] == ["sh", "/opt/rabota-redis/node.sh"], name
        assert "--requirepass" in services[name]["command"] and "--masterauth" in services[name]["command"]
        assert "../redis:/opt/rabota-redis:ro" in services[name]["volumes"]
    sentinels = [f"sentinel-{i}" for i in range(3)]
    for name in sentinels:
        assert services[name]["entrypoint"] == ["sh", "/opt/rabota-redis/sentinel.sh"], name
        assert services[name]["environment"]["SENTINEL_HOST"] == name
        assert f"{name}-data:/data" in services[name]["volumes"] and f"{name}-data" in doc["volumes"]
    for name in (*BUS_SERVICES, "ui"):
        env = services[name]["environment"]
        assert env["REDIS_SENTINELS"].split(",") == [f"{s}:26379" for s in sentinels], name
        assert env["REDIS_SENTINEL_MASTER"] == "rabota"
        assert set(sentinels) <= services[name]["depends_on"].keys()
