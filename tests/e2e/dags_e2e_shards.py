"""The quota proof's DAG (tests/e2e/test_realistic_shards.py): GB_E2E_SHARDS mapped submissions against
the realistic emulator profile, more than its concurrent-job limit and token budget admit at once."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator

SHARDS = int(os.environ.get("GB_E2E_SHARDS", "150"))
RESULTS = os.environ.get("GB_E2E_SHARD_RESULTS", "/tmp/gemini-batch-e2e/shards")


def shard(s: int) -> list[dict]:
    # 1 to 3 requests of about 16 tokens each: shards differ in size, so sometimes the token budget
    # and sometimes the job limit is what refuses the next create.
    return [{"key": f"s{s:03d}-r{r}", "request": {"contents": [{"parts": [
        {"text": f"Shard {s:03d} request {r}: summarise the quarterly report in one line."}]}]}}
        for r in range(1 + s % 3)]


# No retries: a task that fails on a 429 would show here as a failed run, not be hidden by a retry.
with DAG("e2e_realistic_shards", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         max_active_tasks=SHARDS + 10, default_args={"retries": 0}) as shards:
    GeminiBatchSubmitOperator.partial(
        task_id="submit", model="gemini-2.5-flash", poll_interval=2, timeout=timedelta(minutes=30),
        # The production backoff (1 min doubling to 30) scaled down, but not below 20 s: a time trigger
        # that fires before the deferring worker process has exited (seconds, on a busy machine) makes
        # Airflow's scheduler fail the task instance ("finished with state success, but the task
        # instance's state attribute is queued"), seen here with a 3 s backoff.
        quota_retry_initial=20, quota_retry_max=float(os.environ.get("GB_E2E_QUOTA_RETRY_MAX", "40")),
        submit_timeout=timedelta(minutes=20),
        results_path=RESULTS + "/{{ ti.map_index }}.jsonl",
    ).expand(requests=[shard(s) for s in range(SHARDS)])
