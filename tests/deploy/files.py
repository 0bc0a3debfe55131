"""Paths and loaders shared by the deploy checks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
LOCK = DEPLOY / "docker" / "requirements.lock"
COMPOSE_DIR = DEPLOY / "compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"
K8S = DEPLOY / "k8s"
ENV_EXAMPLES = (COMPOSE_DIR / ".env.example", COMPOSE_DIR / "sandbox.env.example")
SERVICE_MODULES = ("rabota_ui", "rabota_auth", "rabota_poller", "rabota_mapper", "rabota_crm_writer")


def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*.y*ml") if p.suffix in {".yaml", ".yml"})


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return doc


def k8s_docs(include_template: bool = True) -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml" or (path.name.endswith(".template.yaml") and not include_template):
            continue
        docs.extend((path, doc) for doc in load_all(path))
    return docs


def env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def python_module(command: list[str]) -> str | None:
    """`rabota_ui` of ["python", "-m", "rabota_ui"]."""
    if len(command) >= 3 and command[0] == "python" and command[1] == "-m":
        return command[2]
    return None


ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
