"""GeminiBatchJobSensor: wait (deferred by default) for a job created outside this task."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, Sequence

from airflow.sdk import BaseSensorOperator

from ..core.events import judge_event, validate_event
from ..hooks.gemini_batch import GeminiBatchHook, check_job_name
from ..operators.batch import _default_deferrable, _seconds, poll_until_done
from ..triggers.batch import GeminiBatchJobTrigger


class GeminiBatchJobSensor(BaseSensorOperator):
    """
    Succeeds when the job reaches a successful terminal state; fails (typed error) for FAILED,
    CANCELLED, EXPIRED or too many per-request failures, with the same mapping as the submit operator.
    The sensor does not own the job: it never cancels it unless ``cancel_on_timeout=True``.
    """

    template_fields: Sequence[str] = ("job_name", "gemini_conn_id")

    def __init__(self, *, job_name: str, gemini_conn_id: str = GeminiBatchHook.default_conn_name,
                 deferrable: bool | None = None, poll_interval: float = 60.0, job_timeout: timedelta | float | None = None,
                 cancel_on_timeout: bool = False, max_failed_requests: int | None = None,
                 max_failed_ratio: float | None = None, retry_max_wait_seconds: float | None = None,
                 poll_error_tolerance: timedelta | float | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("poke_interval", poll_interval)
        super().__init__(**kwargs)
        self.job_name = job_name
        self.gemini_conn_id = gemini_conn_id
        self.deferrable = _default_deferrable() if deferrable is None else deferrable
        self.poll_interval = poll_interval
        self.job_timeout = job_timeout
        self.cancel_on_timeout = cancel_on_timeout
        self.max_failed_requests = max_failed_requests
        self.max_failed_ratio = max_failed_ratio
        self.retry_max_wait_seconds = retry_max_wait_seconds
        self.poll_error_tolerance = poll_error_tolerance

    def execute(self, context: Any) -> Any:
        check_job_name(self.job_name)
        seconds = _seconds(self.job_timeout)
        deadline = None if seconds is None else time.time() + seconds
        hook = GeminiBatchHook(self.gemini_conn_id)
        # The same wait settings for both drivers (issue 13, rule 5).
        settings = {"retry_max_wait_seconds": float(self.retry_max_wait_seconds if self.retry_max_wait_seconds
                                                    is not None else hook.settings.retry_max_wait_seconds),
                    "error_tolerance_seconds": _seconds(self.poll_error_tolerance)}
        if self.deferrable:
            self.defer(
                trigger=GeminiBatchJobTrigger(job_name=self.job_name, gemini_conn_id=self.gemini_conn_id,
                                              poll_interval=self.poll_interval, deadline=deadline,
                                              cancel_on_timeout=self.cancel_on_timeout, cancel_on_kill=False,
                                              **settings),
                method_name="execute_complete",
            )
        event = poll_until_done(hook, self.job_name, self.poll_interval, deadline, self.cancel_on_timeout, self.log,
                                **settings)
        return self.execute_complete(context, event)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        event = validate_event(event)
        verdict = judge_event(event, self.max_failed_requests, self.max_failed_ratio)
        self.log.info("%s: %s", self.job_name, verdict)
        return {"job_name": event.get("job_name"), "state": event.get("state"), "counts": event.get("counts")}

    def poke(self, context: Any) -> bool:  # BaseSensorOperator requires it; execute() drives the wait
        return GeminiBatchHook(self.gemini_conn_id).get_snapshot(self.job_name).is_terminal
