"""The soak DAG: GB_SOAK_JOBS mapped submissions, three keyed requests each (faults come from the emulator)."""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator

RESULTS = os.environ.get("GB_TEST_RESULTS_DIR", "/tmp/gemini-batch-test-results")
JOBS = int(os.environ.get("GB_SOAK_JOBS", "10"))

with DAG("gb_soak", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["test"]) as soak:
    GeminiBatchSubmitOperator.partial(
        task_id="submit", model="gemini-2.5-flash", poll_interval=0.2, max_consecutive_poll_errors=30,
        results_path=f"{RESULTS}/gb_soak/{{{{ run_id }}}}/{{{{ ti.map_index }}}}.jsonl",
    ).expand(requests=[[{"key": f"job{j}-req{i}", "request": {"contents": [{"parts": [{"text": f"soak {j}/{i}"}]}]}}
                        for i in range(3)] for j in range(JOBS)])
