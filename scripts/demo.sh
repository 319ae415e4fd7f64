#!/usr/bin/env bash
# Installs the project and runs the whole pipeline once on the embedded default
# (SQLite + the bundled Omie simulator). Extra arguments go to `omie-pipeline demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/omie-pipeline demo "$@"
