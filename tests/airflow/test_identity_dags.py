"""Real DAG runs (dag.test(); deferrals, including the quota wait's time trigger, run inline) for issue 13
rule 4 (one identity per task instance: never another run's job, never a silent second bill) and issue 14
section 3 (a create refused for quota waits, deferred, instead of failing)."""

from __future__ import annotations

import importlib.util
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_provider_gemini_batch.exceptions import (
    GeminiJobStuckPendingError,
    GeminiSubmissionGoneError,
    GeminiSubmitTimeoutError,
)
from tests.conftest import DAGS_FOLDER, proxied_connection
from tests.fault_proxy import Status

pytestmark = pytest.mark.usefixtures("airflow_db")
CREATE = r":batchGenerateContent$"


@pytest.fixture(scope="module")
def dags(tmp_path_factory):
    os.environ["GB_TEST_RESULTS_DIR"] = str(tmp_path_factory.mktemp("identity-results"))
    spec = importlib.util.spec_from_file_location("gemini_test_identity", DAGS_FOLDER / "gemini_test_identity.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def clear_keeps_the_run(monkeypatch):
    """dag.test() for a logical date that already has a run first clears its task instances (as "Clear"
    does), then deletes the run and makes a new one, which would also drop the run's task state store.
    A real clear keeps the run: so here the cleared run is kept and set running again."""
    import airflow.models.dagrun as dagrun_module
    from sqlalchemy import select

    original = dagrun_module.get_or_create_dagrun

    def keep_cleared_run(*, dag, run_id, session, **kwargs):
        dr = session.scalar(select(dagrun_module.DagRun).where(dagrun_module.DagRun.dag_id == dag.dag_id,
                                                                 dagrun_module.DagRun.run_id == run_id))
        if dr is None:
            return original(dag=dag, run_id=run_id, session=session, **kwargs)
        dr.state = "running"
        dr.dag = dag
        session.commit()
        return dr

    monkeypatch.setattr(dagrun_module, "get_or_create_dagrun", keep_cleared_run)


def run(dag, logical_date=None):
    # The same logical date and run_after give the same run_id: a second call clears and re-runs that run.
    dr = dag.test(logical_date=logical_date, run_after=logical_date) if logical_date else dag.test()
    return dr, {(ti.task_id, ti.map_index): ti for ti in dr.get_task_instances()}


def a_date(day: int) -> datetime:
    return datetime(2026, 3, day, tzinfo=timezone.utc)


def results(dag_id):
    files = list(Path(os.environ["GB_TEST_RESULTS_DIR"], dag_id).glob("*.jsonl"))
    assert len(files) == 1, files
    return [json.loads(line) for line in files[0].read_text().splitlines()]


def jobs(emu):
    return emu.stats()["jobs"]


# ---------------------------------------------------------------------- billed twice / another run's job
def test_a_static_display_name_never_ties_runs_together(gemini_conn, dags):
    """Run 1, run 2, then run 2 cleared (a retry that searches by name): run 2 only ever sees its own job,
    and run 1's job is neither reattached to, nor cancelled (on_changed_input='cancel_and_resubmit')."""
    run(dags.static_name, a_date(1))
    run(dags.static_name, a_date(2))
    dr, tis = run(dags.static_name, a_date(2))  # cleared: try 2, same run
    assert dr.state == "success"
    listed = {j["displayName"]: j for j in jobs(gemini_conn)}
    assert gemini_conn.stats()["jobs_created"] == 2 and len(listed) == 2
    assert all(name.startswith("nightly-summaries-") for name in listed)
    assert len({name.split("-f")[0] for name in listed}) == 2  # a digest per run
    assert all(j["state"] == "PENDING" for j in listed.values())  # nobody cancelled anybody
    assert tis[("submit", -1)].xcom_pull(task_ids="submit", key="job_name") in {j["name"] for j in listed.values()}


def test_a_static_display_name_never_ties_map_indexes_together(gemini_conn, dags):
    dr, tis = run(dags.static_name_mapped)
    assert dr.state == "success"
    names = [j["displayName"] for j in jobs(gemini_conn)]
    assert len(names) == 3 and len(set(names)) == 3
    assert all(n.startswith("nightly-summaries-") for n in names)
    assert sorted(n.split("-")[2] for n in names) == ["0", "1", "2"]  # the map index is in the name


def test_a_clear_after_success_with_the_job_deleted_bills_nothing_and_says_so(gemini_conn, dags, capfd, task_errors):
    dr, _ = run(dags.cleanup_job, a_date(3))
    assert dr.state == "success" and len(results("gb_cleanup_job_then_clear")) == 3
    assert jobs(gemini_conn) == []  # cleanup deleted it
    capfd.readouterr()
    dr, tis = run(dags.cleanup_job, a_date(3))  # cleared after success
    out = capfd.readouterr()
    text = out.out + out.err
    assert dr.state == "failed" and tis[("submit", -1)].state == "failed"
    assert gemini_conn.stats()["jobs_created"] == 1  # no second bill
    assert "GeminiSubmissionGoneError" in text and "has since been deleted" in text and "resubmit=True" in text
    task_errors.expect("submit", GeminiSubmissionGoneError, "has since been deleted", "resubmit=True")
    assert len(results("gb_cleanup_job_then_clear")) == 3  # the results delivered earlier are untouched


def test_a_clear_after_success_past_the_timeout_redelivers_results_from_the_same_job(gemini_conn, dags):
    dr, _ = run(dags.short_timeout, a_date(4))
    assert dr.state == "success"
    path = next(Path(os.environ["GB_TEST_RESULTS_DIR"], "gb_clear_after_timeout").glob("*.jsonl"))
    path.unlink()
    time.sleep(1.2)  # the stored deadline (timeout=1 s) has passed
    dr, tis = run(dags.short_timeout, a_date(4))
    assert dr.state == "success"
    assert gemini_conn.stats()["jobs_created"] == 1 and jobs(gemini_conn)[0]["state"] == "SUCCEEDED"
    assert len(results("gb_clear_after_timeout")) == 3
    summary = tis[("submit", -1)].xcom_pull(task_ids="submit")
    assert summary["state"] == "JOB_STATE_SUCCEEDED"


def test_a_deliberate_new_submission_is_one_parameter_away(gemini_conn, dags, capfd):
    run(dags.resubmit, a_date(5))
    run(dags.resubmit, a_date(5))  # cleared: same job, no bill
    assert gemini_conn.stats()["jobs_created"] == 1
    dags.resubmit.get_task("submit").resubmit = True
    try:
        capfd.readouterr()
        dr, _ = run(dags.resubmit, a_date(5))  # cleared with resubmit=True
        text = "".join(capfd.readouterr())
    finally:
        dags.resubmit.get_task("submit").resubmit = "{{ params.resubmit }}"
    assert dr.state == "success" and gemini_conn.stats()["jobs_created"] == 2
    assert any("-s2-f" in j["displayName"] for j in jobs(gemini_conn))
    assert "resubmit=True" in text and "submitting a NEW, billed job on purpose" in text


# ---------------------------------------------------------------------- quota-aware submission
@pytest.fixture
def proxied(gemini_conn, monkeypatch):
    with proxied_connection(gemini_conn, monkeypatch, max_retries=2) as p:
        yield p


def test_a_create_refused_for_quota_waits_deferred_then_submits_once(gemini_conn, dags, proxied, capfd):
    # 429 RESOURCE_EXHAUSTED without Retry-After for the first 7 creates: the hook's short retries (3 calls)
    # give up twice, the task defers twice on a time trigger and the third attempt gets through.
    proxied.script("POST", CREATE, Status(429), times=7)
    capfd.readouterr()
    dr, tis = run(dags.quota)
    text = "".join(capfd.readouterr())
    assert dr.state == "success" and len(results("gb_quota_wait")) == 3
    refused = [s for s in proxied.seen if s[0] == "POST" and "batchGenerateContent" in s[1]]
    assert len(refused) == 8 and sum(s[2] == "Status" for s in refused) == 7
    assert gemini_conn.stats()["jobs_created"] == 1
    assert "was refused for quota" in text and "Not failing and not holding a worker slot: deferring" in text
    assert "next attempt at" in text and "(submit_timeout)" in text


def test_a_quota_refusal_past_submit_timeout_fails_saying_so_and_bills_nothing(gemini_conn, dags, proxied, capfd,
                                                                               task_errors):
    proxied.script("POST", CREATE, Status(429), times=None)
    capfd.readouterr()
    dr, tis = run(dags.quota_gives_up)
    text = "".join(capfd.readouterr())
    assert dr.state == "failed" and gemini_conn.stats()["jobs_created"] == 0
    assert "GeminiSubmitTimeoutError" in text and "past submit_timeout=2s" in text and "nothing billed" in text
    task_errors.expect("submit", GeminiSubmitTimeoutError, "past submit_timeout=2s", "nothing billed")


def test_a_job_stuck_pending_is_resubmitted_once_then_the_task_fails_saying_so(gemini_conn, dags, capfd, task_errors):
    capfd.readouterr()
    dr, tis = run(dags.stuck_pending)
    text = "".join(capfd.readouterr())
    assert dr.state == "failed"
    listed = jobs(gemini_conn)
    assert gemini_conn.stats()["jobs_created"] == 2 and all(j["state"] == "CANCELLED" for j in listed)
    assert sorted("-s2-" in j["displayName"] for j in listed) == [False, True]
    assert "GeminiJobStuckPendingError" in text and "already the deliberate resubmission" in text
    second = next(j["name"] for j in listed if "-s2-" in j["displayName"])
    error = task_errors.expect("submit", GeminiJobStuckPendingError, second, "already the deliberate resubmission")
    assert error.job_name == second


def test_the_quota_pool_example_caps_jobs_with_a_deferred_counting_pool(gemini_conn, tmp_path, monkeypatch):
    import sys

    from airflow.models.pool import Pool

    monkeypatch.setenv("GEMINI_BATCH_POLL_SECONDS", "0.2")
    monkeypatch.setenv("GEMINI_BATCH_OUTPUT_DIR", str(tmp_path))
    sys.modules.pop("_settings", None)
    spec = importlib.util.spec_from_file_location("gemini_batch_quota_pool", DAGS_FOLDER / "gemini_batch_quota_pool.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.gemini_batch_quota_pool()
    submit = dag.get_task("submit")
    assert dag.schedule is None and submit.pool == module.POOL == "gemini_batch"
    Pool.create_or_update_pool(module.POOL, slots=2, description="test", include_deferred=True)
    assert Pool.get_pool(module.POOL).include_deferred is True
    dr = dag.test()
    assert dr.state == "success"
    assert gemini_conn.stats()["jobs_created"] == module.SHARDS
    assert len(list(tmp_path.glob("quota_pool/*/results-*.jsonl"))) == module.SHARDS
