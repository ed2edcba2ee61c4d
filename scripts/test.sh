#!/usr/bin/env bash
# Install buildlog with its development tools and run every check: ruff, mypy --strict, the whole pytest suite
# (integration tests included: they start a real dockerd and registry, see docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e '.[dev]'
if [ "$(id -u)" = 0 ] && [ -x .ci/install-integration-deps.sh ]; then
    .ci/install-integration-deps.sh
fi
echo "== ruff"
python3 -m ruff check buildlog tests benchmarks
echo "== mypy --strict"
python3 -m mypy --strict buildlog
echo "== pytest"
python3 -m pytest -q "$@"
