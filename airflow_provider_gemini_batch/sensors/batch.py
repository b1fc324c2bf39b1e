"""GeminiBatchJobSensor: wait (deferred by default) for a job created outside this task.

A real sensor: `poke()` judges one snapshot of the job, so with ``deferrable=False`` Airflow's own
BaseSensorOperator.execute drives the wait and ``mode="reschedule"``, ``poke_interval``, ``timeout``,
``soft_fail`` and ``exponential_backoff`` mean what they mean for every other sensor. Deferred, the
sensor's ``timeout`` becomes the trigger's deadline and its ``poke_interval`` the trigger's poll interval.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from ..compat import AirflowSensorTimeout, AirflowSkipException
from ..core.events import STATUS_TIMEOUT, judge_event, setting, validate_event
from ..core.waiting import EMIT, WaitConfig, WaitProgress, after_poll, classify
from ..defaults import default_deferrable
from ..exceptions import GeminiBatchError, GeminiRequestError
from ..hooks.gemini_batch import GeminiBatchHook, check_job_name
from ..triggers.batch import GeminiBatchJobTrigger
from ..waits import as_seconds, defer_backstop


class GeminiBatchJobSensor(BaseSensorOperator):
    """
    Succeeds when the job reaches a successful terminal state; fails (typed error) for FAILED,
    CANCELLED, EXPIRED or too many per-request failures, with the same mapping as the submit operator.
    The sensor does not own the job: it never cancels it unless ``cancel_on_timeout=True``.

    :param job_name: ``batches/<id>`` (templated).
    :param deferrable: wait in the triggerer (default: ``[gemini_batch] default_deferrable``, True, unless
        the site set ``[operators] default_deferrable = False``). False: BaseSensorOperator pokes.
    :param poll_interval: seconds between polls, the same word as the submit operator's; another name
        for ``poke_interval`` (give one of them). Default 60.
    :param timeout: how long to wait (seconds or timedelta), as for every sensor (default 7 days).
        Deferred, it is the trigger's deadline.
    :param cancel_on_timeout: cancel the remote job when the timeout passes (default False).
    :param max_failed_requests: per-request failures tolerated (count).
    :param max_failed_ratio: per-request failures tolerated (fraction).
    :param retry_max_wait_seconds: the longest pause between failed polls (deferred; default: the
        connection's).
    :param poll_error_tolerance: how long polls may keep failing transiently (deferred) before the wait
        gives up; default: until ``timeout``.
    :param job_timeout: deprecated: use ``timeout``.
    """

    template_fields: Sequence[str] = ("job_name", "gemini_conn_id")

    def __init__(self, *, job_name: str, gemini_conn_id: str = GeminiBatchHook.default_conn_name,
                 deferrable: bool | None = None, poll_interval: float | timedelta | None = None,
                 job_timeout: timedelta | float | None = None, cancel_on_timeout: bool = False,
                 max_failed_requests: int | None = None, max_failed_ratio: float | None = None,
                 retry_max_wait_seconds: float | None = None,
                 poll_error_tolerance: timedelta | float | None = None, **kwargs: Any) -> None:
        if poll_interval is not None:
            if "poke_interval" in kwargs and as_seconds(kwargs["poke_interval"]) != as_seconds(poll_interval):
                raise GeminiRequestError(
                    f"poll_interval={poll_interval!r} and poke_interval={kwargs['poke_interval']!r} disagree: they "
                    "are one setting (seconds between polls); give one of them", location="poll_interval")
            kwargs["poke_interval"] = poll_interval
        if job_timeout is not None:
            warnings.warn("GeminiBatchJobSensor(job_timeout=...) is deprecated: use timeout=, the sensor's own "
                          "(and the submit operator's) name for it", DeprecationWarning, stacklevel=2)
            if kwargs.get("timeout") is not None and as_seconds(kwargs["timeout"]) != as_seconds(job_timeout):
                raise GeminiRequestError(
                    f"job_timeout={job_timeout!r} and timeout={kwargs['timeout']!r} disagree: job_timeout is the "
                    "deprecated name of timeout; give timeout only", location="job_timeout")
            kwargs["timeout"] = job_timeout
        super().__init__(**kwargs)
        self.job_name = job_name
        self.gemini_conn_id = gemini_conn_id
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.cancel_on_timeout = cancel_on_timeout
        self.max_failed_requests = max_failed_requests
        self.max_failed_ratio = max_failed_ratio
        self.retry_max_wait_seconds = retry_max_wait_seconds
        self.poll_error_tolerance = poll_error_tolerance

    # The old attribute names, read-only, for code that inspected them.
    @property
    def poll_interval(self) -> float:
        return self.poke_interval

    @property
    def job_timeout(self) -> float:
        return self.timeout

    @property
    def hook(self) -> GeminiBatchHook:
        if getattr(self, "_hook", None) is None:
            self._hook = GeminiBatchHook(self.gemini_conn_id)
        return self._hook

    def execute(self, context: Any) -> Any:
        check_job_name(self.job_name)
        if not self.deferrable:
            return self._poke_until_done(context)
        # The trigger's deadline is the sensor's timeout from now (a retry starts a fresh wait, as a
        # poking sensor's does).
        deadline = time.time() + self.timeout
        self.defer(
            trigger=GeminiBatchJobTrigger(
                job_name=self.job_name, gemini_conn_id=self.gemini_conn_id, poll_interval=self.poke_interval,
                deadline=deadline, cancel_on_timeout=self.cancel_on_timeout, cancel_on_kill=False,
                retry_max_wait_seconds=float(self.retry_max_wait_seconds if self.retry_max_wait_seconds is not None
                                             else self.hook.settings.retry_max_wait_seconds),
                error_tolerance_seconds=as_seconds(self.poll_error_tolerance)),
            method_name="execute_complete",
            timeout=defer_backstop(self.timeout, self.execution_timeout),
        )

    def _poke_until_done(self, context: Any) -> Any:
        """BaseSensorOperator's loop (poke / reschedule, timeout, soft_fail, backoff); the job is cancelled
        when that loop times out and cancel_on_timeout asks for it."""
        try:
            return super().execute(context)
        except (AirflowSensorTimeout, AirflowSkipException) as exc:
            if self.cancel_on_timeout and "timed out" in str(exc):
                self._cancel_after_timeout()
            raise

    def _cancel_after_timeout(self) -> None:
        try:
            self.hook.cancel_job(self.job_name)
            self.log.warning("Timed out waiting for %s: cancelled it (cancel_on_timeout=True).", self.job_name)
        except GeminiBatchError as exc:
            self.log.warning("Timed out waiting for %s; cancelling it failed: %s", self.job_name, exc)

    def poke(self, context: Any) -> bool | PokeReturnValue:
        """One look at the job, judged by the same policy and outcome mapping as every wait: False while it
        runs (or while a poll fails transiently: the sensor's timeout bounds that), the summary once it
        succeeded, the typed error (GeminiJobFailedError, GeminiPartialFailureError, ...) once it did not."""
        try:
            result: Any = self.hook.get_snapshot(self.job_name)
        except GeminiBatchError as exc:
            result = classify(exc)
        decision = after_poll(WaitConfig(job_name=self.job_name, poll_interval=self.poke_interval,
                                         cancel_on_timeout=False), WaitProgress(), result, time.time())
        if decision.action != EMIT:
            if decision.note:
                self.log.warning("%s", decision.note)
            else:
                self.log.info("%s", result.describe())
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._judge(decision.emitted))

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        event = validate_event(event)
        if event["status"] == STATUS_TIMEOUT and self.soft_fail:
            # As a poking sensor's timeout does under soft_fail: skip, saying why (logged too: some Airflow
            # releases replace the skip's message with their own generic one).
            message = f"{self.job_name}: {event.get('reason')}; soft_fail=True: skipping the task"
            self.log.warning("%s", message)
            raise AirflowSkipException(message)
        return self._judge(event)

    def _judge(self, event: dict[str, Any]) -> dict[str, Any]:
        verdict = judge_event(event, self.max_failed_requests, self.max_failed_ratio,
                              timeout_setting=setting("timeout", self.timeout))
        self.log.info("%s: %s", self.job_name, verdict)
        return {"job_name": event.get("job_name"), "state": event.get("state"), "counts": event.get("counts")}
