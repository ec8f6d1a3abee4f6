#!/usr/bin/env bash
# Install what the tests need (scripts/install-test-deps.sh), then run every check:
# ruff, mypy (strict over the whole package), import-linter (layers, independence, where
# each third-party library may be imported), and the whole pytest suite.
# Arguments go to pytest (e.g. scripts/test.sh -k race). The quick offline loop, without
# the tests that start real servers or processes and without the long offline ones
# (simulations of many seeds, exhaustive searches, fuzzing), under a minute on a quiet
# machine: .venv/bin/pytest -m "not servers" (every `long` test also counts as `servers`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
. .venv/bin/activate
echo "== ruff";          ruff check src tests bench && ruff format --check src tests bench
echo "== mypy (strict)"; mypy
echo "== import layers"; lint-imports
echo "== pytest";        pytest -q --durations=10 "$@"
