"""Nightly JSONL -> Gemini batch -> results in object storage (the README's main job).

Reads `GEMINI_BATCH_INPUT` (a JSONL of {"key", "request"} lines; default: the bundled sample) and
writes one record per request to `GEMINI_BATCH_RESULTS` (a local path or any object storage URI).
Runs on the emulator when the `gemini_default` connection points at it, on Gemini otherwise.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import dag, task

sys.path.append(os.path.dirname(os.path.abspath(__file__)))  # Airflow 3.0 parses without the dags folder on sys.path
from _settings import GENERATE_MODEL, POLL_SECONDS  # noqa: E402

from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator

SAMPLE = Path(__file__).parent / "data" / "prompts.jsonl"


# Paused on creation: on a fresh deployment it must not run (and go red) before the connection exists.
# Unpause it in the UI once `gemini_default` is set up; `airflow dags test` runs it paused or not.
@dag(schedule="@daily", start_date=datetime(2026, 1, 1), catchup=False, tags=["gemini", "example"],
     is_paused_upon_creation=True)
def gemini_batch_nightly():
    summary = GeminiBatchSubmitOperator(
        task_id="summarise",
        model=GENERATE_MODEL,
        input_file=os.environ.get("GEMINI_BATCH_INPUT", str(SAMPLE)),
        results_path=os.environ.get("GEMINI_BATCH_RESULTS", "/tmp/gemini-batch/{{ ds }}/results.jsonl"),
        poll_interval=POLL_SECONDS,
        timeout=timedelta(hours=30),
        max_failed_ratio=0.05,
    )

    @task
    def report(summary: dict) -> dict:
        results = summary.get("results") or {}
        print(f"Job {summary['job_name']} ended {summary['state']}: {results.get('ok')} ok, "
              f"{results.get('errors')} errors; results at {results.get('path')}")
        return {"job_name": summary["job_name"], "results": results.get("path")}

    report(summary.output)


gemini_batch_nightly()
