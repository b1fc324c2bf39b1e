"""The one event both wait drivers (trigger and in-worker polling) end with, and what it means.

Pure: the operator turns an event into a summary or a typed exception here, so deferrable and
non-deferrable runs cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import (
    GeminiEventError,
    GeminiJobCancelledError,
    GeminiJobExpiredError,
    GeminiJobFailedError,
    GeminiJobStuckPendingError,
    GeminiJobTimeoutError,
    GeminiPartialFailureError,
    GeminiWaitError,
)
from .states import JobSnapshot, Outcome, judge_failures, outcome_of

STATUS_TERMINAL = "terminal"   # the job reached a terminal state; `state` says which
STATUS_TIMEOUT = "timeout"     # our deadline passed first
STATUS_ERROR = "error"         # we could not learn the state (auth, not found, too many transient errors)
STATUS_STUCK = "stuck_pending"  # still PENDING past max_pending_time; the job was cancelled
STATUSES = (STATUS_TERMINAL, STATUS_TIMEOUT, STATUS_ERROR, STATUS_STUCK)

# The event is a contract between a trigger serialised by one provider version and execute_complete
# run by (possibly) another: it carries its version, and execute_complete refuses what it cannot read.
EVENT_VERSION = 1
_OPTIONAL_TEXT = ("state", "display_name", "model", "responses_file")


def build_event(status: str, job_name: str, reason: str, snapshot: JobSnapshot | None = None,
                error: dict | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"version": EVENT_VERSION, "status": status, "job_name": job_name,
                               "reason": reason, "state": None, "counts": None, "error": error}
    if snapshot is not None:
        payload.update(state=snapshot.state, counts=snapshot.counts(), error=snapshot.error or error,
                       display_name=snapshot.display_name, model=snapshot.model,
                       responses_file=snapshot.responses_file)
    return payload


def validate_event(event: Any) -> dict[str, Any]:
    """The event as execute_complete may rely on it, or GeminiEventError saying what is wrong. A None
    event (a trigger that died without yielding) or a foreign payload fails loudly, never as a KeyError
    or, worse, as a success with nothing written."""
    if event is None:
        raise GeminiEventError("The wait ended with no event (None): the trigger yielded nothing usable. "
                               "Clear the task to look at the job again (it is found by its display name).")
    if not isinstance(event, dict):
        raise GeminiEventError(f"The wait ended with an event of type {type(event).__name__}, not a dict: "
                               f"{event!r:.200}")
    version = event.get("version")
    # No version: an event from a trigger of the provider before versioning (deferred across an upgrade),
    # which had exactly version 1's fields: read it as such. Any other version is refused.
    if version is not None and version != EVENT_VERSION:
        raise GeminiEventError(f"The wait ended with an event of version {version!r}; this provider reads version "
                               f"{EVENT_VERSION}. Was the triggerer running another provider version? Clear the task "
                               f"to wait again with this one. Event: {_short(event)}")
    problems = []
    if event.get("status") not in STATUSES:
        problems.append(f"status {event.get('status')!r} is not one of {list(STATUSES)}")
    job = event.get("job_name")
    if not isinstance(job, str) or not job.startswith("batches/"):
        problems.append(f"job_name {job!r} is not 'batches/<id>'")
    if not isinstance(event.get("reason"), str):
        problems.append("reason is missing")
    for name in _OPTIONAL_TEXT:
        if event.get(name) is not None and not isinstance(event.get(name), str):
            problems.append(f"{name} is not text")
    counts = event.get("counts")
    if counts is not None and not (isinstance(counts, dict) and all(isinstance(v, int) for v in counts.values())):
        problems.append("counts is not a mapping of integers")
    if event.get("status") == STATUS_TERMINAL and not event.get("state"):
        problems.append("a terminal event has no state")
    if event.get("error") is not None and not isinstance(event.get("error"), dict):
        problems.append("error is not an object")
    if problems:
        raise GeminiEventError(f"The wait ended with a malformed event ({'; '.join(problems)}): {_short(event)}")
    return event


def _short(event: dict) -> str:
    text = repr(event)
    return text if len(text) <= 300 else text[:300] + "..."


def setting(name: str, seconds: float | None) -> str | None:
    """'timeout=1.5s': how an error names the setting behind a limit (None: no limit was set)."""
    return None if seconds is None else f"{name}={seconds:g}s"


def judge_event(event: dict[str, Any], max_failed_requests: int | None, max_failed_ratio: float | None,
                timeout_setting: str | None = None) -> str:
    """Raise the typed error the event calls for; return a one-line verdict when the task may succeed."""
    event = validate_event(event)
    job = event.get("job_name")
    status = event.get("status")
    state = event.get("state")
    if status == STATUS_TIMEOUT:
        # Name the setting that set the deadline: the fix is to raise it (or make the job smaller).
        hint = f" (the deadline was {timeout_setting}: raise it to wait longer)" if timeout_setting else ""
        raise GeminiJobTimeoutError(f"{job}: {event.get('reason')}{hint}", job_name=job, state=state)
    if status == STATUS_STUCK:
        raise GeminiJobStuckPendingError(f"{job}: {event.get('reason')}", job_name=job, state=state)
    if status != STATUS_TERMINAL:
        raise GeminiWaitError(f"Waiting for {job} failed: {event.get('reason')}")
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
