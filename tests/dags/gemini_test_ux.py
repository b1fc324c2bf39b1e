"""DAGs for what a user sees when things go wrong (issue 18). Copied into the test dags folder by conftest."""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, task
from pydantic import BaseModel

from airflow_provider_gemini_batch.operators.batch import GeminiBatchEmbedOperator, GeminiBatchSubmitOperator

RESULTS = os.environ.get("GB_TEST_RESULTS_DIR", "/tmp/gemini-batch-test-results")
FAIL = " EMULATOR:FAIL_REQUEST"


def prompts(n: int, failing: int = 0, marker: str = "") -> list[dict]:
    return [{"key": f"q{i}", "request": {"contents": [{"role": "user", "parts": [
        {"text": f"question {i}{FAIL if i < failing else ''}{marker}"}]}]}} for i in range(n)]


def ux_dag(dag_id: str, with_results: bool = True, **kwargs) -> DAG:
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["test"]) as dag:
        submit = GeminiBatchSubmitOperator(
            task_id="submit", model="gemini-2.5-flash", poll_interval=0.2,
            results_path=f"{RESULTS}/{dag_id}/{{{{ run_id }}}}.jsonl" if with_results else None, **kwargs)

        @task(trigger_rule="all_done")
        def after(summary):  # what a downstream all_done task reads from a failed submit
            return {"seen_state": (summary or {}).get("state"), "seen_failed": (summary or {}).get("failed_requests")}

        after(submit.output)
    return dag


# 8 of 10 requests fail, none tolerated: the exception names the first 5 and says where the rest are.
ux_partial_many = ux_dag("gb_ux_partial_many", requests=prompts(10, failing=8))
# One failure and no results_path: the failed key is read back from the job itself.
ux_partial_no_path = ux_dag("gb_ux_partial_no_path", with_results=False, requests=prompts(3, failing=1))
ux_job_failed = ux_dag("gb_ux_job_failed", requests=prompts(2, marker=" EMULATOR:FAIL_JOB"))


class Recipe(BaseModel):
    recipe_name: str
    ingredients: list[str]


with DAG("gb_ux_rendered_schema", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         tags=["test"]) as ux_rendered_schema:
    GeminiBatchSubmitOperator(
        task_id="submit", model="gemini-2.5-flash", poll_interval=0.2,
        results_path=f"{RESULTS}/gb_ux_rendered_schema/{{{{ run_id }}}}.jsonl",
        requests=[{"key": "cookies", "request": {
            "contents": [{"role": "user", "parts": [{"text": "Give two cookie recipes."}]}],
            "config": {"response_mime_type": "application/json", "response_schema": list[Recipe]}}}])

with DAG("gb_ux_embed", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["test"]) as ux_embed:
    GeminiBatchEmbedOperator(task_id="submit", poll_interval=0.2,
                             requests=[{"content": f"text {i}", "output_dimensionality": 8} for i in range(3)],
                             results_path=f"{RESULTS}/gb_ux_embed/{{{{ run_id }}}}.jsonl")
