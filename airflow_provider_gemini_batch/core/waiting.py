"""The one wait policy. Pure: no I/O, no Airflow, no clock of its own.

Both wait drivers (the trigger in the triggerer, `poll_until_done` in a worker) do only the I/O: poll the
job, sleep, cancel. After every poll they hand what they saw (a snapshot or a classified error) and the
time to `after_poll`, and do what it says: keep waiting (for `delay` seconds), cancel then poll once more
and ask `after_cancel`, or emit the event. So the two cannot drift apart in tolerance, backoff or deadline
handling again.

The rules (issue 13, rule 5):
- a terminal state is emitted whenever it is seen, even past the deadline: a finished job is never
  reported as timed out;
- the deadline is checked only *after* a poll: every driver polls once more at the deadline before it
  declares a timeout, and after cancelling polls again, so a job that finished in between wins;
- transient poll errors (429, 5xx, dropped connections, malformed 200 bodies) are tolerated by time: until
  the deadline (or `error_tolerance_seconds`), never by a small count, with the shared backoff that obeys
  Retry-After / RetryInfo, capped by the deadline;
- an unknown state reported with `done: true` ends the wait with an error quoting it (an unknown state
  still running keeps us waiting: it may be a new non-terminal state);
- optional `pending_deadline`: a job still PENDING then is cancelled and reported `stuck_pending`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .events import STATUS_ERROR, STATUS_STUCK, STATUS_TERMINAL, STATUS_TIMEOUT, build_event
from .retry_policy import next_delay
from .states import JobSnapshot, Outcome, is_known_state, is_pending

WAIT = "wait"
CANCEL_THEN_EMIT = "cancel_then_emit"
EMIT = "emit"
# Without a deadline, transient poll errors are tolerated this long in a row before the wait gives up.
DEFAULT_ERROR_TOLERANCE_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class WaitConfig:
    job_name: str
    poll_interval: float
    deadline: float | None = None
    cancel_on_timeout: bool = True
    retry_max_wait_seconds: float = 60.0
    error_tolerance_seconds: float | None = None  # None: until the deadline (or the default without one)
    pending_deadline: float | None = None  # epoch seconds; None: no max_pending_time
    error_backoff_initial: float = 1.0


@dataclass(frozen=True)
class PollError:
    """A failed poll, classified by the driver: transient (retry) or not (end the wait)."""

    message: str
    transient: bool
    retry_after: float | None = None


PollResult = JobSnapshot | PollError


@dataclass
class WaitProgress:
    """What the policy remembers between polls (the driver keeps it, the policy updates it)."""

    errors: int = 0
    failing_since: float | None = None
    last: JobSnapshot | None = None
    last_error: str | None = None
    timing_out: str | None = None  # STATUS_TIMEOUT or STATUS_STUCK once a cancel was asked for
    timing_out_why: str = ""


@dataclass(frozen=True)
class Decision:
    action: str
    delay: float = 0.0
    event: dict | None = None
    note: str = ""  # a log line for the driver

    @property
    def emitted(self) -> dict:
        """The event of an EMIT decision (every emitting decision carries one)."""
        if self.event is None:
            raise ValueError(f"a {self.action} decision has no event")
        return self.event


def _event(cfg: WaitConfig, status: str, reason: str, progress: WaitProgress) -> dict:
    return build_event(status, cfg.job_name, reason, progress.last)


def _remaining(cfg: WaitConfig, now: float) -> float | None:
    return None if cfg.deadline is None else cfg.deadline - now


def after_poll(cfg: WaitConfig, progress: WaitProgress, result: PollResult, now: float) -> Decision:
    """What to do after one poll that saw `result` at time `now`."""
    remaining = _remaining(cfg, now)
    if isinstance(result, PollError):
        if not result.transient:
            return Decision(EMIT, event=_event(cfg, STATUS_ERROR, result.message, progress))
        progress.errors += 1
        progress.failing_since = progress.failing_since if progress.failing_since is not None else now
        progress.last_error = result.message
        if remaining is not None and remaining <= 0:
            return _timeout(cfg, progress, f"the last poll failed ({result.message})")
        tolerance = cfg.error_tolerance_seconds
        if tolerance is None and cfg.deadline is None:
            tolerance = DEFAULT_ERROR_TOLERANCE_SECONDS
        failing_for = now - progress.failing_since
        if tolerance is not None and failing_for > tolerance:
            return Decision(EMIT, event=_event(
                cfg, STATUS_ERROR, f"gave up after polls failed for {failing_for:.0f}s ({progress.errors} in a row, "
                                   f"tolerance {tolerance:.0f}s): {result.message}", progress))
        delay = next_delay(progress.errors, cfg.retry_max_wait_seconds, cfg.error_backoff_initial,
                           hint=result.retry_after, remaining=remaining)
        return Decision(WAIT, delay=delay, note=f"polling {cfg.job_name} failed ({progress.errors} in a row, next "
                                                f"try in {delay:.1f}s): {result.message}")
    progress.errors, progress.failing_since, progress.last = 0, None, result
    if result.is_terminal:
        return Decision(EMIT, event=_event(cfg, STATUS_TERMINAL, f"job ended {result.state}", progress))
    if result.done and not is_known_state(result.state):
        return Decision(EMIT, event=_event(
            cfg, STATUS_ERROR, f"{cfg.job_name} reports done: true in state {result.state!r}, which this provider "
                               f"does not know; not waiting for it. Look at the job, then clear the task once the "
                               f"provider understands that state.", progress))
    if cfg.pending_deadline is not None and now >= cfg.pending_deadline and result.outcome is Outcome.WAITING \
            and is_pending(result.state):
        progress.timing_out = STATUS_STUCK
        return Decision(CANCEL_THEN_EMIT, note=f"{cfg.job_name} is still PENDING past max_pending_time: cancelling it")
    if remaining is not None and remaining <= 0:
        return _timeout(cfg, progress, f"the job is still {result.state}")
    delay = cfg.poll_interval if remaining is None else min(cfg.poll_interval, remaining)
    return Decision(WAIT, delay=max(0.0, delay))


def _timeout(cfg: WaitConfig, progress: WaitProgress, why: str) -> Decision:
    progress.timing_out, progress.timing_out_why = STATUS_TIMEOUT, why
    reason = f"deadline passed before {cfg.job_name} finished ({why})"
    if cfg.cancel_on_timeout:
        return Decision(CANCEL_THEN_EMIT, note=f"{reason}: cancelling it")
    return Decision(EMIT, event=_event(cfg, STATUS_TIMEOUT, reason + "; cancel_on_timeout=False: the job was left "
                                                                      "running", progress))


def after_cancel(cfg: WaitConfig, progress: WaitProgress, cancel_error: str | None, result: PollResult | None,
                 now: float) -> Decision:
    """After the driver cancelled (or tried to) and polled once more: emit. A job that reached a terminal
    state other than CANCELLED in between finished on its own, and is reported as finished."""
    if isinstance(result, JobSnapshot):
        progress.last = result
        if result.is_terminal and result.outcome is not Outcome.CANCELLED:
            return Decision(EMIT, event=_event(cfg, STATUS_TERMINAL, f"job ended {result.state} (just before "
                                                                     "the cancel)", progress))
    status = progress.timing_out or STATUS_TIMEOUT
    if status == STATUS_STUCK:
        reason = f"{cfg.job_name} was still PENDING past max_pending_time"
    else:
        reason = f"deadline passed before {cfg.job_name} finished" + (
            f" ({progress.timing_out_why})" if progress.timing_out_why else "")
    if cancel_error is None:
        reason += "; the remote job was cancelled"
    else:
        reason += f"; cancelling the remote job failed: {cancel_error}"
    if isinstance(result, PollError):
        reason += f" (the poll after the cancel failed: {result.message})"
    return Decision(EMIT, event=_event(cfg, status, reason, progress))


def classify(exc: BaseException) -> PollError:
    """A poll's exception as the policy sees it. Transient: 429/5xx, timeouts, dropped or refused
    connections, malformed 200 bodies. Everything else (auth, not found, redirects) ends the wait."""
    from ..exceptions import GeminiTransientError, GeminiUnreachableError

    transient = isinstance(exc, (GeminiTransientError, GeminiUnreachableError))
    return PollError(str(exc), transient, getattr(exc, "retry_after", None))

