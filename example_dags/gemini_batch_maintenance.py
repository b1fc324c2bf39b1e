"""Maintenance: find this deployment's jobs still waiting after too long, cancel them, and delete
finished jobs older than a retention period, so nothing keeps billing or cluttering the list."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import dag, task

from airflow_provider_gemini_batch.exceptions import GeminiInvalidRequestError
from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook
from airflow_provider_gemini_batch.operators.batch import GeminiBatchListJobsOperator

PREFIX = os.environ.get("GEMINI_BATCH_MAINTENANCE_PREFIX", "airflow-")
STALE_AFTER = timedelta(hours=float(os.environ.get("GEMINI_BATCH_STALE_HOURS", "36")))
KEEP_FINISHED = timedelta(days=float(os.environ.get("GEMINI_BATCH_KEEP_DAYS", "7")))
WAITING = ["JOB_STATE_PENDING", "JOB_STATE_QUEUED", "JOB_STATE_RUNNING", "JOB_STATE_PAUSED"]
FINISHED = ["JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"]


def _age(job: dict) -> timedelta:
    created = datetime.fromisoformat(job["create_time"].replace("Z", "+00:00"))
    return datetime.now(timezone.utc) - created


# Paused on creation: on a fresh deployment it must not run (and go red) before the connection exists.
# Unpause it in the UI once `gemini_default` is set up; `airflow dags test` runs it paused or not.
@dag(schedule="@hourly", start_date=datetime(2026, 1, 1), catchup=False, tags=["gemini", "example"],
     is_paused_upon_creation=True)
def gemini_batch_maintenance():
    waiting = GeminiBatchListJobsOperator(task_id="list_waiting", display_name_prefix=PREFIX, states=WAITING)
    finished = GeminiBatchListJobsOperator(task_id="list_finished", display_name_prefix=PREFIX, states=FINISHED)

    @task
    def cancel_stale(jobs: list[dict]) -> list[str]:
        hook = GeminiBatchHook()
        stale = [j["job_name"] for j in jobs if _age(j) > STALE_AFTER]
        for name in stale:
            try:
                hook.cancel_job(name)
            except GeminiInvalidRequestError as exc:  # it finished between the listing and now
                print(f"{name} was not cancelled: {exc}")
        print(f"cancelled {len(stale)} of {len(jobs)} waiting jobs: {stale}")
        return stale

    @task
    def delete_old(jobs: list[dict]) -> list[str]:
        hook = GeminiBatchHook()
        old = [j["job_name"] for j in jobs if _age(j) > KEEP_FINISHED]
        for name in old:
            hook.delete_job(name)
        print(f"deleted {len(old)} of {len(jobs)} finished jobs")
        return old

    cancel_stale(waiting.output)
    delete_old(finished.output)


gemini_batch_maintenance()
