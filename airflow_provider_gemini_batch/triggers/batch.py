"""GeminiBatchJobTrigger: waits in the triggerer for one job to reach a terminal state. It only polls.

It never creates a job (a triggerer restart re-runs run(), and a create here would bill twice),
never blocks the loop, and carries a wall-clock deadline that survives restarts. What to do after each
poll (keep waiting and how long, cancel, emit) is decided by the pure policy in ..waiting, the same
one the in-worker wait follows. It yields exactly one event (events.EVENT_VERSION).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from ..core.progress_log import ProgressLog
from ..core.states import parse_job
from ..core.waiting import CANCEL_THEN_EMIT, WAIT, WaitConfig, WaitProgress, after_cancel, after_poll, classify
from ..exceptions import GeminiBatchError
from ..hooks.gemini_batch_async import AsyncGeminiBatchHook


class GeminiBatchJobTrigger(BaseTrigger):
    """
    :param job_name: ``batches/<id>``.
    :param gemini_conn_id: the connection to read the key from (the key itself is never serialised).
    :param poll_interval: seconds between polls.
    :param deadline: wall-clock epoch seconds after which the wait ends with status ``timeout`` (after one
        last poll); computed once at submit so that a triggerer restart does not move it. None: no deadline.
    :param cancel_on_timeout: cancel the remote job when the deadline passes.
    :param cancel_on_kill: cancel the remote job when a user kills the task (mark failed / clear).
    :param retry_max_wait_seconds: the longest backoff between failed polls (a server's Retry-After wins).
    :param error_tolerance_seconds: how long polls may keep failing transiently before the wait gives up;
        None: until the deadline.
    :param pending_deadline: epoch seconds; a job still PENDING then is cancelled (``stuck_pending``).
    :param max_consecutive_errors: accepted for triggers serialised by older versions; ignored (errors are
        tolerated by time now, not by count).
    """

    def __init__(self, job_name: str, gemini_conn_id: str = "gemini_default", poll_interval: float = 30.0,
                 deadline: float | None = None, cancel_on_timeout: bool = True, cancel_on_kill: bool = True,
                 max_consecutive_errors: int | None = None, retry_max_wait_seconds: float = 60.0,
                 error_tolerance_seconds: float | None = None, pending_deadline: float | None = None) -> None:
        super().__init__()
        self.job_name = job_name
        self.gemini_conn_id = gemini_conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.cancel_on_timeout = cancel_on_timeout
        self.cancel_on_kill = cancel_on_kill
        self.retry_max_wait_seconds = retry_max_wait_seconds
        self.error_tolerance_seconds = error_tolerance_seconds
        self.pending_deadline = pending_deadline

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}", {
            "job_name": self.job_name,
            "gemini_conn_id": self.gemini_conn_id,
            "poll_interval": self.poll_interval,
            "deadline": self.deadline,
            "cancel_on_timeout": self.cancel_on_timeout,
            "cancel_on_kill": self.cancel_on_kill,
            "retry_max_wait_seconds": self.retry_max_wait_seconds,
            "error_tolerance_seconds": self.error_tolerance_seconds,
            "pending_deadline": self.pending_deadline,
        })

    def config(self) -> WaitConfig:
        return WaitConfig(job_name=self.job_name, poll_interval=self.poll_interval, deadline=self.deadline,
                          cancel_on_timeout=self.cancel_on_timeout, retry_max_wait_seconds=self.retry_max_wait_seconds,
                          error_tolerance_seconds=self.error_tolerance_seconds, pending_deadline=self.pending_deadline)

    async def _poll(self, hook: AsyncGeminiBatchHook):
        try:
            return parse_job(await hook.get_job_raw(self.job_name))
        except GeminiBatchError as exc:
            return classify(exc)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = AsyncGeminiBatchHook(self.gemini_conn_id)
        cfg, progress = self.config(), WaitProgress()
        lines = ProgressLog(self.job_name, self.deadline)  # logs changes and a heartbeat, not every poll
        try:
            while True:
                result = await self._poll(hook)
                if hasattr(result, "describe") and (line := lines.snapshot_line(result)):
                    self.log.info("%s", line)
                decision = after_poll(cfg, progress, result, time.time())
                if decision.note:
                    self.log.warning("%s", decision.note)
                if decision.action == WAIT:
                    await asyncio.sleep(decision.delay)
                    continue
                if decision.action == CANCEL_THEN_EMIT:
                    cancel_error = None
                    try:
                        await hook.cancel_job(self.job_name)
                    except GeminiBatchError as exc:
                        cancel_error = str(exc)
                    decision = after_cancel(cfg, progress, cancel_error, await self._poll(hook), time.time())
                self.log.info("%s: %s", self.job_name, decision.emitted["reason"])
                yield TriggerEvent(decision.emitted)
                return
        finally:
            await hook.close()

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
