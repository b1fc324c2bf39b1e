"""Many batch jobs at once, within the project's quota: an Airflow pool caps the jobs in flight, and a
create refused for quota waits (deferred) instead of failing.

The Gemini API runs at most 100 batch jobs per project at once (plus enqueued-token ceilings per model
and tier, and 20 GB of File API storage); an excess create is answered 429 RESOURCE_EXHAUSTED, sometimes
for hours. Two things keep a night of many shards healthy:

1. A pool whose slots count *deferred* tasks, sized to the concurrent-job limit. A submit task waits in
   the triggerer (deferred) for most of its life, so a pool that ignored deferred tasks would cap nothing:

       airflow pools set gemini_batch 100 "Gemini batch jobs in flight" --include-deferred

   (or in the UI: Admin > Pools, "Include Deferred"). Leave room if other tools share the project.
2. The operator itself: a create still refused for quota after the hook's short retries defers on a
   time trigger (no worker slot), retries 1 min later, doubling to 30 min, until ``submit_timeout``
   (default 6 h), each time first looking for a job already created under its display name.

Not scheduled (schedule=None): trigger it by hand, after creating the pool.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from _settings import GENERATE_MODEL, OUTPUT_DIR, POLL_SECONDS
from airflow.sdk import dag, task

from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator

POOL = "gemini_batch"  # slots = the project's concurrent batch-job limit; include_deferred=True
SHARDS = 4


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["gemini", "example"])
def gemini_batch_quota_pool():
    @task
    def shards() -> list[list[dict]]:
        return [[{"key": f"s{s}-q{i}", "request": {"contents": [{"role": "user", "parts": [
            {"text": f"Shard {s}: one line about the number {i}."}]}]}} for i in range(5)] for s in range(SHARDS)]

    GeminiBatchSubmitOperator.partial(
        task_id="submit",
        model=GENERATE_MODEL,
        pool=POOL,                              # one slot per job in flight, deferred waits included
        submit_timeout=timedelta(hours=6),      # how long a quota refusal may last before the task fails
        max_pending_time=None,                  # e.g. timedelta(hours=12): cancel and resubmit once if stuck
        results_path=f"{OUTPUT_DIR}/quota_pool/{{{{ run_id }}}}/results-{{{{ ti.map_index }}}}.jsonl",
        poll_interval=POLL_SECONDS,
    ).expand(requests=shards())


gemini_batch_quota_pool()
