"""Wait for a job created outside Airflow (here: by a task standing in for another system), fetch
its results, then clean up the job and its result file."""

from __future__ import annotations

import os
import sys
from datetime import datetime

from airflow.sdk import dag, task

sys.path.append(os.path.dirname(os.path.abspath(__file__)))  # Airflow 3.0 parses without the dags folder on sys.path
from _settings import GENERATE_MODEL, OUTPUT_DIR, POLL_SECONDS  # noqa: E402

from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook
from airflow_provider_gemini_batch.operators.batch import GeminiBatchGetResultsOperator
from airflow_provider_gemini_batch.sensors.batch import GeminiBatchJobSensor


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["gemini", "example"])
def gemini_batch_sensor_cleanup():
    @task
    def job_made_elsewhere() -> str:
        """Stands in for a job another system created; in real use, its name arrives as a param or XCom."""
        requests = [{"request": {"contents": [{"role": "user", "parts": [{"text": f"Name a color #{i}."}]}]},
                     "metadata": {"key": f"color-{i}"}} for i in range(3)]
        return GeminiBatchHook().create_batch(GENERATE_MODEL, requests=requests,
                                              display_name="external-colors-job")["name"]

    job_name = job_made_elsewhere()
    wait = GeminiBatchJobSensor(task_id="wait", job_name=job_name, poll_interval=POLL_SECONDS)
    results = GeminiBatchGetResultsOperator(
        task_id="results", job_name=job_name, results_path=f"{OUTPUT_DIR}/external/{{{{ run_id }}}}.jsonl",
        cleanup=["result_file", "job"])
    wait >> results


gemini_batch_sensor_cleanup()
