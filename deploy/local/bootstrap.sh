#!/usr/bin/env bash
# Prepares a fresh machine: redis-server from Debian if missing, a .venv with the project installed.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing redis-server (Debian package)…"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "redis-server is missing. Install it: sudo apt-get install -y redis-server" >&2
    exit 1
  fi
fi

# Browser tests (tests/browser) drive Debian's chromium through Playwright; they skip without it.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing chromium (Debian package) for the browser tests…"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } ||
      echo "chromium could not be installed: the browser tests will be skipped." >&2
  else
    echo "chromium is missing: the browser tests will be skipped (sudo apt-get install -y chromium)." >&2
  fi
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || {
  echo "Python 3.11 is required (found $("$PY" --version 2>&1))." >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ deploy/pyproject.toml -nt "$stamp" ]; then
  echo "Installing rabota-sync and its dependencies into .venv…"
  # The product with its tools' and benches' dependencies, then the tools themselves (the sandbox emulators and
  # the local stack: their own distribution, deploy/pyproject.toml, never part of the product's).
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev,sandbox,bench]' 2>&1 | grep -v "is ignored" || true
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e ./deploy 2>&1 | grep -v "is ignored" || true
  .venv/bin/python -c "import rabota_common, rabota_sandbox, rabota_stack" 
  touch "$stamp"
fi
