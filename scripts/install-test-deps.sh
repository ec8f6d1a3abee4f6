#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine:
# the Debian packages listed in scripts/apt/*.txt (real DNS servers, etcd, ...) and
# the Python package with its test extras into .venv. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=$(cat scripts/apt/*.txt 2>/dev/null | sed 's/#.*//' | tr -s ' \n' '\n' | sort -u | tr '\n' ' ')
if [ -n "${packages// }" ]; then
  missing=()
  for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    # servers must not start as system services: tests start their own on loopback
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
    $SUDO rm -f /usr/sbin/policy-rc.d
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip
extras=$(python3 - <<'PY'
import tomllib
extras = tomllib.load(open("pyproject.toml", "rb"))["project"].get("optional-dependencies", {})
print(",".join(sorted(extras)))
PY
)
.venv/bin/pip install -q -e ".[${extras}]"
