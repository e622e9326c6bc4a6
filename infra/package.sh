#!/bin/sh
# Thin wrapper for `make package STAGE=<stage>`; the work is in infra/package.py (run it with --help).
set -eu
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
exec "$PY" -m infra.package --stage "${STAGE:-dev}" "$@"
