"""The submission ledger: how a task instance knows its own jobs, and what it does about them. Pure.

Exactly once per task instance rests on two records, either of which is enough:
- the display name, deterministic per (dag, task, run, map index) with ``-s<N>`` for a deliberate
  resubmission and ``-f<input fingerprint>``: a retry that never saw the create reply finds the job by it;
- the task state store record (``STORE_KEY``): the job name, its deadline, the fingerprint, whether it
  completed; written before the create (the intent) and after it.

Everything here decides over plain data (the record, the jobs found, the input fingerprint, the
operator's policies); the operator does the HTTP and the store I/O and executes the decision.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..exceptions import GeminiBatchError, GeminiJobStuckPendingError, GeminiRequestError, GeminiSubmissionGoneError
from .progress_log import iso_utc
from .states import JobSnapshot, Outcome, parse_time

STORE_KEY = "gemini_batch_submission"
DISPLAY_NAME_LIMIT = 128
# Slack for clocks when bounding the job search by the run's start.
CLOCK_SLACK = 3600.0


# ---------------------------------------------------------------------- the display-name codec
def base_display_name(dag_id: str, task_id: str, run_id: str, map_index: int, prefix: str | None = None) -> str:
    """Deterministic per logical task instance (never per try), readable, and short enough for the API.

    A user's `prefix` (the operator's display_name) only replaces the readable part: the digest of
    (dag, task, run, map index) is always appended, so a static name such as "nightly-summaries" never
    ties two runs (or two map indexes) to one job (issue 13, rule 4)."""
    digest = hashlib.sha256(f"{dag_id}\x1f{task_id}\x1f{run_id}\x1f{map_index}".encode()).hexdigest()[:12]
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", prefix.strip()) if prefix and prefix.strip() else \
        "airflow-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{dag_id}.{task_id}")
    suffix = f"-{map_index}" if map_index is not None and map_index >= 0 else ""
    # Room is left for "-<digest>" (13), "-s<N>" and "-f<fingerprint>" (up to 17) within the limit.
    head = readable[: DISPLAY_NAME_LIMIT - len(suffix) - 32]
    return f"{head}{suffix}-{digest}"


_SUFFIX = re.compile(r"^(?:-s(\d+))?(?:-f([0-9a-f]{10}))?$")


def display_name_for(base: str, submission: int, fingerprint: str | None) -> str:
    """base, then -sN for a deliberate resubmission, then -f<input fingerprint>."""
    return base + (f"-s{submission}" if submission > 1 else "") + (f"-f{fingerprint[:10]}" if fingerprint else "")


def parse_display_name(display_name: str, base: str) -> tuple[int, str | None] | None:
    """(submission number, fingerprint prefix) of one of this task's jobs; None for anyone else's."""
    if not display_name.startswith(base):
        return None
    match = _SUFFIX.match(display_name[len(base):])
    if match is None:
        return None
    return int(match.group(1) or 1), match.group(2)


def submission_of(display_name: str | None, base: str) -> int:
    """The submission number a job of ours carries (1 when the name is missing or not ours)."""
    parsed = parse_display_name(display_name or base, base)
    return parsed[0] if parsed else 1


def fingerprint_in(display_name: str | None, base: str) -> str | None:
    parsed = parse_display_name(display_name or "", base)
    return parsed[1] if parsed else None


# ---------------------------------------------------------------------- the state-store record
# Keys: display_name, input_file, fingerprint (10 hex), job_name, deadline (epoch), deadline_utc (for
# people), submitted_at, submission, completed, state, pending_resubmits, quota {since, attempts}.

def read_record(value: Any) -> dict | None:
    """What the store holds, if it is a record of ours (anything else counts as no record)."""
    return value if isinstance(value, dict) else None


def stored_form(record: dict) -> dict:
    """What is written: no None values, and the deadline also as ISO 8601 UTC for people reading the store."""
    if record.get("deadline") is not None:
        record = {**record, "deadline_utc": iso_utc(record["deadline"])}
    return {k: v for k, v in record.items() if v is not None}


def intent_record(record: dict | None, display_name: str, input_file: str | None, fingerprint: str) -> dict:
    """Written just before the create: a crash from then on is found by this display name. Only the
    stuck-pending count survives from the previous record (it limits resubmissions to one)."""
    return {"display_name": display_name, "input_file": input_file, "fingerprint": fingerprint[:10],
            "pending_resubmits": (record or {}).get("pending_resubmits")}


def submitted_record(intent: dict, job_name: str, deadline: float | None, submitted_at: float,
                     submission: int) -> dict:
    return {**intent, "job_name": job_name, "deadline": deadline, "submitted_at": submitted_at,
            "submission": submission}


def reattached_record(record: dict | None, job: JobSnapshot, deadline: float | None) -> dict:
    return {**(record or {}), "job_name": job.name, "display_name": job.display_name, "deadline": deadline}


def completed_record(record: dict | None, job_name: str, state: str) -> dict:
    """Remembered before results are written: a clear from then on re-delivers from this job, whatever
    cleanup deletes later, and never bills a new one silently."""
    return {**(record or {}), "job_name": job_name, "completed": True, "state": state}


# ---------------------------------------------------------------------- finding this task's jobs
def search_floor(stamps: Iterable[Any]) -> float | None:
    """A lower bound on when any job of this task instance could have been created: the earliest of the
    run's run_after / logical_date / queued_at (which a clear does not move), less an hour for clocks.
    The job search stops paging at jobs older than this; None (unknown) searches up to the bound."""
    seconds = [s.timestamp() if hasattr(s, "timestamp") else float(s) for s in stamps
               if hasattr(s, "timestamp") or (isinstance(s, (int, float)) and not isinstance(s, bool))]
    return min(seconds) - CLOCK_SLACK if seconds else None


def needs_search(record: dict | None, after_quota_wait: bool, try_number: int) -> bool:
    """A first try with no record cannot have created a job, so it lists nothing; a retry, a clear (the
    record survives), or an attempt after a quota refusal (the create may have gone through) does."""
    return bool(record) or after_quota_wait or try_number > 1


def recorded_job_gone(record: dict, resubmit: bool) -> GeminiBatchError | None:
    """The recorded job no longer exists. A job that completed must not be replaced by a new, billed one
    without being asked (the error to raise); otherwise (None) look for others by display name."""
    if not record.get("completed") or resubmit:
        return None
    return GeminiSubmissionGoneError(
        f"{record['job_name']} ({record.get('display_name')}) finished {record.get('state')} on an "
        f"earlier try of this task instance and has since been deleted (cleanup=['job'] or by "
        f"hand), so its results cannot be delivered again. Nothing was submitted, nothing billed. "
        f"To submit a new, billed job on purpose, set resubmit=True on the operator (for example "
        f"resubmit=\"{{{{ dag_run.conf.get('resubmit', False) }}}}\" and trigger with "
        f"{{\"resubmit\": true}}), then clear the task.")


def latest_job(found: Iterable[JobSnapshot], base: str) -> JobSnapshot | None:
    """This task instance's newest job by submission number, then create time; never list position
    (the API documents no list order). Jobs of other task instances are ignored."""
    ours = [(parsed[0], parse_time(j.create_time) or 0.0, j)
            for j in found if (parsed := parse_display_name(j.display_name, base)) is not None]
    return max(ours, key=lambda item: (item[0], item[1]))[2] if ours else None


def fingerprint_of(job: JobSnapshot, record: dict | None, base: str) -> str | None:
    """The input fingerprint `job` was submitted with: the record's when it is about this job, else the
    display name's."""
    if record and record.get("job_name") == job.name and record.get("fingerprint"):
        return record["fingerprint"]
    return fingerprint_in(job.display_name, base)


