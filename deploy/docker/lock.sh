#!/usr/bin/env bash
# Regenerates deploy/docker/requirements.lock (hash-pinned runtime dependencies of pyproject.toml) for the
# image: Linux x86_64, CPython 3.11. Run after changing [project.dependencies]; tests/deploy checks it is current.
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/python -m pip install -q uv
.venv/bin/python -m uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
  --python-platform x86_64-unknown-linux-gnu --annotation-style line \
  --custom-compile-command "bash deploy/docker/lock.sh" -o deploy/docker/requirements.lock
