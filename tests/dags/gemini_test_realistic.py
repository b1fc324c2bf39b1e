"""Keyed work against the realistic emulator profile (tests/realistic): GB_REALISTIC_KEYED requests, each
under its own key, through one submit task. Copied into the test dags folder by conftest."""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator

RESULTS = os.environ.get("GB_TEST_RESULTS_DIR", "/tmp/gemini-batch-test-results")
KEYED = int(os.environ.get("GB_REALISTIC_KEYED", "2000"))


def keyed_prompt(i: int) -> str:
    return f"Realistic keyed question {i}: name a prime above {i * 7}."


with DAG("gb_realistic_keyed", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         tags=["test"]) as keyed:
    GeminiBatchSubmitOperator(
        task_id="submit", model="gemini-2.5-flash", poll_interval=0.2,
        results_path=f"{RESULTS}/gb_realistic_keyed/{{{{ run_id }}}}.jsonl",
        requests=[{"key": f"row-{i:05d}", "request": {"contents": [{"role": "user", "parts": [
            {"text": keyed_prompt(i)}]}]}} for i in range(KEYED)])


# The same keyed work from a JSONL file (GB_REALISTIC_INPUT_FILE, written by the test): at 20,000 requests
# this keeps Airflow from rendering and storing 20,000 dicts as a template field.
with DAG("gb_realistic_keyed_file", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         tags=["test"]) as keyed_file:
    GeminiBatchSubmitOperator(
        task_id="submit", model="gemini-2.5-flash", poll_interval=0.2,
        results_path=f"{RESULTS}/gb_realistic_keyed_file/{{{{ run_id }}}}.jsonl",
        input_file=os.environ.get("GB_REALISTIC_INPUT_FILE", "/tmp/gemini-batch-test-realistic-keyed.jsonl"))
