"""DAGs for the results-integrity fault suite (tests/airflow/test_results_integrity_dags.py). Paths come
from GB_INTEGRITY_DIR, set by the test module before it loads this file; the test writes the inputs."""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator

ROOT = os.environ.get("GB_INTEGRITY_DIR", "/tmp/gemini-batch-integrity")


def keyed(n: int, marker: dict | None = None) -> list[dict]:
    """n keyed requests; `marker` adds an emulator marker to some: {index: " EMULATOR:FAIL_REQUEST"}."""
    marker = marker or {}
    return [{"key": f"k{i}", "request": {"contents": [{"role": "user", "parts": [
        {"text": f"question {i}{marker.get(i, '')}"}]}]}} for i in range(n)]


def scenario(dag_id: str, results_path: str | None = None, **kwargs) -> DAG:
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["test"]) as dag:
        GeminiBatchSubmitOperator(task_id="submit", model="gemini-2.5-flash", poll_interval=0.2,
                                  results_path=results_path or f"{ROOT}/{dag_id}/results.jsonl", **kwargs)
    return dag


# Ten keyed requests through whatever the test scripts into the fault proxy; one fixed results path, so a
# second run is "the same day's re-run" writing over the first run's results.
ten = scenario("gbi_ten", requests=keyed(10))
ten_tolerant = scenario("gbi_ten_tolerant", requests=keyed(10), max_failed_requests=2)
one_failing = scenario("gbi_one_failing", requests=keyed(10, {3: " EMULATOR:FAIL_REQUEST"}))
one_dropped = scenario("gbi_one_dropped", requests=keyed(10, {4: " EMULATOR:DROP_RESULT"}))
inline_keyed = scenario("gbi_inline_keyed", requests=keyed(6), input_mode="inline")
auto_keyed = scenario("gbi_auto_keyed", requests=keyed(6))
from_file = scenario("gbi_from_file", input_file=f"{ROOT}/inputs/input.jsonl", max_failed_requests=1)
results_is_input = scenario("gbi_results_is_input", input_file=f"{ROOT}/inputs/same.jsonl",
                            results_path=f"{ROOT}/inputs/same.jsonl")
results_is_dir = scenario("gbi_results_is_dir", requests=keyed(2), results_path=f"{ROOT}/a-directory")
unknown_scheme = scenario("gbi_unknown_scheme", requests=keyed(2), results_path="nosuch://bucket/results.jsonl")
full_disk = scenario("gbi_full_disk", requests=keyed(40), results_path=f"{ROOT}/tiny/results.jsonl")
read_only = scenario("gbi_read_only", requests=keyed(4), results_path=f"{ROOT}/ro/results.jsonl")
# Many keyed requests from a file the test writes (2,000 in `make test`, 20,000 in `make test-slow`).
many_2k = scenario("gbi_many_2000", input_file=f"{ROOT}/inputs/many-2000.jsonl")
many_20k = scenario("gbi_many_20000", input_file=f"{ROOT}/inputs/many-20000.jsonl")
