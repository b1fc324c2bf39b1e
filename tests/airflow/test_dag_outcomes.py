"""Real DAG runs (dag.test(), deferrals run inline) against the emulator, one per outcome."""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
from pathlib import Path

import pytest

from airflow_provider_gemini_batch.exceptions import (
    GeminiJobCancelledError,
    GeminiJobExpiredError,
    GeminiJobFailedError,
    GeminiJobTimeoutError,
    GeminiModelError,
    GeminiPartialFailureError,
    GeminiRequestError,
)
from tests.conftest import DAGS_FOLDER

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory):
    os.environ["GB_TEST_RESULTS_DIR"] = str(tmp_path_factory.mktemp("results"))
    spec = importlib.util.spec_from_file_location("gemini_test_scenarios", DAGS_FOLDER / "gemini_test_scenarios.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(dag, **kwargs):
    dr = dag.test(**kwargs)
    tis = {ti.task_id: ti for ti in dr.get_task_instances()}
    return dr, tis


def xcom(ti, key="return_value"):
    return ti.xcom_pull(task_ids=ti.task_id, key=key)


def results_of(scenarios, dag_id):
    files = list(Path(os.environ["GB_TEST_RESULTS_DIR"], dag_id).glob("*.jsonl"))
    assert len(files) == 1, files
    return [json.loads(line) for line in files[0].read_text().splitlines()]


def test_success_deferred_writes_results_and_a_small_summary(gemini_conn, scenarios):
    dr, tis = run(scenarios.success)
    assert dr.state == "success"
    summary = xcom(tis["submit"])
    assert summary["state"] == "JOB_STATE_SUCCEEDED" and summary["counts"]["succeeded"] == 3
    assert summary["results"]["records"] == 3 and summary["results"]["ok"] == 3
    assert len(json.dumps(summary)) < 2000  # a summary, never the payload
    assert xcom(tis["submit"], "job_name") == summary["job_name"]
    records = results_of(scenarios, "gb_success")
    assert sorted(r["key"] for r in records) == ["q0", "q1", "q2"] and all(r["text"] for r in records)
    stats = gemini_conn.stats()
    assert stats["jobs_created"] == 1 and stats["calls"]["batches.create"] == 1


def test_success_polling_in_the_worker(gemini_conn, scenarios):
    dr, tis = run(scenarios.success_in_worker)
    assert dr.state == "success" and xcom(tis["submit"])["state"] == "JOB_STATE_SUCCEEDED"


def test_partial_failures_within_the_threshold_succeed(gemini_conn, scenarios):
    dr, tis = run(scenarios.partial_within)
    assert dr.state == "success"
    summary = xcom(tis["submit"])
    assert summary["counts"]["failed"] == 1 and summary["results"]["errors"] == 1
    errors = [r for r in results_of(scenarios, "gb_partial_within") if r["status"] == "error"]
    assert errors[0]["key"] == "q0" and errors[0]["error"]["code"] == 400 and errors[0]["error"]["message"]


def test_partial_failures_over_the_threshold_fail_after_writing_results(gemini_conn, scenarios, task_errors):
    dr, tis = run(scenarios.partial_over)
    assert dr.state == "failed" and tis["submit"].state == "failed"
    records = results_of(scenarios, "gb_partial_over")
    path = next(Path(os.environ["GB_TEST_RESULTS_DIR"], "gb_partial_over").glob("*.jsonl"))
    error = task_errors.expect("submit", GeminiPartialFailureError, "ended JOB_STATE_SUCCEEDED, but 3 of 10 requests",
                               "over max_failed_requests=1", f"Each with its full error in {path}")
    assert all(f"'q{i}' (400 INVALID_ARGUMENT: " in str(error) for i in range(3))
    assert error.job_name == xcom(tis["submit"])["job_name"] and error.state == "JOB_STATE_SUCCEEDED"
    assert len(records) == 10 and sum(r["status"] == "error" for r in records) == 3  # nothing lost


@pytest.mark.parametrize("dag_name,state,error_type,words", [
    ("job_failed", "JOB_STATE_FAILED", GeminiJobFailedError,
     ["ended JOB_STATE_FAILED: Emulated internal failure of the whole batch", "(code 13)"]),
    ("job_expired", "JOB_STATE_EXPIRED", GeminiJobExpiredError,
     ["EXPIRED: it was not finished within 48 hours", "retry the task", "split the input into smaller batches"]),
])
def test_failed_and_expired_jobs_fail_the_task(gemini_conn, scenarios, task_errors, dag_name, state, error_type, words):
    dr, tis = run(getattr(scenarios, dag_name))
    assert dr.state == "failed"
    job = gemini_conn.stats()["jobs"][0]
    assert job["state"] == state.removeprefix("JOB_STATE_")
    error = task_errors.expect("submit", error_type, job["name"], *words)
    assert error.job_name == job["name"] and error.state == state


@pytest.mark.parametrize("dag_name", ["job_stuck", "job_stuck_in_worker"])
def test_stuck_pending_hits_the_deadline_and_is_cancelled(gemini_conn, scenarios, task_errors, dag_name):
    dr, tis = run(getattr(scenarios, dag_name))
    assert dr.state == "failed"
    jobs = gemini_conn.stats()["jobs"]
    assert len(jobs) == 1 and jobs[0]["state"] == "CANCELLED"
    error = task_errors.expect("submit", GeminiJobTimeoutError, f"deadline passed before {jobs[0]['name']} finished",
                               "the job is still JOB_STATE_PENDING", "the remote job was cancelled")
    assert error.job_name == jobs[0]["name"]


def test_the_timeout_error_names_the_setting_to_change(gemini_conn, scenarios, task_errors):
    run(scenarios.job_stuck)
    task_errors.expect("submit", GeminiJobTimeoutError, "the deadline was timeout=1.5s: raise it to wait longer")


def run_acting_on_the_first_job(emu, dag, action):
    """dag.test() while another thread waits for the DAG's first job to exist and acts on it,
    as a person or another system would while the task waits."""
    def watch():
        for _ in range(400):
            jobs = emu.stats()["jobs"]
            if jobs:
                action(jobs[-1]["name"])
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        return run(dag)
    finally:
        thread.join()


def test_job_cancelled_elsewhere_fails_the_task(gemini_conn, scenarios, sdk, task_errors):
    dr, tis = run_acting_on_the_first_job(
        gemini_conn, scenarios.job_cancelled, lambda name: (time.sleep(0.3), sdk.batches.cancel(name=name)))
    job = gemini_conn.stats()["jobs"][0]
    assert dr.state == "failed" and job["state"] == "CANCELLED"
    task_errors.expect("submit", GeminiJobCancelledError, f"{job['name']} was cancelled (JOB_STATE_CANCELLED)",
                       "its results, if any, are partial")


@pytest.mark.parametrize("dag_name,error_type,location,words", [
    ("bad_input", GeminiRequestError, "requests[0]",
     ["requests[0]: unknown field 'system_instructions'", "did you mean 'system_instruction'?"]),
    ("unknown_model", GeminiModelError, "model", ["model: unknown model models/gemini-9-ultra", "404 NOT_FOUND"]),
    ("not_writable", GeminiRequestError, "results_path",
     ["results_path: '/proc/gemini-batch-cannot-write/results.jsonl' is not writable", "nothing was submitted",
      "choose a location the worker can create and rename files in"]),
])
def test_bad_input_fails_before_any_billable_call(gemini_conn, scenarios, task_errors, dag_name, error_type, location,
                                                  words):
    dr, tis = run(getattr(scenarios, dag_name))
    assert dr.state == "failed"
    assert task_errors.expect("submit", error_type, *words).location == location
    stats = gemini_conn.stats()
    assert stats["jobs_created"] == 0 and stats["calls"].get("files.upload", 0) == 0


def test_no_wait_returns_the_job_name(gemini_conn, scenarios):
    dr, tis = run(scenarios.no_wait)
    assert dr.state == "success" and xcom(tis["submit"])["job_name"].startswith("batches/")


def test_embeddings(gemini_conn, scenarios):
    dr, tis = run(scenarios.embed)
    assert dr.state == "success"
    records = results_of(scenarios, "gb_embed")
    assert len(records) == 4 and all(len(r["embedding"]) == 8 for r in records)


def test_sensor_waits_for_a_job_made_elsewhere(gemini_conn, scenarios, sdk, task_errors):
    job = sdk.batches.create(model="gemini-2.5-flash", src=[{"contents": [{"parts": [{"text": "x"}]}]}])
    dr, tis = run(scenarios.sensor_dag, run_conf={"job_name": job.name})
    assert dr.state == "success" and xcom(tis["wait"])["state"] == "JOB_STATE_SUCCEEDED"
    failing = sdk.batches.create(model="gemini-2.5-flash", src=[{"contents": [{"parts": [{"text": "EMULATOR:FAIL_JOB"}]}]}])
    dr, _ = run(scenarios.sensor_dag, run_conf={"job_name": failing.name})
    assert dr.state == "failed"
    error = task_errors.expect("wait", GeminiJobFailedError, f"{failing.name} ended JOB_STATE_FAILED",
                               "Emulated internal failure of the whole batch")
    assert error.job_name == failing.name


def write_input(name, texts):
    path = Path(os.environ["GB_TEST_RESULTS_DIR"], "inputs", name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"key": f"q{i}", "request": {"contents": [{"parts": [{"text": t}]}]}}) + "\n"
                            for i, t in enumerate(texts)))
    return path


