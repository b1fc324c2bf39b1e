"""A retry looks for its task instance's job by display name without reading the whole account's job
list: paging stops at the first page of jobs older than the run (jobs list newest first), and a run
whose start is unknown reads on up to the search bound. Counted in the emulator's batches.list calls."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from functools import partial

from airflow_provider_gemini_batch.core.submission_ledger import CLOCK_SLACK
from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook
from airflow_provider_gemini_batch.operators import submit
from airflow_provider_gemini_batch.operators.submit import GeminiBatchSubmitOperator
from tests.standins import TaskInstanceStandIn as _TaskInstance

TaskInstanceStandIn = partial(_TaskInstance, dag_id="bounded")


class DagRunStandIn:
    def __init__(self, run_after: float):
        self.run_after = datetime.fromtimestamp(run_after, timezone.utc)
        self.logical_date = self.queued_at = None


def run_try(try_number, dag_run=None, store=None):
    op = GeminiBatchSubmitOperator(task_id="submit", model="gemini-2.5-flash", requests=["a", "b"],
                                   wait_for_completion=False)
    context = {"ti": TaskInstanceStandIn(try_number), "dag_run": dag_run}
    if store is not None:
        context["task_state_store"] = store
    return op.execute(context)


def test_a_retry_stops_paging_at_jobs_older_than_its_run(gemini_conn, monkeypatch):
    monkeypatch.setattr(submit, "SEARCH_PAGE_SIZE", 2)  # scaled down: 7 jobs make 4 pages
    hook = GeminiBatchHook()
    req = [{"request": {"contents": [{"parts": [{"text": "x"}]}]}, "metadata": {"key": "k"}}]
    for i in range(6):  # other tasks' jobs, from before this run
        hook.create_batch("gemini-2.5-flash", requests=req, display_name=f"someone-else-{i}")
    time.sleep(1.1)
    # The run started now (less the clock slack the search allows): the six jobs above are older than it.
    run = DagRunStandIn(time.time() + CLOCK_SLACK - 0.5)
    first = run_try(1, run)["job_name"]
    lists = gemini_conn.stats()["calls"].get("batches.list", 0)
    assert lists == 0  # a first try without a record has nothing to look for

    # The first try's create reply was lost (no store): the retry finds the job by display name on page
    # 1 (it and one old job), sees page 2 entirely older than the run, and stops there.
    assert run_try(2, run)["job_name"] == first
    assert gemini_conn.stats()["calls"]["batches.list"] == 2
    assert gemini_conn.stats()["jobs_created"] == 7  # reattached, nothing submitted again

    # Without the run's start the same search cannot stop early: it reads every page (up to the bound).
    assert run_try(2, None)["job_name"] == first
    assert gemini_conn.stats()["calls"]["batches.list"] == 2 + 4
    assert gemini_conn.stats()["jobs_created"] == 7