# ---------------------------------------------------------------------- decisions
class Action(str, enum.Enum):
    SUBMIT = "submit"       # create a job, numbered `submission` (1: the first; more: on purpose)
    REATTACH = "reattach"   # wait for, or deliver the results of, `job` from an earlier try
    REFUSE = "refuse"       # raise `error`: nothing is submitted


@dataclass(frozen=True)
class Decision:
    action: Action
    submission: int = 1
    job: JobSnapshot | None = None
    cancel: str | None = None        # a job to cancel before submitting (changed input, still running)
    note: str = ""                   # what to log (a warning when a new job is billed on purpose)
    error: GeminiBatchError | None = None

    @property
    def refusal(self) -> GeminiBatchError:
        """The error of a REFUSE decision (every refusal carries one)."""
        if self.error is None:
            raise ValueError(f"a {self.action} decision has no error")
        return self.error


def decide(existing: JobSnapshot | None, record: dict | None, base: str, fingerprint: str, resubmit: bool,
           on_changed_input: str) -> Decision:
    """Given this task instance's latest job (or None), submit, reattach or refuse."""
    if existing is None:
        return Decision(Action.SUBMIT, 1)
    submission = submission_of(existing.display_name, base) + 1
    earlier = fingerprint_of(existing, record, base)
    if earlier is not None and not fingerprint.startswith(earlier):
        message = (f"the input changed since {existing.name} ({existing.state}) was submitted by an earlier try "
                   f"of this task (its input fingerprint differs)")
        if on_changed_input == "fail":
            return Decision(Action.REFUSE, submission, existing, error=GeminiRequestError(
                f"{message}; not reattaching to it silently. Clear the task after deciding, or set "
                "on_changed_input='cancel_and_resubmit'", location="on_changed_input"))
        return Decision(Action.SUBMIT, submission, existing,
                        cancel=existing.name if existing.outcome is Outcome.WAITING else None,
                        note=f"{message}: cancelled it where still running; submitting the new input "
                             f"(submission #{submission}).")
    if existing.has_results and resubmit:
        return Decision(Action.SUBMIT, submission, existing,
                        note=f"resubmit=True: {existing.name} already finished {existing.state}; submitting a NEW, "
                             f"billed job on purpose (submission #{submission}).")
    if existing.outcome is Outcome.WAITING or existing.has_results:
        return Decision(Action.REATTACH, submission - 1, existing,
                        note=f"Reattaching to {existing.name} ({existing.state}) from an earlier try; not "
                             "submitting again.")
    return Decision(Action.SUBMIT, submission, existing,
                    note=f"The earlier job {existing.name} ended {existing.state}: submitting a new job on purpose "
                         f"(submission #{submission}).")


