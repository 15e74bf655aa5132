#!/usr/bin/env bash
# Services the test suite needs beyond Rust: a local S3-compatible server (moto, from PyPI) and
# boto3 as an independent S3 client. Idempotent; `cargo xtask test` runs it.
set -euo pipefail
if python3 -c "import moto.server, boto3, flask_cors" 2>/dev/null && command -v moto_server >/dev/null; then
  exit 0
fi
python3 -m pip install --quiet "moto[server]>=5,<6" boto3
