"""A DAG for the browser tests: one submit that stays deferred until the test moves the job on."""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator

with DAG("gb_ui_deferred", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["test"]) as dag:
    GeminiBatchSubmitOperator(
        task_id="submit", model="gemini-2.5-flash", poll_interval=1.0,
        requests=[{"key": f"q{i}", "request": {"contents": [{"role": "user", "parts": [{"text": f"question {i}"}]}]}}
                  for i in range(3)],
        results_path=os.path.join(os.environ.get("GB_UI_RESULTS_DIR", "/tmp/gb-ui-results"), "{{ run_id }}.jsonl"))
