#!/usr/bin/env bash
# Install ZoneWarden into .venv (once) and run the demo region: `zonewarden up`.
# Extra arguments go to `zonewarden up` (e.g. --duration 30, --protocol legacy).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/zonewarden ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q '.[fast]'
fi
exec .venv/bin/zonewarden up "$@"
