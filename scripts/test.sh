#!/usr/bin/env bash
# The test suite: real google-genai SDK against the emulator over HTTP, real Airflow DAG runs.
# Extra arguments go to pytest (e.g. `scripts/test.sh -m slow` for the long runs).
# Plain `make test` (no arguments, so CI) first runs the floor smoke: the oldest supported row of the
# compatibility matrix (Airflow 3.0 on Python 3.10) installs from its constraints file and runs the
# example DAGs and the trigger and operator tests, so the declared floor cannot silently break again.
# GEMINI_BATCH_SKIP_FLOOR=1 leaves it out.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
floor=0
if [ $# -eq 0 ] && [ -z "${GEMINI_BATCH_SKIP_FLOOR:-}" ]; then
  echo ">> floor smoke: $(sed -n 's/^FLOOR_ROW = "\(.*\)"/\1/p' scripts/compat_rows.py)"
  python scripts/test_matrix.py --smoke || floor=$?
fi
status=0
if [ $# -eq 0 ]; then
  # Lint and types first: seconds, and a failure here names the line (config in pyproject.toml).
  echo ">> ruff check && mypy"
  python -m ruff check . || status=1
  python -m mypy || status=1
  # The whole fast suite mostly waits (polls, DAG runs, a real scheduler): it runs on several processes;
  # the e2e modules share one worker (xdist_group "e2e"). Explicit arguments run in one process.
  set -- -n "${GEMINI_BATCH_TEST_WORKERS:-3}" --dist loadgroup
fi
python -m pytest "$@" || status=$?
if [ "$floor" -ne 0 ]; then
  echo ">> the floor smoke failed (see above; logs in .matrix/logs/)" >&2
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
