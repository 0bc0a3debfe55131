#!/usr/bin/env bash
# The test command: lint, type-check, then every test in parallel against real NATS and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/local/bootstrap.sh
echo "== ruff"; .venv/bin/ruff check .
echo "== mypy"; .venv/bin/mypy libs services deploy
echo "== radon (no function above cyclomatic complexity 20)"
complex=$(.venv/bin/radon cc -n D libs services)
[ -z "$complex" ] || { echo "$complex"; exit 1; }
echo "== lint-imports (services independent, common without services, product without sandbox and local stack)"
.venv/bin/lint-imports --no-cache
bash tests/audit.sh
echo "== pytest"
set +e
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" --dist loadfile -q -p no:cacheprovider "$@"
code=$?
set -e
[ "$code" = 5 ] && { echo "no tests collected"; exit 1; }
exit "$code"