def after_expired(job_name: str | None, display_name: str | None, base: str, on_expired: str,
                  max_resubmits: int) -> Decision:
    """An expired job: resubmit (on_expired='resubmit', while resubmissions are left) or let it fail.
    REFUSE here carries no error: the caller raises the expiry itself."""
    if on_expired != "resubmit":
        return Decision(Action.REFUSE)
    done = submission_of(display_name, base)
    if done > max_resubmits:
        return Decision(Action.REFUSE, done, note=f"{job_name} expired and the {max_resubmits} resubmission(s) "
                                                  f"allowed are used up.")
    return Decision(Action.SUBMIT, done + 1,
                    note=f"{job_name} EXPIRED: submitting a new job on purpose (on_expired='resubmit', submission "
                         f"#{done + 1} of {max_resubmits + 1}).")


def after_stuck(record: dict | None, job_name: str, display_name: str | None, state: str | None, base: str,
                max_pending_seconds: float | None) -> Decision:
    """max_pending_time: the job was cancelled while still PENDING. Resubmit once, on purpose; a
    resubmission stuck the same way fails the task instead of billing a third."""
    if (record or {}).get("pending_resubmits"):
        return Decision(Action.REFUSE, error=GeminiJobStuckPendingError(
            f"{job_name} stayed PENDING past max_pending_time={max_pending_seconds or 0:.0f}s "
            f"and was cancelled; it was already the deliberate resubmission of a job stuck the same way, so "
            f"the task fails instead of billing a third. The service may be saturated: try later, on "
            f"another model, or without max_pending_time.", job_name=job_name, state=state))
    submission = submission_of(display_name, base) + 1
    return Decision(Action.SUBMIT, submission,
                    note=f"{job_name} stayed PENDING past max_pending_time and was cancelled: submitting it again on "
                         f"purpose (submission #{submission}, once).")


@dataclass(frozen=True)
class QuotaStep:
    """The next attempt after a create refused for quota: when, and the window so far (stored, and
    carried in the time trigger's kwargs). `given_up`: submit_timeout has passed, fail instead."""

    quota: dict             # {since, attempts}
    delay: float            # seconds until the next attempt
    until: float | None     # when submit_timeout ends the retries (None: never)
    waited: float           # seconds since the first refusal
    given_up: bool


def next_quota_attempt(quota: dict | None, now: float, submit_timeout: float | None, initial: float,
                       maximum: float, retry_after: float | None) -> QuotaStep:
    """Back off from `initial`, doubling up to `maximum` (a server's Retry-After wins when longer), never
    past the end of submit_timeout, counted from the first refusal."""
    quota = {"since": now, "attempts": 0, **(quota or {})}
    quota["attempts"] += 1
    until = None if submit_timeout is None else quota["since"] + submit_timeout
    waited = now - quota["since"]
    delay = min(maximum, initial * 2 ** (quota["attempts"] - 1))
    if retry_after:
        delay = max(delay, retry_after)
    if until is not None:
        delay = min(delay, max(0.0, until - now))
    return QuotaStep(quota, delay, until, waited, until is not None and now >= until)


def truthy(value: Any) -> bool:
    """resubmit is templated: a rendered "True"/"false"/"1" string counts as what it says."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
