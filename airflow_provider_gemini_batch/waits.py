"""The in-worker wait driver and the seconds helper, shared by the submit operator and the sensor.

It lives here, beside neither of them, so the sensor does not reach into an operator module for private
names (issue 17): `poll_until_done` is the non-deferrable driver of the one wait policy (core/waiting.py),
as GeminiBatchJobTrigger is the deferrable one.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from .core.progress_log import ProgressLog
from .core.states import JobSnapshot
from .core.waiting import CANCEL_THEN_EMIT, WAIT, WaitConfig, WaitProgress, after_cancel, after_poll, classify
from .exceptions import GeminiBatchError
from .hooks.gemini_batch import GeminiBatchHook


def as_seconds(value: timedelta | float | int | None) -> float | None:
    """A timedelta or a number of seconds as seconds; None stays None (no limit)."""
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# The deferred task's own timeout backs up the trigger's deadline (which polls once more and then reports
# a typed timeout): this much later, so the trigger's answer normally arrives first.
BACKSTOP_SLACK = timedelta(hours=1)


def defer_backstop(remaining_seconds: float | None, execution_timeout: timedelta | None) -> timedelta | None:
    """The defer timeout for a wait with `remaining_seconds` until the trigger's deadline (None: no deadline):
    only a backstop should the triggerer never answer, so BACKSTOP_SLACK after that deadline (at least a
    minute from now), and never past execution_timeout, which bounds the whole task."""
    backstop = None if remaining_seconds is None else \
        max(timedelta(minutes=1), timedelta(seconds=remaining_seconds) + BACKSTOP_SLACK)
    if execution_timeout is not None:
        backstop = execution_timeout if backstop is None else min(backstop, execution_timeout)
    return backstop


def poll_until_done(hook: GeminiBatchHook, job_name: str, poll_interval: float, deadline: float | None,
                    cancel_on_timeout: bool, log: Any, *, retry_max_wait_seconds: float | None = None,
                    error_tolerance_seconds: float | None = None, pending_deadline: float | None = None,
                    sleep: Any = time.sleep) -> dict[str, Any]:
    """The non-deferrable driver of the wait policy (core.waiting), as the trigger is the deferrable one: it
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
        return decision.emitted
