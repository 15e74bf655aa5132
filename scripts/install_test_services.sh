#!/usr/bin/env bash
# Python tools the test suite needs, in a project-local virtualenv (.venv, never the system
# Python): a local S3-compatible server (moto) with boto3 as an independent S3 client, and the
# pinned ArviZ stack that opens `mmm export --format zarr` (scripts/requirements-arviz.txt).
# Idempotent; `cargo xtask test` runs it and points the tests at .venv/bin.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
stamp="$venv/.mmm-test-services"
want="$(cat scripts/requirements-arviz.txt; echo 'moto[server]>=5,<6'; echo boto3)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$venv/bin/python" -c "import moto.server, boto3, arviz, zarr" 2>/dev/null; then
  exit 0
fi
if ! python3 -m venv "$venv" 2>/dev/null; then
  echo "error: 'python3 -m venv' failed; install the venv module (Debian/Ubuntu: sudo apt install python3-venv)" >&2
  exit 1
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r scripts/requirements-arviz.txt "moto[server]>=5,<6" boto3
printf '%s' "$want" > "$stamp"
