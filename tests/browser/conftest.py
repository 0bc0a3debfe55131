"""Browser fixtures: Playwright (Python) driving Debian's chromium against the local stack.

`playwright install` is never used (it downloads a browser); `deploy/local/bootstrap.sh` installs the
Debian package `chromium` when it is missing and we are root. Without it every browser test skips.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# The stack (NATS, Redis, sandbox emulators, the five services) and the HTTP driver of tests/e2e.
from tests.e2e.conftest import driver, stack  # noqa: F401

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def chromium_path() -> str | None:
    if os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return shutil.which("chromium")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "stack_env(env): extra environment of the stack's processes")


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    path = chromium_path()
    if path is None:
        pytest.skip("chromium not found at /usr/bin/chromium (install it: apt-get install -y chromium)")
    playwright_api = pytest.importorskip("playwright.async_api",
                                         reason="playwright is not installed (pip install -e '.[dev]')")
    async with playwright_api.async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()