def test_expired_job_is_resubmitted_once_on_purpose(gemini_conn, scenarios):
    gemini_conn.configure(pending_seconds=3)
    dr, tis = run_acting_on_the_first_job(gemini_conn, scenarios.expired_resubmit,
                                          lambda name: gemini_conn.force_state(name, "EXPIRED"))
    assert dr.state == "success"
    jobs = gemini_conn.stats()["jobs"]  # newest first
    assert [j["state"] for j in jobs] == ["SUCCEEDED", "EXPIRED"]
    second, first = jobs[0]["displayName"], jobs[1]["displayName"]
    base, fingerprint = first.rsplit("-f", 1)  # the base's own hash may start with "f" too
    assert second == f"{base}-s2-f{fingerprint}"  # same task, same input fingerprint, submission #2
    assert xcom(tis["submit"])["job_name"] == jobs[0]["name"]


def test_cleanup_after_results_are_written(gemini_conn, scenarios):
    write_input("cleanup.jsonl", ["a", "b", "c"])
    dr, tis = run(scenarios.cleanup_all)
    assert dr.state == "success"
    assert len(results_of(scenarios, "gb_cleanup_all")) == 3  # written first
    stats = gemini_conn.stats()
    assert stats["jobs_created"] == 1 and stats["jobs"] == [] and stats["files"] == 0


def test_missing_and_duplicate_results_are_reported(gemini_conn, scenarios):
    write_input("report.jsonl", ["fine", "EMULATOR:DROP_RESULT", "EMULATOR:DUPLICATE_RESULT", "fine too"])
    dr, tis = run(scenarios.results_report)
    assert dr.state == "success"
    results = xcom(tis["submit"])["results"]
    assert results["missing"] == 1 and results["missing_keys"] == ["q1"]
    assert results["duplicate_keys"] == 1 and results["records"] == 4
    assert results["tokens"]["totalTokenCount"] > 0 and results["estimated_cost_usd"] > 0


def test_structured_output_is_validated_and_invalid_output_counted(gemini_conn, scenarios):
    dr, tis = run(scenarios.structured)
    assert dr.state == "success"
    results = xcom(tis["submit"])["results"]
    assert results["ok"] == 2 and results["invalid_output"] == 1
    records = {r["key"]: r for r in results_of(scenarios, "gb_structured")}
    assert set(records["request-000000"]["parsed"]) == {"label", "confidence"}
    bad = records["request-000002"]
    assert bad["status"] == "invalid_output" and "JSON" in bad["validation_error"]
