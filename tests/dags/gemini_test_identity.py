"""DAGs for issue 13 rule 4 (one identity per task instance) and issue 14 section 3 (quota-aware submit).
Copied into the test dags folder by conftest; driven by tests/airflow/test_identity_dags.py."""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator

RESULTS = os.environ.get("GB_TEST_RESULTS_DIR", "/tmp/gemini-batch-test-results")


def dag_with(dag_id: str, **kwargs) -> DAG:
    kwargs.setdefault("requests", [f"question {i}" for i in range(3)])
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["test"]) as dag:
        GeminiBatchSubmitOperator(task_id="submit", model="gemini-2.5-flash", poll_interval=0.2,
                                  results_path=f"{RESULTS}/{dag_id}/{{{{ run_id }}}}.jsonl", **kwargs)
    return dag


# A static user display name, the input different on every run, jobs that stay PENDING, and the policy
# that used to cancel "the earlier try's" job: it must only ever see its own run's jobs.
static_name = dag_with("gb_static_name", display_name="nightly-summaries", wait_for_completion=False,
                       on_changed_input="cancel_and_resubmit",
                       requests=["summary for {{ run_id }} EMULATOR:STUCK_PENDING"])
# One static name across the map indexes of one run.
with DAG("gb_static_name_mapped", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         tags=["test"]) as static_name_mapped:
    GeminiBatchSubmitOperator.partial(task_id="submit", model="gemini-2.5-flash", display_name="nightly-summaries",
                                      wait_for_completion=False).expand(requests=[["a"], ["b"], ["c"]])
# Everything cleaned up after success, then the task is cleared.
cleanup_job = dag_with("gb_cleanup_job_then_clear", cleanup=["job"])
# Cleared after success, after its timeout passed.
short_timeout = dag_with("gb_clear_after_timeout", timeout=1.0)
# A deliberate new submission on a clear, one parameter away.
with DAG("gb_resubmit", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["test"],
         params={"resubmit": False}) as resubmit:
    GeminiBatchSubmitOperator(task_id="submit", model="gemini-2.5-flash", poll_interval=0.2,
                              requests=["one", "two"], resubmit="{{ params.resubmit }}")
# Quota: create refused with 429 RESOURCE_EXHAUSTED for a while (scaled: seconds, not minutes).
quota = dag_with("gb_quota_wait", quota_retry_initial=0.5, quota_retry_max=1.0, submit_timeout=60)
quota_gives_up = dag_with("gb_quota_gives_up", quota_retry_initial=0.5, quota_retry_max=1.0, submit_timeout=2.5)
# Stuck in PENDING: cancelled and resubmitted once (-s2), which is stuck too: the task fails saying so.
stuck_pending = dag_with("gb_max_pending", requests=["x EMULATOR:STUCK_PENDING"], max_pending_time=1.0, timeout=60)
