"""Issue 13 rule 4 at the operator level: which earlier job a retry picks, and a retry past its deadline.

execute() runs for real against the emulator (through the fault proxy where the list order is the fault);
the task instance and its task state store are small stand-ins."""

from __future__ import annotations

import json
import time
from functools import partial

import pytest

from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator
from tests.conftest import SENTINEL_KEY
from tests.fault_proxy import EditJson, FaultProxy
from tests.standins import StoreStandIn
from tests.standins import TaskInstanceStandIn as _TaskInstance

TaskInstanceStandIn = partial(_TaskInstance, dag_id="identity")


def run_try(try_number, store=None, **kwargs):
    op = GeminiBatchSubmitOperator(task_id="submit", model="gemini-2.5-flash", requests=["a", "b"],
                                   poll_interval=0.2, **{"wait_for_completion": False, **kwargs})
    context = {"ti": TaskInstanceStandIn(try_number)}
    if store is not None:
        context["task_state_store"] = store
    return op.execute(context)


def oldest_first(data):
    data["operations"] = list(reversed(data.get("operations", [])))
    return data


def test_the_latest_submission_is_chosen_whatever_the_list_order(gemini_conn, monkeypatch):
    gemini_conn.configure(pending_seconds=60)
    first = run_try(1)["job_name"]
    gemini_conn.force_state(first, "EXPIRED")
    second = run_try(2)["job_name"]  # the expired job is replaced, on purpose: -s2
    assert second != first
    with FaultProxy(gemini_conn.base_url) as proxy:
        monkeypatch.setenv("AIRFLOW_CONN_GEMINI_DEFAULT", json.dumps({
            "conn_type": "gemini", "host": proxy.base_url, "password": SENTINEL_KEY,
            "extra": {"retry_max_wait_seconds": 0.2, "max_retries": 2}}))
        proxy.script("GET", r"^/v1beta/batches\?", EditJson(oldest_first), times=None)
        third = run_try(3)["job_name"]  # no store: found by display name, in a list that comes oldest first
        assert any(s[2] == "EditJson" for s in proxy.seen)  # the list really came oldest first
    stats = gemini_conn.stats()
    assert third == second and stats["jobs_created"] == 2  # the old code picked found[0], the expired -s1
    names = {j["name"]: j["displayName"] for j in stats["jobs"]}
    assert "-s2-f" in names[second] and "-s2" not in names[first]


def _create_times(rewrite):
    def edit(data):
        for op in data.get("operations", []):
            meta = op.get("metadata") or {}
            if "createTime" in meta:
                meta["createTime"] = rewrite(meta["createTime"])
        data["operations"] = list(reversed(data.get("operations", [])))  # and oldest first
        return data
    return edit


def _one_fraction_digit(text):  # '...T19:00:01.123456Z' -> '...T19:00:01.1Z': RFC 3339, which 3.10 misread
    head, _, rest = text.partition(".")
    return f"{head}.{rest[:1]}Z" if rest else text


@pytest.mark.parametrize("rewrite, expect_newest", [
    (_one_fraction_digit, True),         # valid RFC 3339: the newer duplicate is chosen by its time
    (lambda text: "yesterday", False),   # garbage: no time to go by, but still one of ours, never a new job
], ids=["one-fraction-digit", "garbled"])
def test_a_retry_after_a_lost_create_reply_reattaches_whatever_the_create_times_say(gemini_conn, monkeypatch,
                                                                                    rewrite, expect_newest):
    """A create whose reply was lost and was made again leaves two jobs under one display name; the retry
    must reattach to one of them (the newer when the times can be read) and bill nothing more, with the
    list coming oldest first and createTime written in a form the old parser misread or not a time at all."""
    from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook

    gemini_conn.configure(pending_seconds=60)
    first = run_try(1)["job_name"]
    display_name = {j["name"]: j["displayName"] for j in gemini_conn.stats()["jobs"]}[first]
    time.sleep(0.3)  # a tenth of a second apart at least, so one fraction digit still orders them
    duplicate = GeminiBatchHook().create_batch(
        "gemini-2.5-flash", requests=[{"request": {"contents": [{"parts": [{"text": "a"}]}]}, "metadata": {"key": "k"}}],
        display_name=display_name)["name"]
    with FaultProxy(gemini_conn.base_url) as proxy:
        monkeypatch.setenv("AIRFLOW_CONN_GEMINI_DEFAULT", json.dumps({
            "conn_type": "gemini", "host": proxy.base_url, "password": SENTINEL_KEY,
            "extra": {"retry_max_wait_seconds": 0.2, "max_retries": 2}}))
        proxy.script("GET", r"^/v1beta/batches\?", EditJson(_create_times(rewrite)), times=None)
        reattached = run_try(2)["job_name"]  # no store: found by display name only
        assert any(s[2] == "EditJson" for s in proxy.seen)
    assert gemini_conn.stats()["jobs_created"] == 2  # the two already there: nothing billed by the retry
    assert reattached in (first, duplicate)
    if expect_newest:
        assert reattached == duplicate


