"""DAGs for the scheduler + triggerer end-to-end tests (copied into the e2e dags folder)."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator

REQUESTS = [{"key": f"e2e-{i}", "request": {"contents": [{"parts": [{"text": f"e2e question {i}"}]}]}}
            for i in range(5)]

for dag_id in ("e2e_deferred", "e2e_crash", "e2e_deferred_faults", "e2e_crash_faults"):
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
             default_args={"retries": 2, "retry_delay": timedelta(seconds=1)}) as dag:
        GeminiBatchSubmitOperator(task_id="submit", model="gemini-2.5-flash", requests=REQUESTS,
                                  poll_interval=1, timeout=timedelta(minutes=20),
                                  results_path="/tmp/gemini-batch-e2e/{{ dag.dag_id }}/{{ run_id }}.jsonl")
    globals()[dag_id] = dag
