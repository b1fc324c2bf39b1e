"""A retry whose input changed never reattaches silently: on_changed_input decides (fail / cancel_and_resubmit).

execute() runs for real against the emulator; the task instance is a stand-in whose try_number says
"this is a retry" (the scheduler-driven retry path is covered end to end in tests/e2e)."""

from functools import partial

import pytest

from airflow_provider_gemini_batch.exceptions import GeminiRequestError
from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator
from tests.standins import TaskInstanceStandIn as _TaskInstance

TaskInstanceStandIn = partial(_TaskInstance, dag_id="changed")


def run_try(try_number, requests, **kwargs):
    op = GeminiBatchSubmitOperator(task_id="submit", model="gemini-2.5-flash", requests=requests,
                                   wait_for_completion=False, **kwargs)
    return op.execute({"ti": TaskInstanceStandIn(try_number)})


@pytest.fixture
def slow_jobs(gemini_conn):
    gemini_conn.configure(pending_seconds=60)
    return gemini_conn


def test_same_input_on_retry_reattaches(slow_jobs):
    first = run_try(1, ["a", "b"])
    again = run_try(2, ["a", "b"])
    assert again["job_name"] == first["job_name"] and slow_jobs.stats()["jobs_created"] == 1


def test_changed_input_fails_by_default(slow_jobs):
    run_try(1, ["a", "b"])
    with pytest.raises(GeminiRequestError, match="on_changed_input.*input changed since batches/"):
        run_try(2, ["a", "b", "c"])
    assert slow_jobs.stats()["jobs_created"] == 1


def test_changed_input_cancel_and_resubmit(slow_jobs):
    first = run_try(1, ["a", "b"], on_changed_input="cancel_and_resubmit")
    second = run_try(2, ["a", "changed"], on_changed_input="cancel_and_resubmit")
    jobs = {j["name"]: j for j in slow_jobs.stats()["jobs"]}
    assert slow_jobs.stats()["jobs_created"] == 2 and second["job_name"] != first["job_name"]
    assert jobs[first["job_name"]]["state"] == "CANCELLED" and jobs[second["job_name"]]["state"] == "PENDING"
    assert "-s2-f" in jobs[second["job_name"]]["displayName"]


def test_a_list_over_the_inline_limit_goes_as_one_uploaded_file(gemini_conn):
    big = [{"key": f"k{i}", "request": {"contents": [{"parts": [{"text": "x" * 1_000_000}]}]}} for i in range(21)]
    first = run_try(1, big)
    stats = gemini_conn.stats()
    assert stats["calls"]["files.upload"] == 1 and stats["jobs"][0]["requestCount"] == 21
    assert run_try(2, big)["job_name"] == first["job_name"]  # same bytes, same fingerprint: reattached
