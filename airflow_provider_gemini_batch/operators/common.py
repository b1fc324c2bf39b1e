"""What the submit and housekeeping operators (and the sensor) share: durations, the cleanup option, and
the in-worker wait driver."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, Iterable

from ..core.progress_log import ProgressLog
from ..core.states import JobSnapshot
from ..core.waiting import CANCEL_THEN_EMIT, WAIT, WaitConfig, WaitProgress, after_cancel, after_poll, classify
from ..exceptions import GeminiBatchError, GeminiRequestError
from ..hooks.gemini_batch import GeminiBatchHook

CLEANUP_CHOICES = {"input_file", "result_file", "job"}


def _seconds(value: timedelta | float | int | None) -> float | None:
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _cleanup_set(cleanup: Iterable[str] | str | None) -> set[str]:
    chosen = {cleanup} if isinstance(cleanup, str) else set(cleanup or ())
    unknown = chosen - CLEANUP_CHOICES
    if unknown:
        raise GeminiRequestError(f"unknown cleanup option(s) {sorted(unknown)}; choose from {sorted(CLEANUP_CHOICES)}",
                                 location="cleanup")
    return chosen


# ---------------------------------------------------------------------- the in-worker wait driver
def poll_until_done(hook: GeminiBatchHook, job_name: str, poll_interval: float, deadline: float | None,
                    cancel_on_timeout: bool, log: Any, *, retry_max_wait_seconds: float | None = None,
                    error_tolerance_seconds: float | None = None, pending_deadline: float | None = None,
                    sleep: Any = time.sleep) -> dict[str, Any]:
    """The non-deferrable driver of the wait policy (..waiting), as the trigger is the deferrable one: it
    polls (one try per poll: the policy owns the backoff), sleeps and cancels as the policy says, and
    returns the same event."""
    cfg = WaitConfig(job_name=job_name, poll_interval=poll_interval, deadline=deadline,
                     cancel_on_timeout=cancel_on_timeout,
                     retry_max_wait_seconds=(retry_max_wait_seconds if retry_max_wait_seconds is not None
                                             else hook.settings.retry_max_wait_seconds),
                     error_tolerance_seconds=error_tolerance_seconds, pending_deadline=pending_deadline)
    progress = WaitProgress()

    def poll():
        try:
            return hook.get_snapshot(job_name, attempts=0)
        except GeminiBatchError as exc:
            return classify(exc)

    lines = ProgressLog(job_name, deadline)  # logs changes and a heartbeat, not every poll
    while True:
        result = poll()
        if isinstance(result, JobSnapshot) and (line := lines.snapshot_line(result)):
            log.info("%s", line)
        decision = after_poll(cfg, progress, result, time.time())
        if decision.note:
            log.warning("%s", decision.note)
        if decision.action == WAIT:
            sleep(decision.delay)
            continue
        if decision.action == CANCEL_THEN_EMIT:
            cancel_error = None
            try:
                hook.cancel_job(job_name)
            except GeminiBatchError as exc:
                cancel_error = str(exc)
            decision = after_cancel(cfg, progress, cancel_error, poll(), time.time())
        return decision.event

