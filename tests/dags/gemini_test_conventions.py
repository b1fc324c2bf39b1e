"""DAGs for the provider-convention tests (tests/airflow/test_conventions.py): a real sensor, prompts
that are not templates. Copied into the test dags folder by conftest."""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, task

from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator
from airflow_provider_gemini_batch.sensors.batch import GeminiBatchJobSensor

RESULTS = os.environ.get("GB_TEST_RESULTS_DIR", "/tmp/gemini-batch-test-results")
START = datetime(2026, 1, 1)
# Text a model should see as written: Jinja syntax, and a Mustache section Jinja cannot even parse.
LITERAL_PROMPTS = ["Explain what {{ ds }} means in an Airflow template.",
                   "Render this Mustache: {{#list}}<li>{{name}}</li>{{/list}}"]


def _sensor_dag(dag_id: str, **kwargs) -> DAG:
    with DAG(dag_id, schedule=None, start_date=START, catchup=False, tags=["test"],
             params={"job_name": "batches/unset"}) as dag:
        GeminiBatchJobSensor(task_id="wait", job_name="{{ params.job_name }}", **kwargs)
    return dag


# Non-deferrable: Airflow's BaseSensorOperator drives poke(); reschedule mode frees the slot between pokes.
sensor_reschedule = _sensor_dag("gbc_sensor_reschedule", deferrable=False, mode="reschedule", poll_interval=0.5,
                                timeout=60)
sensor_poke = _sensor_dag("gbc_sensor_poke", deferrable=False, poll_interval=0.2, timeout=60)
sensor_deferred = _sensor_dag("gbc_sensor_deferred", deferrable=True, poll_interval=0.2, timeout=60)
# A job that never leaves PENDING: the sensor's timeout passes; soft_fail skips instead of failing.
sensor_soft_fail_poke = _sensor_dag("gbc_sensor_soft_fail_poke", deferrable=False, poll_interval=0.2, timeout=1.0,
                                    soft_fail=True, cancel_on_timeout=True)
sensor_soft_fail_deferred = _sensor_dag("gbc_sensor_soft_fail_deferred", deferrable=True, poll_interval=0.2,
                                        timeout=1.0, soft_fail=True)

with DAG("gbc_literal_prompts", schedule=None, start_date=START, catchup=False, tags=["test"]) as literal_prompts:
    GeminiBatchSubmitOperator(
        task_id="submit", model="gemini-2.5-flash", poll_interval=0.2, deferrable=False,
        requests=[{"key": f"p{i}", "request": {"contents": [{"role": "user", "parts": [{"text": text}]}]}}
                  for i, text in enumerate(LITERAL_PROMPTS)],
        # Not prompts: these are rendered.
        results_path=f"{RESULTS}/gbc_literal_prompts/{{{{ ds }}}}.jsonl",
        system_instruction="You answer for the run of {{ ds }}.",
        display_name="literal-{{ ds_nodash }}")

    @task
    def build_requests() -> list[dict]:
        """Requests made at run time reach the operator as an XComArg; their text is not rendered either."""
        return [{"key": f"x{i}", "request": {"contents": [{"role": "user", "parts": [{"text": text}]}]}}
                for i, text in enumerate(LITERAL_PROMPTS)]

    GeminiBatchSubmitOperator(
        task_id="submit_from_xcom", model="gemini-2.5-flash", poll_interval=0.2, deferrable=False,
        requests=build_requests(), results_path=f"{RESULTS}/gbc_literal_prompts_xcom/{{{{ ds }}}}.jsonl")
