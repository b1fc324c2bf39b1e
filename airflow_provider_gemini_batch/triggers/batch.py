"""GeminiBatchJobTrigger: waits in the triggerer for one job to reach a terminal state. It only polls.

It never creates a job (a triggerer restart re-runs run(), and a create here would bill twice),
never blocks the loop, carries a wall-clock deadline that survives restarts, and tolerates a run
of transient errors with backoff before it gives up. It yields exactly one event.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator

from airflow.triggers.base import BaseTrigger, TriggerEvent

from ..events import STATUS_ERROR, STATUS_TERMINAL, STATUS_TIMEOUT, build_event
from ..exceptions import GeminiBatchError, GeminiTransientError, GeminiUnreachableError
from ..hooks.gemini_batch_async import AsyncGeminiBatchHook
from ..progress_log import ProgressLog
from ..retry_policy import backoff_delay
from ..states import parse_job



class GeminiBatchJobTrigger(BaseTrigger):
    """
    :param job_name: ``batches/<id>``.
    :param gemini_conn_id: the connection to read the key from (the key itself is never serialised).
    :param poll_interval: seconds between polls.
    :param deadline: wall-clock epoch seconds after which the wait ends with status ``timeout``;
        computed once at submit so that a triggerer restart does not move it. None: no deadline.
    :param cancel_on_timeout: cancel the remote job when the deadline passes.
    :param cancel_on_kill: cancel the remote job when a user kills the task (mark failed / clear).
    :param max_consecutive_errors: transient poll failures in a row tolerated before giving up.
    """

    def __init__(self, job_name: str, gemini_conn_id: str = "gemini_default", poll_interval: float = 30.0,
                 deadline: float | None = None, cancel_on_timeout: bool = True, cancel_on_kill: bool = True,
                 max_consecutive_errors: int = 10, retry_max_wait_seconds: float = 60.0) -> None:
        super().__init__()
        self.job_name = job_name
        self.gemini_conn_id = gemini_conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.cancel_on_timeout = cancel_on_timeout
        self.cancel_on_kill = cancel_on_kill
        self.max_consecutive_errors = max_consecutive_errors
        self.retry_max_wait_seconds = retry_max_wait_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}", {
            "job_name": self.job_name,
            "gemini_conn_id": self.gemini_conn_id,
            "poll_interval": self.poll_interval,
            "deadline": self.deadline,
            "cancel_on_timeout": self.cancel_on_timeout,
            "cancel_on_kill": self.cancel_on_kill,
            "max_consecutive_errors": self.max_consecutive_errors,
            "retry_max_wait_seconds": self.retry_max_wait_seconds,
        })

    def _event(self, status: str, reason: str, snapshot=None) -> TriggerEvent:
        return TriggerEvent(build_event(status, self.job_name, reason, snapshot))

    def _remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.time()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = AsyncGeminiBatchHook(self.gemini_conn_id)
        errors = 0
        last = None
        progress = ProgressLog(self.job_name, self.deadline)  # logs changes and a heartbeat, not every poll
        try:
            while True:
                remaining = self._remaining()
                if remaining is not None and remaining <= 0:
                    yield await self._timeout(hook, last)
                    return
                try:
                    snapshot = parse_job(await hook.get_job_raw(self.job_name))
                except (GeminiTransientError, GeminiUnreachableError) as exc:
                    errors += 1
                    if errors > self.max_consecutive_errors:
                        yield self._event(STATUS_ERROR, f"gave up after {errors} failed polls in a row: {exc}", last)
                        return
                    delay = backoff_delay(errors, self.retry_max_wait_seconds, initial=1.0)
                    self.log.warning("Polling %s failed (%d in a row, next try in %.1fs): %s",
                                     self.job_name, errors, delay, exc)
                    await asyncio.sleep(_capped(delay, self._remaining()))
                    continue
                except GeminiBatchError as exc:
                    yield self._event(STATUS_ERROR, str(exc), last)
                    return
                errors = 0
                last = snapshot
                if line := progress.snapshot_line(snapshot):
                    self.log.info("%s", line)
                if snapshot.is_terminal:
                    yield self._event(STATUS_TERMINAL, f"job ended {snapshot.state}", snapshot)
                    return
                await asyncio.sleep(_capped(self.poll_interval, self._remaining()))
        finally:
            await hook.close()

    async def _timeout(self, hook: AsyncGeminiBatchHook, last) -> TriggerEvent:
        reason = f"deadline passed before {self.job_name} finished"
        if self.cancel_on_timeout:
            try:
                await hook.cancel_job(self.job_name)
                reason += "; the remote job was cancelled"
            except GeminiBatchError as exc:
                reason += f"; cancelling the remote job failed: {exc}"
        self.log.warning("%s", reason)
        return self._event(STATUS_TIMEOUT, reason, last)

    async def on_kill(self) -> None:
        """The user killed the task (mark failed / clear): stop paying for the job."""
        if not self.cancel_on_kill:
            return
        hook = AsyncGeminiBatchHook(self.gemini_conn_id)
        try:
            await hook.cancel_job(self.job_name)
            self.log.info("Task killed: cancelled %s", self.job_name)
        except GeminiBatchError as exc:
            self.log.warning("Task killed: cancelling %s failed: %s", self.job_name, exc)
        finally:
            await hook.close()


def _capped(delay: float, remaining: float | None) -> float:
    return max(0.0, delay if remaining is None else min(delay, remaining))
