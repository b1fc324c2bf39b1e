"""One small DAG per outcome, for the dag.test() suite. Copied into the test dags folder by conftest."""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_gemini_batch.operators.batch import GeminiBatchEmbedOperator, GeminiBatchSubmitOperator
from airflow_provider_gemini_batch.sensors.batch import GeminiBatchJobSensor

RESULTS = os.environ.get("GB_TEST_RESULTS_DIR", "/tmp/gemini-batch-test-results")
FAIL = " EMULATOR:FAIL_REQUEST"


def prompts(n: int, failing: int = 0, marker: str = "") -> list[dict]:
    return [{"key": f"q{i}", "request": {"contents": [{"role": "user", "parts": [
        {"text": f"question {i}{FAIL if i < failing else ''}{marker}"}]}]}} for i in range(n)]


def scenario(dag_id: str, **kwargs) -> DAG:
    deferrable = kwargs.pop("deferrable", True)
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["test"]) as dag:
        GeminiBatchSubmitOperator(task_id="submit", model="gemini-2.5-flash", poll_interval=0.2,
                                  results_path=f"{RESULTS}/{dag_id}/{{{{ run_id }}}}.jsonl",
                                  deferrable=deferrable, **kwargs)
    return dag


success = scenario("gb_success", requests=prompts(3))
success_in_worker = scenario("gb_success_in_worker", requests=prompts(3), deferrable=False)
partial_within = scenario("gb_partial_within", requests=prompts(10, failing=1), max_failed_ratio=0.2)
partial_over = scenario("gb_partial_over", requests=prompts(10, failing=3), max_failed_requests=1)
job_failed = scenario("gb_job_failed", requests=prompts(2, marker=" EMULATOR:FAIL_JOB"))
job_expired = scenario("gb_job_expired", requests=prompts(2, marker=" EMULATOR:EXPIRE_JOB"))
job_stuck = scenario("gb_job_stuck", requests=prompts(2, marker=" EMULATOR:STUCK_PENDING"), timeout=1.5)
job_stuck_in_worker = scenario("gb_job_stuck_in_worker", requests=prompts(2, marker=" EMULATOR:STUCK_PENDING"),
                               timeout=1.5, deferrable=False)
# Cancelled from outside by the test while the task waits.
job_cancelled = scenario("gb_job_cancelled", requests=prompts(2, marker=" EMULATOR:STUCK_PENDING"))
bad_input = scenario("gb_bad_input", requests=[{"contents": [{"parts": [{"text": "x"}]}],
                                                "system_instructions": {"parts": [{"text": "cat"}]}}])
unknown_model = scenario("gb_unknown_model", requests=prompts(1))
unknown_model.get_task("submit").model = "gemini-9-ultra"
no_wait = scenario("gb_no_wait", requests=prompts(1), wait_for_completion=False)

with DAG("gb_embed", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["test"]) as embed:
    GeminiBatchEmbedOperator(task_id="submit", poll_interval=0.2,
                             requests=[{"content": f"text {i}", "output_dimensionality": 8} for i in range(4)],
                             results_path=f"{RESULTS}/gb_embed/{{{{ run_id }}}}.jsonl")

with DAG("gb_sensor", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["test"],
         params={"job_name": "batches/unset"}) as sensor_dag:
    GeminiBatchJobSensor(task_id="wait", job_name="{{ params.job_name }}", poll_interval=0.2)

# Expires once (forced by the test), then succeeds on the deliberate resubmission.
expired_resubmit = scenario("gb_expired_resubmit", requests=prompts(2), on_expired="resubmit", max_resubmits=1)
# A JSONL input the test writes; everything we made is cleaned up after the results are written.
cleanup_all = scenario("gb_cleanup_all", input_file=f"{RESULTS}/inputs/cleanup.jsonl",
                       cleanup=["input_file", "result_file", "job"])
# One result line dropped, one duplicated by the emulator: both reported, the missing key named.
results_report = scenario("gb_results_report", input_file=f"{RESULTS}/inputs/report.jsonl", max_failed_ratio=0.5)
not_writable = scenario("gb_not_writable", requests=prompts(1))
not_writable.get_task("submit").results_path = "/proc/gemini-batch-cannot-write/results.jsonl"

from pydantic import BaseModel  # noqa: E402


class Verdict(BaseModel):
    label: str
    confidence: float


# Structured output checked on the way out: one answer is not JSON on purpose.
structured = scenario("gb_structured", requests=["review one", "review two", "review three EMULATOR:INVALID_JSON"],
                      response_schema=Verdict, system_instruction="You are a careful reviewer.",
                      max_failed_requests=1)
