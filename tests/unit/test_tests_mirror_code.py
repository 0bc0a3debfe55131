"""Tests mirror the code (issue 16, item 9): every product module has a test file of its own, at the mirrored path.

A module `libs/common/rabota_common/<m>.py` is tested by `tests/{unit,integration}/common/test_<m>.py`, a store
module `rabota_common/store/<m>.py` by `tests/{unit,integration}/store/test_<m>.py`, and a service module
`services/<svc>/rabota_<svc>/<m>.py` by `tests/{unit,integration}/<svc>/test_<m>.py` (`crm-writer` -> `crm_writer`).
A module may have several files, `test_<m>_<aspect>.py`. A change to one module is then checked by running its
own file, in seconds, instead of a whole stack.

Run as a script (`python tests/unit/test_tests_mirror_code.py`) it prints the counts and the modules without a file.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Modules that are wiring only: they build objects and hand them to FastStream/uvicorn, with no logic of their own to
# test apart from starting the service, which the e2e and acceptance tests do. Keep this list short and honest:
# a module with a branch worth a test does not belong here.
WIRING_ONLY = {
    "auth/app.py",  # the FastStream app: runtime, broker, the tokens module's subscribers
    "crm_writer/app.py",  # the FastStream app: runtime, broker, the pull engine started on startup
    "mapper/app.py",  # the FastStream app: runtime, broker, the handlers' subscribers
    "poller/app.py",  # the FastStream app: runtime, broker, the handlers' subscribers and the poll/reconcile loops
    "ui/app.py",  # the FastAPI app: middlewares and routers
    "ui/__main__.py",  # uvicorn.run
    "auth/__main__.py",  # asyncio.run(app.run())
    "crm_writer/__main__.py",
    "mapper/__main__.py",
    "poller/__main__.py",
    "store/__init__.py",  # the Store class: the concern modules' mixins on one object (tested through them)
}


def product_modules(root: Path = ROOT) -> dict[str, Path]:
    """Each product module by its mirrored key `<area>/<module>.py`: `common/budget.py`, `crm_writer/writer.py`."""
    found: dict[str, Path] = {}
    common = root / "libs/common/rabota_common"
    for path in sorted(common.rglob("*.py")):
        rel = path.relative_to(common)
        area = "store" if rel.parts[0] == "store" else "common"
        found[f"{area}/{rel.name}"] = path
    for package in sorted((root / "services").glob("*/rabota_*")):
        area = package.name.removeprefix("rabota_")
        for path in sorted(package.rglob("*.py")):
            found[f"{area}/{path.name}"] = path
    return {key: path for key, path in found.items()
            if not (path.name == "__init__.py" and not path.read_text().strip())}


def collected_test_files(root: Path = ROOT) -> list[Path]:
    return [p for kind in ("unit", "integration") for p in sorted((root / "tests" / kind).rglob("test_*.py"))]


def mirrored(key: str, tests: list[Path], root: Path = ROOT) -> list[Path]:
    """The test files of one module: `tests/{unit,integration}/<area>/test_<stem>.py` or `test_<stem>_*.py`."""
    area, name = key.split("/")
    stem = name.removesuffix(".py").lstrip("_") or name
    return [t for t in tests if t.parent.name == area and t.parent.parent.parent == root / "tests"
            and (t.stem == f"test_{stem}" or t.stem.startswith(f"test_{stem}_"))]


def untested(root: Path = ROOT) -> list[str]:
    tests = collected_test_files(root)
    return [key for key in product_modules(root) if key not in WIRING_ONLY and not mirrored(key, tests, root)]


def test_every_product_module_has_a_mirrored_test_file() -> None:
    missing = untested()
    assert not missing, ("product modules without a test file of their own at the mirrored path "
                         "(tests/unit/<area>/test_<module>.py or tests/integration/...): " + ", ".join(missing))


def test_the_wiring_allow_list_names_existing_modules_without_tests() -> None:
    modules, tests = product_modules(), collected_test_files()
    stale = sorted(key for key in WIRING_ONLY if key not in modules)
    assert not stale, f"allow-listed modules that do not exist: {stale}"
    tested = sorted(key for key in WIRING_ONLY if mirrored(key, tests))
    assert not tested, f"allow-listed modules that now have a test file (drop them from the list): {tested}"


if __name__ == "__main__":
    root = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT
    modules, tests = product_modules(root), collected_test_files(root)
    with_tests = [k for k in modules if mirrored(k, tests, root)]
    missing = untested(root)
    print(f"product modules: {len(modules)}; wiring only: {len(WIRING_ONLY)}; "
          f"with a mirrored test file: {len(with_tests)}; mirrored test files: "
          f"{len({t for k in modules for t in mirrored(k, tests, root)})}; without: {len(missing)}")
    for key in missing:
        print("  ", key, modules[key].relative_to(root))
