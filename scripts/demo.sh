#!/usr/bin/env bash
# The main job: the nightly example DAG end to end. On the bundled emulator by default;
# on the real Gemini API when GEMINI_API_KEY is set.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"

WORK="$(mktemp -d -t gemini-batch-demo-XXXXXX)"
OUT="${GEMINI_BATCH_RESULTS:-$ROOT/demo_output/results.jsonl}"
export AIRFLOW_HOME="$WORK/airflow_home"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/example_dags"
export GEMINI_BATCH_RESULTS="$OUT"
EMULATOR_PID=""
cleanup() {
  if [ -n "$EMULATOR_PID" ]; then kill "$EMULATOR_PID" 2>/dev/null || true; wait "$EMULATOR_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ -n "${GEMINI_API_KEY:-}" ]; then
  echo ">> GEMINI_API_KEY is set: running against the real Gemini Batch API (batch prices apply)"
  unset AIRFLOW_CONN_GEMINI_DEFAULT   # the hook falls back to GEMINI_API_KEY when the connection is absent
  export GEMINI_BATCH_POLL_SECONDS="${GEMINI_BATCH_POLL_SECONDS:-30}"
else
  echo ">> no GEMINI_API_KEY: starting the bundled emulator"
  python -m airflow_provider_gemini_batch.emulator --port 0 --pending-seconds 1 --running-seconds 3 \
    --state-dir "$WORK/emulator" >"$WORK/emulator.out" 2>"$WORK/emulator.log" &
  EMULATOR_PID=$!
  for _ in $(seq 1 100); do [ -s "$WORK/emulator.out" ] && break; sleep 0.1; done
  BASE_URL="$(head -n 1 "$WORK/emulator.out")"
  echo ">> emulator at $BASE_URL"
  export AIRFLOW_CONN_GEMINI_DEFAULT="{\"conn_type\": \"gemini\", \"host\": \"$BASE_URL\", \"password\": \"emulator-demo-key\"}"
  export GEMINI_BATCH_POLL_SECONDS="${GEMINI_BATCH_POLL_SECONDS:-1}"
fi

echo ">> preparing a throwaway Airflow home in $AIRFLOW_HOME"
airflow db migrate >"$WORK/db-migrate.log" 2>&1 || { cat "$WORK/db-migrate.log"; exit 1; }
echo ">> airflow dags test gemini_batch_nightly"
airflow dags test gemini_batch_nightly >"$WORK/dag-test.log" 2>&1 || { tail -n 60 "$WORK/dag-test.log"; exit 1; }
grep -E "Submitted|JOB_STATE|Wrote|ended" "$WORK/dag-test.log" | sed -E 's/ \[airflow[^]]*\].*//; s/^[^ ]+ \[[a-z ]+\] //' | cut -c1-160 || true
echo
echo ">> results: $OUT ($(wc -l <"$OUT") records); the first one:"
head -n 1 "$OUT" | cut -c1-300
