"""Lint of the one container image (deploy/docker/Dockerfile): it cannot be built here, so check it closely."""

from __future__ import annotations

import fnmatch
import re
import tomllib

from dockerfile_parse import DockerfileParser

from tests.deploy.files import DOCKERFILE, ROOT

SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "APP_SECRET_KEY", "PRIVATE")


def _parser() -> DockerfileParser:
    parser = DockerfileParser(fileobj=DOCKERFILE.open("rb"))
    return parser


def _stages() -> list[list[dict]]:
    stages: list[list[dict]] = []
    for instruction in _parser().structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _values(stage: list[dict], name: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == name]


def test_multi_stage_on_a_pinned_python_311_slim_base():
    parser = _parser()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", parser.content, flags=re.M)
    assert base, "the base image is one ARG shared by the stages"
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base.group(1)), base.group(1)
    stages = _stages()
    assert len(stages) >= 2
    assert all(_values(s, "FROM")[0].startswith("${PYTHON_IMAGE}") for s in stages)


def test_runs_as_an_unprivileged_user():
    final = _stages()[-1]
    users = _values(final, "USER")
    assert users and users[-1].split(":")[0] not in {"0", "root"}


def test_dependencies_come_from_the_lock_file_before_the_source():
    build = _stages()[0]
    runs = [(n, i["value"]) for n, i in enumerate(build) if i["instruction"] == "RUN"]
    lock_copy = next(n for n, i in enumerate(build) if i["instruction"] == "COPY" and "requirements.lock" in i["value"])
    install = next(n for n, run in runs if "--require-hashes" in run and "requirements.lock" in run)
    source_copies = [n for n, i in enumerate(build) if i["instruction"] == "COPY" and i["value"].split()[0] in
                     {"libs", "services", "pyproject.toml"}]
    assert lock_copy < install < min(source_copies)
    project_install = next(run for _, run in runs if "pip wheel" in run)
    assert "--no-deps" in project_install and "pip install --no-deps /tmp/wheels/" in project_install


def test_every_package_directory_is_copied_and_not_docker_ignored():
    where = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["where"]
    copied = [i["value"].split()[0] for stage in _stages() for i in stage
              if i["instruction"] == "COPY" and "--from" not in i["value"]]
    for directory in where:
        assert any(directory == src or directory.startswith(src.rstrip("/") + "/") for src in copied), directory
    rules = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    for src in copied:
        included = True
        for rule in rules:  # last matching rule wins, as in Docker
            negated = rule.startswith("!")
            pattern = rule.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(src, pattern) or src.startswith(pattern + "/"):
                included = negated
        assert included, f"{src} is excluded from the build context by .dockerignore"
        assert (ROOT / src).exists(), src


def test_no_secrets_baked_in():
    for stage in _stages():
        for instruction in stage:
            if instruction["instruction"] in {"ENV", "ARG", "LABEL"}:
                assert not any(word in instruction["value"].upper() for word in SECRET_WORDS), instruction["content"]


def test_healthcheck_and_default_command():
    final = _stages()[-1]
    assert any("/healthz" in v for v in _values(final, "HEALTHCHECK"))
    assert _values(final, "CMD")[-1] == '["python", "-m", "rabota_ui"]'
    assert "8000" in _values(final, "EXPOSE")[-1]
