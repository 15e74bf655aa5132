#!/usr/bin/env bash
# Python tools the test suite needs, in project-local virtualenvs (never the system Python):
# - .venv: the pinned ArviZ stack (scripts/requirements-arviz.txt) that opens
#   `mmm export --format zarr` stores and regenerates the ArviZ golden values;
# - .venv-s3: a local S3-compatible server (moto) with boto3 as an independent S3 client
#   (apart from .venv because moto pins python-dateutil below the ArviZ stack's version).
# Idempotent; `cargo xtask test` runs it and points the tests at both.
set -euo pipefail
cd "$(dirname "$0")/.."

# make_venv DIR CHECK_IMPORTS PIP_ARGS...: (re)create DIR unless its stamp matches the
# requested packages and the imports work.
make_venv() {
  local dir=$1 imports=$2
  shift 2
  local stamp="$dir/.mmm-installed" want
  want="$(printf '%s\n' "$@"; [ -f scripts/requirements-arviz.txt ] && cat scripts/requirements-arviz.txt)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$dir/bin/python" -c "import $imports" 2>/dev/null; then
    return 0
  fi
  if ! python3 -m venv "$dir"; then
    echo "error: 'python3 -m venv' failed; install the venv module (Debian/Ubuntu: apt install python3-venv)" >&2
    exit 1
  fi
  "$dir/bin/python" -m pip install --quiet "$@"
  printf '%s' "$want" > "$stamp"
}

make_venv .venv "arviz, zarr, xarray, h5netcdf" -r scripts/requirements-arviz.txt
make_venv .venv-s3 "moto.server, boto3, flask_cors" "moto[server]>=5,<6" boto3