def test_a_retry_past_the_deadline_whose_job_finished_goes_straight_to_results(gemini_conn, tmp_path):
    store = StoreStandIn()
    results = tmp_path / "out.jsonl"
    first = run_try(1, store, timeout=0.5)["job_name"]
    time.sleep(1.5)  # the job finished (FAST timings), and the stored deadline has passed
    assert store["gemini_batch_submission"]["deadline"] < time.time()
    summary = run_try(2, store, timeout=0.5, wait_for_completion=True, deferrable=True,
                      results_path=str(results))  # deferrable: a deferral here would raise TaskDeferred
    assert summary["job_name"] == first and summary["state"] == "JOB_STATE_SUCCEEDED"
    assert len(results.read_text().splitlines()) == 2
    assert gemini_conn.stats()["jobs_created"] == 1 and gemini_conn.stats()["jobs"][0]["state"] == "SUCCEEDED"
    assert store["gemini_batch_submission"]["completed"] is True


def test_a_retry_past_the_deadline_whose_job_still_runs_times_out_after_one_last_look(gemini_conn):
    from airflow_provider_gemini_batch.exceptions import GeminiJobTimeoutError

    gemini_conn.configure(pending_seconds=60)
    store = StoreStandIn()
    first = run_try(1, store, timeout=0.3)["job_name"]
    time.sleep(0.5)
    with pytest.raises(GeminiJobTimeoutError, match="deadline passed before .* finished .*still JOB_STATE_PENDING"):
        run_try(2, store, timeout=0.3, wait_for_completion=True, deferrable=False)
    assert gemini_conn.stats()["jobs_created"] == 1
    assert {j["name"]: j["state"] for j in gemini_conn.stats()["jobs"]}[first] == "CANCELLED"


def test_the_job_search_stops_paging_at_jobs_older_than_the_run_only_when_the_list_is_newest_first(
        gemini_conn, monkeypatch):
    from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook

    hook = GeminiBatchHook()
    req = [{"request": {"contents": [{"parts": [{"text": "x"}]}]}, "metadata": {"key": "k"}}]
    for i in range(4):
        hook.create_batch("gemini-2.5-flash", requests=req, display_name=f"old-{i}")
    time.sleep(1.1)
    run_started = time.time()
    for i in range(2):
        hook.create_batch("gemini-2.5-flash", requests=req, display_name=f"new-{i}")
    found = hook.find_jobs(display_name_prefix="new-", newer_than=run_started - 0.5, page_size=2)
    assert sorted(j.display_name for j in found) == ["new-0", "new-1"]
    assert gemini_conn.stats()["calls"]["batches.list"] == 2  # page 2 was all older than the run: stop
    # The same search in a list that comes oldest first cannot stop early: it reads every page (bounded).
    with FaultProxy(gemini_conn.base_url) as proxy:
        monkeypatch.setenv("AIRFLOW_CONN_GEMINI_DEFAULT", json.dumps({
            "conn_type": "gemini", "host": proxy.base_url, "password": SENTINEL_KEY}))
        proxy.script("GET", r"^/v1beta/batches\?", EditJson(oldest_first), times=None)
        found = GeminiBatchHook().find_jobs(display_name_prefix="new-", newer_than=run_started - 0.5, page_size=2)
        assert sorted(j.display_name for j in found) == ["new-0", "new-1"]
        assert gemini_conn.stats()["calls"]["batches.list"] == 2 + 3
        bounded = GeminiBatchHook().find_jobs(display_name_prefix="new-", page_size=2, max_scanned=2)
        # Stopped at the bound: the third job read (first of page 2) is past it, page 3 never asked for.
        assert gemini_conn.stats()["calls"]["batches.list"] == 5 + 2
        assert len(bounded) == 2  # page 1 held both new jobs (the proxy reverses within pages)


def _quota_proxy(gemini_conn, monkeypatch, times):
    from tests.fault_proxy import Status

    proxy = FaultProxy(gemini_conn.base_url).__enter__()
    monkeypatch.setenv("AIRFLOW_CONN_GEMINI_DEFAULT", json.dumps({
        "conn_type": "gemini", "host": proxy.base_url, "password": SENTINEL_KEY,
        "extra": {"retry_max_wait_seconds": 0.05, "max_retries": 1}}))
    proxy.script("POST", r":batchGenerateContent$", Status(429), times=times)
    return proxy


def test_a_quota_refusal_defers_on_a_time_trigger_instead_of_holding_the_worker(gemini_conn, monkeypatch):
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger
    from airflow.sdk.exceptions import TaskDeferred

    proxy = _quota_proxy(gemini_conn, monkeypatch, times=None)
    try:
        store = StoreStandIn()
        before = time.time()
        with pytest.raises(TaskDeferred) as deferred:
            run_try(1, store, quota_retry_initial=60, submit_timeout=3600)
    finally:
        proxy.__exit__(None, None, None)
    trigger = deferred.value.trigger
    assert isinstance(trigger, DateTimeTrigger) and deferred.value.method_name == "execute_after_quota_wait"
    assert 55 <= trigger.moment.timestamp() - before <= 65  # 1 minute, the first step of the backoff
    assert deferred.value.kwargs["quota"]["attempts"] == 1
    assert store["gemini_batch_submission"]["quota"]["attempts"] == 1
    assert gemini_conn.stats()["jobs_created"] == 0


def test_without_deferral_the_same_quota_wait_happens_in_the_worker(gemini_conn, monkeypatch):
    proxy = _quota_proxy(gemini_conn, monkeypatch, times=4)  # two attempts of 2 calls each are refused
    try:
        summary = run_try(1, StoreStandIn(), deferrable=False, quota_retry_initial=0.2, quota_retry_max=0.4,
                          submit_timeout=30)
    finally:
        proxy.__exit__(None, None, None)
    assert summary["job_name"].startswith("batches/") and gemini_conn.stats()["jobs_created"] == 1
