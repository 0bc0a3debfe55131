#!/usr/bin/env bash
# Regenerates the hash-pinned locks of the images (Linux x86_64, CPython 3.11): requirements.lock, the runtime
# dependencies of pyproject.toml (the production image), and requirements-sandbox.lock, those plus the extra
# `sandbox` (the emulators' image, target `sandbox`). Run after changing the dependencies; tests/deploy checks
# they are current.
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/python -m pip install -q uv
compile() {
  .venv/bin/python -m uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
    --python-platform x86_64-unknown-linux-gnu --annotation-style line \
    --custom-compile-command "bash deploy/docker/lock.sh" "$@"
}
compile -o deploy/docker/requirements.lock >/dev/null
# uv keeps the versions an existing output pins: the sandbox lock starts from the product's, so both agree.
[ -f deploy/docker/requirements-sandbox.lock ] ||
  cp deploy/docker/requirements.lock deploy/docker/requirements-sandbox.lock
compile --extra sandbox -o deploy/docker/requirements-sandbox.lock >/dev/null
