#!/usr/bin/env bash
# Installs what the tests need and runs them in parallel with pytest-xdist: two workers per core
# (at most 8), as the tests mostly wait on simulators, pacing windows and Dagster rather than
# compute; browser tests run together on one worker, last (see tests/conftest.py: without
# --no-loadscope-reorder xdist would send their group, its largest, first). Extra
# arguments go to pytest after ours, so `-n 0` runs serially and `-m "not integration"` skips
# the tests that drive the HTTP simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
workers=$(( $(nproc) * 2 ))
if [ "$workers" -gt 8 ]; then workers=8; fi
set +e
.venv/bin/pytest -n "$workers" --dist loadgroup --no-loadscope-reorder "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "no tests were collected: that is a failure" >&2
  exit 1
fi
exit "$status"
