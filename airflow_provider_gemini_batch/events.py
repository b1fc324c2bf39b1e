"""The one event both wait drivers (trigger and in-worker polling) end with, and what it means.

Pure: the operator turns an event into a summary or a typed exception here, so deferrable and
non-deferrable runs cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from .exceptions import (
    GeminiBatchError,
    GeminiJobCancelledError,
    GeminiJobExpiredError,
    GeminiJobFailedError,
    GeminiJobTimeoutError,
    GeminiPartialFailureError,
)
from .states import JobSnapshot, Outcome, judge_failures, outcome_of

STATUS_TERMINAL = "terminal"   # the job reached a terminal state; `state` says which
STATUS_TIMEOUT = "timeout"     # our deadline passed first
STATUS_ERROR = "error"         # we could not learn the state (auth, not found, too many transient errors)


def build_event(status: str, job_name: str, reason: str, snapshot: JobSnapshot | None = None,
                error: dict | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"status": status, "job_name": job_name, "reason": reason,
                               "state": None, "counts": None, "error": error}
    if snapshot is not None:
        payload.update(state=snapshot.state, counts=snapshot.counts(), error=snapshot.error or error,
                       display_name=snapshot.display_name, model=snapshot.model,
                       responses_file=snapshot.responses_file)
    return payload


def judge_event(event: dict[str, Any], max_failed_requests: int | None, max_failed_ratio: float | None) -> str:
    """Raise the typed error the event calls for; return a one-line verdict when the task may succeed."""
    job = event.get("job_name")
    status = event.get("status")
    state = event.get("state")
    if status == STATUS_TIMEOUT:
        raise GeminiJobTimeoutError(f"{job}: {event.get('reason')}", job_name=job, state=state)
    if status != STATUS_TERMINAL:
        raise GeminiBatchError(f"Waiting for {job} failed: {event.get('reason')}")
    outcome = outcome_of(state)
    error = event.get("error") or {}
    detail = f": {error.get('message')} (code {error.get('code')})" if error else ""
    if outcome is Outcome.FAILED:
        raise GeminiJobFailedError(f"{job} ended {state}{detail}", job_name=job, state=state)
    if outcome is Outcome.CANCELLED:
        raise GeminiJobCancelledError(f"{job} was cancelled ({state}){detail}; its results, if any, are partial",
                                      job_name=job, state=state)
    if outcome is Outcome.EXPIRED:
        raise GeminiJobExpiredError(
            f"{job} EXPIRED: it was not finished within 48 hours and has no results. Resubmit it (retry the task: "
            f"a new job is created for a job that expired) or split the input into smaller batches.",
            job_name=job, state=state)
    counts = event.get("counts") or {}
    verdict = judge_failures(int(counts.get("failed") or 0), int(counts.get("requests") or 0),
                             max_failed_requests, max_failed_ratio)
    if not verdict.ok:
        raise GeminiPartialFailureError(f"{job} ended {state}, but {verdict.reason}", job_name=job, state=state)
    return verdict.reason
