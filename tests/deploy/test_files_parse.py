"""Every YAML and env file under deploy/ parses."""

from __future__ import annotations

import pytest

from tests.deploy.files import DEPLOY, ENV_EXAMPLES, ENV_NAME, env_file, load_all, yaml_files


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_parses(path):
    docs = load_all(path)
    assert docs and all(isinstance(doc, dict) for doc in docs)


def test_every_deploy_yaml_is_checked():
    names = {str(p.relative_to(DEPLOY)) for p in yaml_files()}
    assert {"compose/compose.yaml", "compose/otel-collector.yaml", "compose/prometheus.yaml",
            "k8s/kustomization.yaml", "k8s/nats.yaml", "k8s/services.yaml"} <= names


@pytest.mark.parametrize("path", ENV_EXAMPLES, ids=lambda p: p.name)
def test_env_example_is_plain_name_value_lines(path):
    pairs = env_file(path)
    assert pairs
    for name, value in pairs.items():
        assert ENV_NAME.match(name), name
        assert not value.startswith(("'", '"')), f"{name}: compose and kubectl keep quotes literally"
