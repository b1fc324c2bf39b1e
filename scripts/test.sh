#!/usr/bin/env bash
# The test suite: real google-genai SDK against the emulator over HTTP, real Airflow DAG runs.
# Extra arguments go to pytest (e.g. `scripts/test.sh -m slow` for the long runs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
exec python -m pytest "$@"
