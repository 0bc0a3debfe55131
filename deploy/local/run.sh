#!/usr/bin/env bash
# The whole product on this machine: NATS, Redis, the five services and (by default) the sandbox emulators.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/bootstrap.sh
exec .venv/bin/python -m rabota_stack
