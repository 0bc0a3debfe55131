"""What the deployment files name must exist: service modules, settings, locked dependencies."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import secrets
import tomllib

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pydantic import ValidationError
from rabota_common.settings import Settings

from tests.deploy.files import (
    COMPOSE,
    ENV_EXAMPLES,
    LOCK,
    ROOT,
    compose,
    env_file,
    k8s_docs,
    python_module,
)

# Read straight from os.environ by programs other than the product's services.
SANDBOX_ONLY = ("rabota_sandbox",)
# Served by the metrics/health endpoints of issue #9; a Settings field once that work is merged.
PENDING = {"METRICS_PORT"}


def _commands() -> list[list[str]]:
    services = compose()["services"].values()
    commands = [svc["command"] for svc in services if "command" in svc]
    for _, doc in k8s_docs():
        if doc["kind"] in {"Deployment", "StatefulSet"}:
            commands += [c["command"] for c in doc["spec"]["template"]["spec"]["containers"] if "command" in c]
    return commands


def _service_env() -> dict[str, set[str]]:
    """Environment names given to the product's services, by where they are set."""
    found: dict[str, set[str]] = {}
    for name, svc in compose()["services"].items():
        module = python_module(svc.get("command", []))
        if module and module not in SANDBOX_ONLY:
            for var in svc.get("environment", {}):
                found.setdefault(var, set()).add(f"compose:{name}")
    interpolated = set(re.findall(r"\$\{([A-Z_]+)", COMPOSE.read_text(encoding="utf-8")))
    for path in ENV_EXAMPLES:
        for var in env_file(path):
            # compose's own variables (passwords it passes on) and nats-server's (NATS_PASSWORD_<USER>, read by
            # deploy/nats/auth.conf) are no settings
            if var not in interpolated and not var.startswith("NATS_PASSWORD_"):
                found.setdefault(var, set()).add(path.name)
    for path, doc in k8s_docs():
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "rabota-config":
            keys = doc["data"]
        elif doc["kind"] == "Secret" and doc["metadata"]["name"] == "rabota-secrets":
            keys = doc["stringData"]  # envFrom of every service; rabota-nats/rabota-redis only by secretKeyRef
        elif doc["kind"] == "Deployment" and doc["metadata"]["labels"].get("app.kubernetes.io/name") == "rabota-sync":
            keys = {e["name"]: e for c in doc["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
        else:
            continue
        for var in keys:
            found.setdefault(var, set()).add(f"k8s:{path.name}")
    return found


def test_every_module_named_in_a_command_exists():
    modules = {python_module(c) for c in _commands()} - {None}
    assert {"rabota_ui", "rabota_auth", "rabota_poller", "rabota_mapper", "rabota_crm_writer"} <= modules
    for module in modules:
        assert importlib.util.find_spec(f"{module}.__main__") is not None, module


def test_every_service_variable_is_a_setting_or_standard_otel():
    unknown = {var: where for var, where in _service_env().items()
               if var not in Settings.model_fields and not var.startswith("OTEL_") and var not in PENDING}
    assert not unknown, f"not fields of Settings: {unknown}"


def test_pending_variables_are_settings_once_merged():
    missing = PENDING - set(Settings.model_fields)
    if missing:
        pytest.xfail(f"{sorted(missing)}: arrive with the metrics endpoints of issue #9")


def test_sandbox_variables_are_read_by_the_sandbox():
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "deploy/sandbox").rglob("*.py"))
    sandbox = compose()["services"]["sandbox"]
    for var in sandbox["environment"]:
        assert f'"{var}"' in source, var


def test_env_examples_parse_as_settings():
    """The sandbox example parses as it is; the production template parses once its key is filled in, and its
    placeholder key is refused (issue 14: a template key must never start a service outside the sandbox)."""
    for path in ENV_EXAMPLES:
        values = {k: v for k, v in env_file(path).items() if k in Settings.model_fields}
        if values.get("SANDBOX") == "1":
            Settings(**values)
            continue
        with pytest.raises(ValidationError, match="APP_SECRET_KEY is refused"):
            Settings(**values)
        Settings(**{**values, "APP_SECRET_KEY": secrets.token_urlsafe(48)})


def _lock() -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", LOCK.read_text(encoding="utf-8"), flags=re.M)
    return {canonicalize_name(name): version for name, version in pins}


def _runtime_requirements() -> list[Requirement]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [Requirement(r) for r in pyproject["project"]["dependencies"]]


def test_lock_pins_every_dependency_with_hashes():
    text = LOCK.read_text(encoding="utf-8")
    locked = _lock()
    assert text.count("==") == len(locked) and text.count("--hash=sha256:") >= len(locked)
    env = {**default_environment(), "python_version": "3.11", "sys_platform": "linux", "platform_system": "Linux"}
    todo = _runtime_requirements()
    seen: set[str] = set()
    while todo:  # the declared dependencies, their extras, and everything they need in turn
        req = todo.pop()
        name = canonicalize_name(req.name)
        assert name in locked, f"{req} is not in {LOCK.name}: run bash deploy/docker/lock.sh"
        assert req.specifier.contains(locked[name], prereleases=True), f"{req} but the lock pins {locked[name]}"
        key = f"{name}[{','.join(sorted(req.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        for sub in importlib.metadata.requires(req.name) or []:
            dep = Requirement(sub)
            extras = req.extras or {""}
            if dep.marker is None or any(dep.marker.evaluate({**env, "extra": extra}) for extra in extras):
                todo.append(dep)
