"""Operators: submit (generate / embeddings) exactly once and wait deferred, fetch results, cancel, delete, list."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from airflow.sdk import BaseOperator

from ..core.requests import apply_defaults, check_file_size, fits_inline, iter_jsonl, iter_keyed
from ..core.results import describe_problems
from ..core.events import STATUS_STUCK, STATUS_TERMINAL, build_event, judge_event, validate_event
from ..exceptions import (
    GeminiBatchError,
    GeminiBatchTooLargeError,
    GeminiJobExpiredError,
    GeminiJobStuckPendingError,
    GeminiNotFoundError,
    GeminiPartialFailureError,
    GeminiRequestError,
    GeminiSubmissionGoneError,
    GeminiSubmitTimeoutError,
    GeminiTransientError,
)
from ..hooks.gemini_batch import JOB_SEARCH_BOUND, GeminiBatchHook, parse_time
from ..results_writer import write_results
from ..storage import check_results_location, open_path
from ..submitted_keys import SubmittedKeys, load_manifest, manifest_path, recording_keys, write_manifest
from ..failure_report import describe_failures, failure_sample
from ..links import GeminiBatchResultsLink
from ..core.progress_log import ProgressLog, iso_utc, short_state
from ..rendered import schemas_as_json
from ..compat import not_jinja, read_lines
from ..core.states import JobSnapshot, Outcome, parse_job
from ..core.structured_output import OutputValidator
from ..triggers.batch import GeminiBatchJobTrigger
from ..core.waiting import CANCEL_THEN_EMIT, WAIT, WaitConfig, WaitProgress, after_cancel, after_poll, classify

STORE_KEY = "gemini_batch_submission"
DISPLAY_NAME_LIMIT = 128
DEFAULT_TIMEOUT = timedelta(hours=48)
# How long a create refused for quota (429 RESOURCE_EXHAUSTED) is retried, deferred, before the task fails.
# Real projects report quota refusals lasting minutes to hours (python-genai #1901).
DEFAULT_SUBMIT_TIMEOUT = timedelta(hours=6)
QUOTA_RETRY_INITIAL = 60.0     # first pause after a quota refusal; doubles ...
QUOTA_RETRY_MAX = 30 * 60.0    # ... up to this
# Slack for clocks when bounding the job search by the run's start.
_CLOCK_SLACK = 3600.0
CLEANUP_CHOICES = {"input_file", "result_file", "job"}
INPUT_MODES = ("auto", "file", "inline")


def _default_deferrable() -> bool:
    """[gemini_batch] default_deferrable, or a site's [operators] default_deferrable=False (..defaults)."""
    from ..defaults import default_deferrable

    return default_deferrable()


def _seconds(value: timedelta | float | int | None) -> float | None:
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


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


def _cleanup_set(cleanup: Iterable[str] | str | None) -> set[str]:
    chosen = {cleanup} if isinstance(cleanup, str) else set(cleanup or ())
    unknown = chosen - CLEANUP_CHOICES
    if unknown:
        raise GeminiRequestError(f"unknown cleanup option(s) {sorted(unknown)}; choose from {sorted(CLEANUP_CHOICES)}",
                                 location="cleanup")
    return chosen


class GeminiBatchSubmitOperator(BaseOperator):
    """
    Submit a Gemini batch job exactly once per task instance, wait for it without holding a worker
    slot, judge per-request failures, and optionally stream the results to ``results_path``.

    :param model: e.g. ``gemini-2.5-flash``.
    :param requests: a list of prompts, GenerateContentRequest dicts (SDK or REST spelling) or
        ``{"key": ..., "request": ...}`` records. Goes inline under 20 MB, otherwise as an uploaded JSONL.
    :param input_file: instead of ``requests``: a JSONL path or URI (local, s3://, gs://, ...), validated
        line by line and uploaded, or an already uploaded ``files/...`` name (used as is).
    :param display_name: a readable prefix for the job's display name (default ``airflow-<dag>.<task>``).
        A digest of (dag, task, run, map index) is always appended: the name identifies this task
        instance only, which is how a retry finds a job whose creation it did not see, and why two runs
        never share, reattach to or cancel each other's job.
    :param resubmit: a clear or retry whose earlier job of this task instance finished successfully
        re-delivers that job's results and bills nothing (the default, False). True submits a new,
        billed job on purpose (logged as such). Templated, e.g. ``"{{ dag_run.conf.get('resubmit', False) }}"``.
    :param wait_for_completion: wait for a terminal state (default True); False returns right after submit.
    :param deferrable: wait in the triggerer (default True; env GEMINI_BATCH_DEFERRABLE=false flips it).
    :param poll_interval: seconds between polls.
    :param timeout: wall-clock limit from submission (default 48 h); fixed at submit, kept across restarts.
    :param cancel_on_timeout: cancel the remote job when the timeout passes (default True).
    :param cancel_on_kill: cancel the remote job when the task is killed (default True).
    :param max_failed_requests: per-request failures tolerated (count). With neither this nor
        ``max_failed_ratio`` set, any failed request fails the task (after results are written).
    :param max_failed_ratio: per-request failures tolerated (fraction of requests).
    :param results_path: where to stream one JSONL record per request (local path or object storage URI).
    :param cleanup: after the results are safely written, delete any of ``"input_file"`` (the file we
        uploaded), ``"result_file"`` and ``"job"``. Off by default: each holds data you may still want.
    :param on_expired: ``"fail"`` (default) or ``"resubmit"``: submit a new job, deliberately, when one
        expires (48 h without finishing), up to ``max_resubmits`` times.
    :param response_schema: a pydantic model (or type, e.g. ``list[Recipe]``) or a JSON schema: asked of
        every request that sets no schema of its own, and every answer is parsed and validated on the way
        to ``results_path``: invalid ones get status ``invalid_output`` and count as failed requests.
    :param system_instruction: a system instruction for every request that sets none.
    :param on_changed_input: a retry whose input no longer matches the job an earlier try submitted
        (the input fingerprint differs): ``"fail"`` (default) or ``"cancel_and_resubmit"``.
    :param strict_validation: refuse request fields the schema snapshot does not know (and Vertex-only
        ones) instead of warning and sending them as is (default False: the API may be newer than us).
    :param input_mode: ``"auto"`` (default): requests with keys of their own go as an uploaded JSONL file,
        whose every result line echoes its key; requests without keys go inline when they fit.
        ``"file"``: always a file. ``"inline"``: always inline (``requests=`` only, under 20 MB); an inline
        response that comes back without ``metadata.key`` is never matched by position: it is written
        unkeyed and its request counts as failed.
    :param poll_error_tolerance: how long polls may keep failing transiently (429, 5xx, dropped
        connections, garbled replies) before the wait gives up; default None: until ``timeout``.
    :param retry_max_wait_seconds: the longest pause between failed polls (a server's Retry-After or
        RetryInfo wins); default: the connection's ``retry_max_wait_seconds``. Both wait drivers use it.
    :param submit_timeout: how long a create refused for quota (429 RESOURCE_EXHAUSTED) keeps being
        retried, deferred (no worker slot), backing off from ``quota_retry_initial`` (1 min) doubling to
        ``quota_retry_max`` (30 min), before the task fails (default 6 h; None: no limit).
    :param max_pending_time: optional; a job still PENDING this long after submission is cancelled and
        resubmitted once, deliberately (``-sN``); if the resubmission is stuck too, the task fails.
    :param max_consecutive_poll_errors: deprecated and ignored: poll errors are tolerated by time
        (``poll_error_tolerance``), not by count.
    """

    # `requests` is a template field so that an XComArg given for it resolves (and is a dependency), but its
    # strings are never Jinja (render_template_fields): a prompt quoting "{{ ds }}" or Mustache "{{#list}}"
    # reaches the model as written.
    template_fields: Sequence[str] = ("model", "requests", "input_file", "display_name", "results_path",
                                      "system_instruction", "gemini_conn_id", "resubmit")
    template_fields_renderers = {"requests": "json"}
    ui_color = "#e8f0fe"
    operator_extra_links = (GeminiBatchResultsLink(),)
    embeddings = False

    def __init__(self, *, model: str, requests: Any = None, input_file: Any = None,
                 display_name: str | None = None, gemini_conn_id: str = GeminiBatchHook.default_conn_name,
                 wait_for_completion: bool = True, deferrable: bool | None = None, poll_interval: float = 30.0,
                 timeout: timedelta | float | None = DEFAULT_TIMEOUT, cancel_on_timeout: bool = True,
                 cancel_on_kill: bool = True, max_failed_requests: int | None = None,
                 max_failed_ratio: float | None = None, results_path: str | None = None,
                 cleanup: Iterable[str] | str | None = None, on_expired: str = "fail", max_resubmits: int = 1,
                 response_schema: Any = None, system_instruction: Any = None,
                 on_changed_input: str = "fail", max_consecutive_poll_errors: int | None = None,
                 strict_validation: bool = False, input_mode: str = "auto",
                 resubmit: bool | str = False, poll_error_tolerance: timedelta | float | None = None,
                 retry_max_wait_seconds: float | None = None,
                 submit_timeout: timedelta | float | None = DEFAULT_SUBMIT_TIMEOUT,
                 quota_retry_initial: float = QUOTA_RETRY_INITIAL, quota_retry_max: float = QUOTA_RETRY_MAX,
                 max_pending_time: timedelta | float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if input_mode not in INPUT_MODES:
            raise GeminiRequestError(f"input_mode must be one of {INPUT_MODES}, got {input_mode!r}",
                                     location="input_mode")
        if input_mode == "inline" and input_file is not None:
            raise GeminiRequestError("input_mode='inline' needs requests=; an input_file goes as a file",
                                     location="input_mode")
        self.input_mode = input_mode
        if on_expired not in ("fail", "resubmit"):
            raise GeminiRequestError(f"on_expired must be 'fail' or 'resubmit', got {on_expired!r}",
                                     location="on_expired")
        if on_changed_input not in ("fail", "cancel_and_resubmit"):
            raise GeminiRequestError(f"on_changed_input must be 'fail' or 'cancel_and_resubmit', got "
                                     f"{on_changed_input!r}", location="on_changed_input")
        self.model = model
        self.requests = requests
        self.input_file = input_file
        self.display_name = display_name
        self.gemini_conn_id = gemini_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = _default_deferrable() if deferrable is None else deferrable
        self.poll_interval = poll_interval
        self.job_timeout = timeout
        self.cancel_on_timeout = cancel_on_timeout
        self.cancel_on_kill = cancel_on_kill
        self.max_failed_requests = max_failed_requests
        self.max_failed_ratio = max_failed_ratio
        self.results_path = results_path
        self.cleanup = sorted(_cleanup_set(cleanup))
        self.on_expired = on_expired
        self.max_resubmits = max_resubmits
        self.response_schema = response_schema
        self.system_instruction = system_instruction
        self.on_changed_input = on_changed_input
        self.max_consecutive_poll_errors = max_consecutive_poll_errors  # deprecated, ignored
        self.resubmit = resubmit
        self.poll_error_tolerance = poll_error_tolerance
        self.retry_max_wait_seconds = retry_max_wait_seconds
        self.submit_timeout = submit_timeout
        self.quota_retry_initial = quota_retry_initial
        self.quota_retry_max = quota_retry_max
        self.max_pending_time = max_pending_time
        self.strict_validation = strict_validation
        self._job_name: str | None = None

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        if "requests" in self.template_fields:
            self.requests = not_jinja(self.requests)  # prompts are data: XComArgs resolve, strings stay as written
        super().render_template_fields(context, jinja_env)
        # A pydantic schema in the requests is shown (and sent) as its JSON schema, not "<callable ...>".
        self.requests = schemas_as_json(self.requests)

    @property
    def hook(self) -> GeminiBatchHook:
        if getattr(self, "_hook", None) is None:
            self._hook = GeminiBatchHook(self.gemini_conn_id)
        return self._hook

    # ------------------------------------------------------------------ submit once
    def execute(self, context: Any) -> Any:
        return self._submit_once(context, quota=None)

    def execute_after_quota_wait(self, context: Any, event: Any = None, quota: dict | None = None) -> Any:
        """Resumed after a quota wait (a time-based trigger): try again, looking for the job first."""
        # The quota window travels in the trigger's kwargs and in the task state store (dag.test() and some
        # resume paths hand back only the event).
        quota = quota or (_store_get(context.get("task_state_store")) or {}).get("quota") or {}
        self.log.info("Quota wait over (attempt %d): looking for this task's job, then trying to create it again.",
                      quota.get("attempts", 0) + 1)
        return self._submit_once(context, quota=quota)

    def _submit_once(self, context: Any, quota: dict | None) -> Any:
        if (self.requests is None) == (self.input_file is None):
            raise GeminiRequestError("give exactly one of requests= or input_file=", location="operator")
        base = self._base_display_name(context)
        store = context.get("task_state_store")
        record = _store_get(store)
        # The temp copy of a file input lives only until it is uploaded, never through the wait.
        while True:
            try:
                with self._prepared_input() as prepared:  # validates everything: nothing billable yet
                    job_name, deadline, finished = self._submit_or_reattach(context, base, store, record, prepared,
                                                                            search=quota is not None)
                break
            except _QuotaRefused as refused:
                # Deferrable: raises TaskDeferred (or GeminiSubmitTimeoutError). Not: waited here, try again.
                quota = self._defer_for_quota(context, refused, quota)
                record = _store_get(store)
        if finished is not None:
            # The job of an earlier try (or of this task before a clear) already finished: straight to its
            # results, no wait, whatever deadline was stored.
            self._job_name = job_name
            context["ti"].xcom_push(key="job_name", value=job_name)
            return self._complete(context, build_event(STATUS_TERMINAL, job_name, f"job ended {finished.state} "
                                                       "(found finished on reattach)", finished))
        return self._after_submit(context, job_name, deadline)

    def _submit_or_reattach(self, context: Any, base: str, store: Any, record: dict | None,
                            prepared: "_PreparedInput", search: bool = False
                            ) -> tuple[str, float | None, JobSnapshot | None]:
        existing = self._find_existing(record, base, context, search)
        if existing is None:
            return (*self._submit(context, base, 1, prepared), None)
        earlier = self._fingerprint_of(existing, record, base)
        parsed = parse_display_name(existing.display_name, base)
        submission = (parsed[0] if parsed else 1) + 1
        if earlier is not None and not prepared.fingerprint.startswith(earlier):
            self._on_changed_input(existing, submission)
        elif existing.outcome in (Outcome.SUCCEEDED, Outcome.PARTIAL) and _truthy(self.resubmit):
            self.log.warning("resubmit=True: %s already finished %s; submitting a NEW, billed job on purpose "
                             "(submission #%d).", existing.name, existing.state, submission)
        elif existing.outcome in (Outcome.WAITING, Outcome.SUCCEEDED, Outcome.PARTIAL):
            self.log.info("Reattaching to %s (%s) from an earlier try; not submitting again.",
                          existing.name, existing.state)
            deadline = (record or {}).get("deadline") or self._deadline()
            _store_set(store, {**(record or {}), "job_name": existing.name,
                               "display_name": existing.display_name, "deadline": deadline})
            return existing.name, deadline, (existing if existing.is_terminal else None)
        else:
            self.log.warning("The earlier job %s ended %s: submitting a new job on purpose (submission #%d).",
                             existing.name, existing.state, submission)
        return (*self._submit(context, base, submission, prepared), None)

    def _fingerprint_of(self, existing: JobSnapshot, record: dict | None, base: str) -> str | None:
        if record and record.get("job_name") == existing.name and record.get("fingerprint"):
            return record["fingerprint"]
        parsed = parse_display_name(existing.display_name, base)
        return parsed[1] if parsed else None

    def _on_changed_input(self, existing: JobSnapshot, submission: int) -> None:
        message = (f"the input changed since {existing.name} ({existing.state}) was submitted by an earlier try "
                   f"of this task (its input fingerprint differs)")
        if self.on_changed_input == "fail":
            raise GeminiRequestError(f"{message}; not reattaching to it silently. Clear the task after deciding, or "
                                     "set on_changed_input='cancel_and_resubmit'", location="on_changed_input")
        if existing.outcome is Outcome.WAITING:
            self.hook.cancel_job(existing.name)
        self.log.warning("%s: cancelled it where still running; submitting the new input (submission #%d).",
                         message, submission)

    def _base_display_name(self, context: Any) -> str:
        ti = context["ti"]
        return base_display_name(ti.dag_id, ti.task_id, ti.run_id, ti.map_index, prefix=self.display_name)

    def _submit(self, context: Any, base: str, submission: int,
                prepared: "_PreparedInput") -> tuple[str, float | None]:
        store = context.get("task_state_store")
        record = _store_get(store) or {}
        display_name = display_name_for(base, submission, prepared.fingerprint)
        reused = self._reusable_upload(record, display_name, prepared)
        source, uploaded = ({"file_name": reused}, reused) if reused else self._upload_if_needed(prepared, display_name)
        intent = {"display_name": display_name, "input_file": uploaded, "fingerprint": prepared.fingerprint[:10],
                  "pending_resubmits": record.get("pending_resubmits")}
        _store_set(store, intent)  # a crash from here on is found by this display name
        try:
            operation = self.hook.create_batch(self.model, embeddings=self.embeddings, display_name=display_name,
                                               **source)
        except GeminiTransientError as exc:
            if exc.code == 429 or exc.status == "RESOURCE_EXHAUSTED":
                raise _QuotaRefused(exc, display_name) from None
            raise
        job_name = operation["name"]
        deadline = self._deadline()
        _store_set(store, {**intent, "job_name": job_name, "deadline": deadline, "submitted_at": time.time(),
                           "submission": submission})
        if uploaded:
            context["ti"].xcom_push(key="input_file", value=uploaded)
        self.log.info("Submitted %s as %r (%s).", job_name, display_name, short_state(parse_job(operation).state))
        return job_name, deadline

    def _deadline(self) -> float | None:
        seconds = _seconds(self.job_timeout)
        return None if seconds is None else time.time() + seconds

    def _reusable_upload(self, record: dict, display_name: str, prepared: "_PreparedInput") -> str | None:
        """After a quota wait, the file uploaded for this very display name (same input fingerprint) is
        used again instead of uploading another copy against the project's storage quota."""
        if prepared.local_file is None or record.get("display_name") != display_name or not record.get("input_file"):
            return None
        try:
            self.hook.get_file(record["input_file"])
        except GeminiNotFoundError:
            return None
        self.log.info("Reusing %s, uploaded for %r before the quota wait.", record["input_file"], display_name)
        return record["input_file"]

    def _find_existing(self, record: dict | None, base: str, context: Any, search: bool = False
                       ) -> JobSnapshot | None:
        """This task instance's latest job, if any: the recorded one, else the newest by submission number
        and create time among jobs named after this task instance (never list position: the API
        documents no list order)."""
        if record and record.get("job_name"):
            try:
                return self.hook.get_snapshot(record["job_name"])
            except GeminiNotFoundError:
                if record.get("completed") and not _truthy(self.resubmit):
                    raise GeminiSubmissionGoneError(
                        f"{record['job_name']} ({record.get('display_name')}) finished {record.get('state')} on an "
                        f"earlier try of this task instance and has since been deleted (cleanup=['job'] or by "
                        f"hand), so its results cannot be delivered again. Nothing was submitted, nothing billed. "
                        f"To submit a new, billed job on purpose, set resubmit=True on the operator (for example "
                        f"resubmit=\"{{{{ dag_run.conf.get('resubmit', False) }}}}\" and trigger with "
                        f"{{\"resubmit\": true}}), then clear the task.") from None
                self.log.warning("Recorded job %s no longer exists; looking for others.", record["job_name"])
        if record or search or context["ti"].try_number > 1:
            found = self.hook.find_jobs(display_name_prefix=base, newer_than=_run_started(context),
                                        max_scanned=JOB_SEARCH_BOUND)
            ours = [(parse_display_name(j.display_name, base), j) for j in found]
            ours = [(parsed[0], parse_time(j.create_time) or 0.0, j) for parsed, j in ours if parsed is not None]
            if ours:
                return max(ours, key=lambda item: (item[0], item[1]))[2]
        return None

    def _defer_for_quota(self, context: Any, refused: "_QuotaRefused", quota: dict | None) -> dict:
        """Creating the job was refused for quota: wait for it in the triggerer (a time-based trigger), not
        in a worker slot, backing off, until submit_timeout. The next attempt looks for the job first.
        With deferrable=False (no triggerer, by choice) the same wait happens in the worker, and the
        updated quota window is returned for the caller's next attempt."""
        from datetime import datetime, timezone

        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        now = time.time()
        quota = {"since": now, "attempts": 0, **(quota or {})}
        quota["attempts"] += 1
        limit = _seconds(self.submit_timeout)
        until = None if limit is None else quota["since"] + limit
        waited = now - quota["since"]
        if until is not None and now >= until:
            raise GeminiSubmitTimeoutError(
                f"Creating {refused.display_name!r} was refused for quota for {waited:.0f}s ({quota['attempts']} "
                f"attempts), past submit_timeout={limit:.0f}s: {refused.error}. No job was created, nothing billed. "
                f"Raise submit_timeout, lower the number of concurrent batch tasks (a pool, see "
                f"docs/production.md), or ask for more quota.")
        delay = min(self.quota_retry_max, self.quota_retry_initial * 2 ** (quota["attempts"] - 1))
        if refused.error.retry_after:
            delay = max(delay, refused.error.retry_after)
        if until is not None:
            delay = min(delay, max(0.0, until - now))
        moment = datetime.now(timezone.utc) + timedelta(seconds=delay)
        store = context.get("task_state_store")
        _store_set(store, {**(_store_get(store) or {}), "quota": quota})
        self.log.warning(
            "Creating %r was refused for quota (%s). Not failing%s; next attempt at %s (in %.0fs, attempt %d)%s.",
            refused.display_name, refused.error,
            " and not holding a worker slot: deferring" if self.deferrable else " (deferrable=False: waiting in "
            "the worker)", moment.isoformat(), delay, quota["attempts"] + 1,
            "" if until is None else f"; giving up at {datetime.fromtimestamp(until, timezone.utc).isoformat()} "
                                     f"(submit_timeout)")
        if not self.deferrable:
            time.sleep(delay)
            return quota
        self.defer(trigger=DateTimeTrigger(moment=moment), method_name="execute_after_quota_wait",
                   kwargs={"quota": quota})
        return quota  # unreachable: defer raises

    def _records(self, records: Iterable) -> Iterator:
        json_schema = OutputValidator(self.response_schema).json_schema if self.response_schema is not None else None
        if json_schema is None and self.system_instruction is None:
            return iter(records)
        return apply_defaults(records, system_instruction=self.system_instruction, json_schema=json_schema)

    @contextmanager
    def _prepared_input(self) -> Iterator["_PreparedInput"]:
        """Validate and normalise the whole input, and fingerprint it; keyed or big inputs go to a temp JSONL.
        Before anything billable: a results_path that must fail later is refused, and the keys being
        submitted are recorded beside it (the manifest the results are judged against after the wait,
        whatever happens to the user's input meanwhile)."""
        writes_results = bool(self.results_path and self.wait_for_completion)
        if writes_results:
            check_results_location(self.results_path, self.input_file)
        self.hook.check_model(self.model, embeddings=self.embeddings)
        if self.input_file is not None and str(self.input_file).startswith("files/"):
            name = str(self.input_file)  # its keys are unknown here: the verdict counts from requestCount
            yield _PreparedInput(hashlib.sha256(name.encode()).hexdigest(), file_name=name)
            return
        manifest_at = self.results_path if writes_results else None
        digest = hashlib.sha256()
        lines: list[bytes] = []
        if self.requests is not None:
            user_keyed: list[bool] = []
            # Each request is encoded once: the same bytes feed the fingerprint, the size plan and the file.
            records = list(self._records(iter_keyed(_noting_user_keys(self.requests, user_keyed),
                                                    embeddings=self.embeddings,
                                                    strict=self.strict_validation)))
            lines = [record.jsonl() for record in records]
            for line in lines:
                digest.update(line)
            # Keys are joined to results only through what the API echoes per request: a file's result
            # lines always carry `key`; inline responses may lose `metadata` (and their order), so keyed
            # work goes as a file unless the user asks for inline.
            if self.input_mode == "inline" or (self.input_mode == "auto" and not user_keyed):
                if fits_inline(lines):
                    write_manifest(manifest_at, (r.key for r in records), digest.hexdigest())
                    self._log_manifest(manifest_at, len(records))
                    self.log.info("Sending %d requests inline (input_mode=%r).", len(records), self.input_mode)
                    yield _PreparedInput(digest.hexdigest(), inline=[r.inline() for r in records],
                                         count=len(records))
                    return
                if self.input_mode == "inline":
                    raise GeminiBatchTooLargeError(f"{len(records)} requests are over the inline limit (about 20 MB); "
                                                   "use input_mode='auto' or 'file'", location="input_mode")
                self.log.info("%d requests are over the inline limit: they go as a file.", len(records))
            else:
                self.log.info("%d keyed requests go as a JSONL file: each result line echoes its key "
                              "(input_mode=%r).", len(records), self.input_mode)
        where = "requests" if self.requests is not None else str(self.input_file)
        with tempfile.NamedTemporaryFile(suffix=".jsonl") as tmp:
            with recording_keys(manifest_at) as manifest:  # published when this block ends: before any upload
                if self.requests is not None:
                    tmp.writelines(lines)
                    count = len(lines)
                    for record in records:
                        manifest.add(record.key)
                else:
                    with open_path(self.input_file).open("rb") as fh:
                        keyed = self._records(iter_jsonl(read_lines(fh), source=where, embeddings=self.embeddings,
                                                          strict=self.strict_validation))
                        count = _write_jsonl(_noting_keys(keyed, manifest), tmp, digest)
                tmp.flush()
                check_file_size(tmp.tell(), where)
                manifest.fingerprint = digest.hexdigest()
            self._log_manifest(manifest_at, count)
            yield _PreparedInput(digest.hexdigest(), local_file=Path(tmp.name), count=count)

    def _log_manifest(self, results_path: Any, count: int) -> None:
        if results_path is not None:
            self.log.info("Recorded the %d submitted keys at %s: the results are judged against them.", count,
                          manifest_path(results_path))

    def _upload_if_needed(self, prepared: "_PreparedInput", display_name: str) -> tuple[dict, str | None]:
        if prepared.inline is not None:
            self.log.info("Sending %d requests inline.", len(prepared.inline))
            return {"requests": prepared.inline}, None
        if prepared.file_name is not None:
            return {"file_name": prepared.file_name}, None
        meta = self.hook.upload_file(prepared.local_file, display_name=f"{display_name}-input",
                                     mime_type="application/jsonl")
        self.log.info("Uploaded %d validated requests as %s (%s bytes).", prepared.count, meta["name"],
                      meta.get("sizeBytes"))
        return {"file_name": meta["name"]}, meta["name"]

    def _input_keys(self, context: Any, event: dict[str, Any]) -> SubmittedKeys | None:
        """The keys this job was submitted with, from the manifest recorded at submit time (never the
        user's input again: it may have changed or vanished during the wait); None when unknown."""
        parsed = parse_display_name(event.get("display_name") or "", self._base_display_name(context))
        return load_manifest(self.results_path, parsed[1] if parsed else None)

    # ------------------------------------------------------------------ wait
    def _wait_settings(self, context: Any) -> dict[str, Any]:
        """What both wait drivers get: the same tolerance, backoff cap and pending limit."""
        record = _store_get(context.get("task_state_store")) or {}
        pending = _seconds(self.max_pending_time)
        submitted = record.get("submitted_at") or time.time()
        retry_max = self.retry_max_wait_seconds
        return {"retry_max_wait_seconds": float(retry_max if retry_max is not None
                                                else self.hook.settings.retry_max_wait_seconds),
                "error_tolerance_seconds": _seconds(self.poll_error_tolerance),
                "pending_deadline": None if pending is None else submitted + pending}

    def _after_submit(self, context: Any, job_name: str, deadline: float | None) -> Any:
        self._job_name = job_name
        context["ti"].xcom_push(key="job_name", value=job_name)
        if not self.wait_for_completion:
            return {"job_name": job_name, "state": None, "waited": False}
        settings = self._wait_settings(context)
        if self.deferrable:
            # The trigger ends the wait at `deadline` (one last poll, then a typed timeout). The task's own defer
            # timeout is only a backstop should the triggerer never answer: an hour later, and never past
            # execution_timeout, which bounds the whole task.
            backstop = None if deadline is None else timedelta(seconds=max(60.0, deadline - time.time() + 3600))
            if self.execution_timeout is not None:
                backstop = self.execution_timeout if backstop is None else min(backstop, self.execution_timeout)
            self.defer(
                trigger=GeminiBatchJobTrigger(
                    job_name=job_name, gemini_conn_id=self.gemini_conn_id, poll_interval=self.poll_interval,
                    deadline=deadline, cancel_on_timeout=self.cancel_on_timeout, cancel_on_kill=self.cancel_on_kill,
                    **settings),
                method_name="execute_complete",
                timeout=backstop,
            )
        return self._complete(context, poll_until_done(self.hook, job_name, self.poll_interval, deadline,
                                                       self.cancel_on_timeout, self.log, **settings))

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        """The trigger's event, checked against the versioned contract before anything acts on it."""
        return self._complete(context, validate_event(event))

    def _complete(self, context: Any, event: dict[str, Any]) -> Any:
        event = validate_event(event)
        store = context.get("task_state_store")
        record = _store_get(store) or {}
        if event["status"] == STATUS_TERMINAL and event.get("state") in (
                "JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED"):
            # Remembered before results are written: a clear from now on re-delivers from this job, whatever
            # cleanup deletes later, and never bills a new one silently.
            _store_set(store, {**record, "job_name": event["job_name"], "completed": True, "state": event["state"]})
        if event["status"] == STATUS_STUCK:
            return self._resubmit_stuck(context, event, record)
        return self._finish(context, event)

    def _resubmit_stuck(self, context: Any, event: dict[str, Any], record: dict) -> Any:
        """max_pending_time: the job was cancelled while still PENDING. Resubmit once, on purpose."""
        if record.get("pending_resubmits"):
            raise GeminiJobStuckPendingError(
                f"{event['job_name']} stayed PENDING past max_pending_time={_seconds(self.max_pending_time):.0f}s "
                f"and was cancelled; it was already the deliberate resubmission of a job stuck the same way, so "
                f"the task fails instead of billing a third. The service may be saturated: try later, on "
                f"another model, or without max_pending_time.", job_name=event["job_name"], state=event.get("state"))
        base = self._base_display_name(context)
        parsed = parse_display_name(event.get("display_name") or base, base)
        submission = (parsed[0] if parsed else 1) + 1
        self.log.warning("%s stayed PENDING past max_pending_time and was cancelled: submitting it again on purpose "
                         "(submission #%d, once).", event["job_name"], submission)
        store = context.get("task_state_store")
        _store_set(store, {**record, "pending_resubmits": 1})
        return self._resubmit(context, base, submission)

    def _resubmit(self, context: Any, base: str, submission: int) -> Any:
        """A deliberate new submission (expired, stuck): a quota refusal waits deferred here too."""
        try:
            with self._prepared_input() as prepared:
                job_name, deadline = self._submit(context, base, submission, prepared)
        except _QuotaRefused as refused:
            self._defer_for_quota(context, refused, None)  # deferrable: raises; else retried from the top
            return self._submit_once(context, quota=(_store_get(context.get("task_state_store")) or {}).get(
                "quota") or {})
        return self._after_submit(context, job_name, deadline)

    # ------------------------------------------------------------------ finish
    def _finish(self, context: Any, event: dict[str, Any]) -> Any:
        job_name = event.get("job_name")
        self._job_name = job_name
        summary: dict[str, Any] = {"job_name": job_name, "state": event.get("state"),
                                   "display_name": event.get("display_name"), "model": event.get("model"),
                                   "counts": event.get("counts")}
        problems = ""
        if self.results_path and event.get("status") == STATUS_TERMINAL and event.get("state") in (
                "JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED"):
            # Results are written before the failure threshold is judged: nothing is lost either way.
            validator = OutputValidator(self.response_schema) if self.response_schema is not None else None
            results = write_results(self.hook, job_name, self.results_path, self._input_keys(context, event),
                                    validator)
            summary["results"] = results
            # Error records and invalid outputs are named one by one with their errors by _failed(); this
            # line names what has no record to quote (missing, duplicated, unparseable, unkeyed, foreign).
            problems = describe_problems({**results, "errors": 0, "invalid_output": 0})
            # The verdict comes from what was written, not from batchStats: every submitted request without
            # exactly one ok record (missing, duplicated, unparseable, unkeyed, an error line, an invalid
            # output) is a failed request for max_failed_requests / max_failed_ratio.
            event = {**event, "counts": {**(event.get("counts") or {}), "requests": results["submitted"],
                                         "succeeded": results["succeeded"], "failed": results["failed"]}}
        try:
            verdict = judge_event(event, self.max_failed_requests, self.max_failed_ratio)
        except GeminiJobExpiredError as exc:
            resubmitted = self._maybe_resubmit(context, event)
            if resubmitted is None:
                raise self._failed(context, summary, event, exc) from None
            return resubmitted
        except GeminiBatchError as exc:
            if isinstance(exc, GeminiPartialFailureError) and problems:
                exc = GeminiPartialFailureError(f"{exc}. In the results written to {self.results_path}: {problems}",
                                                job_name=exc.job_name, state=exc.state)
            raise self._failed(context, summary, event, exc) from None
        self.log.info("%s: %s", job_name, verdict)
        if "results" in summary:
            # Only once the written results passed: a failing task keeps the job and its result file, so
            # a retry can download them again.
            self._clean_up(context, job_name, summary["results"].get("responses_file"))
        return summary

    def _failed(self, context: Any, summary: dict, event: dict, exc: GeminiBatchError) -> GeminiBatchError:
        """Before raising: name the failed requests (a partial failure) and leave the summary in XCom,
        for downstream trigger_rule tasks and for people."""
        if isinstance(exc, GeminiPartialFailureError):
            where = (summary.get("results") or {}).get("path")
            summary["failed_requests"] = failure_sample(self.hook, event.get("job_name"), where)
            named = describe_failures(summary["failed_requests"], (event.get("counts") or {}).get("failed"), where)
            self.log.error("%s", named)
            exc = GeminiPartialFailureError(f"{exc}; {named}", job_name=exc.job_name, state=exc.state)
        summary["error"] = f"{type(exc).__name__}: {exc}"
        context["ti"].xcom_push(key="return_value", value=summary)
        return exc

    def _maybe_resubmit(self, context: Any, event: dict[str, Any]) -> Any | None:
        if self.on_expired != "resubmit":
            return None
        base = self._base_display_name(context)
        parsed = parse_display_name(event.get("display_name") or base, base)
        done = parsed[0] if parsed else 1
        if done > self.max_resubmits:
            self.log.error("%s expired and the %d resubmission(s) allowed are used up.", event.get("job_name"),
                           self.max_resubmits)
            return None
        self.log.warning("%s EXPIRED: submitting a new job on purpose (on_expired='resubmit', submission #%d of %d).",
                         event.get("job_name"), done + 1, self.max_resubmits + 1)
        return self._resubmit(context, base, done + 1)

    def _clean_up(self, context: Any, job_name: str, responses_file: str | None) -> None:
        if "input_file" in self.cleanup:
            uploaded = context["ti"].xcom_pull(task_ids=self.task_id, key="input_file",
                                               map_indexes=context["ti"].map_index)
            if uploaded:
                self.hook.delete_file(uploaded)
                self.log.info("Cleanup: deleted the uploaded input %s.", uploaded)
        if "result_file" in self.cleanup and responses_file:
            self.hook.delete_file(responses_file)
            self.log.info("Cleanup: deleted the result file %s.", responses_file)
        if "job" in self.cleanup:
            self.hook.delete_job(job_name)
            self.log.info("Cleanup: deleted the job %s.", job_name)

    def on_kill(self) -> None:
        """Worker-side kill while polling in the worker (non-deferrable mode)."""
        if self.cancel_on_kill and self._job_name:
            try:
                self.hook.cancel_job(self._job_name)
                self.log.info("Task killed: cancelled %s.", self._job_name)
            except GeminiBatchError as exc:
                self.log.warning("Task killed: cancelling %s failed: %s", self._job_name, exc)


class GeminiBatchEmbedOperator(GeminiBatchSubmitOperator):
    """Like GeminiBatchSubmitOperator, for an embeddings batch (``batches.create_embeddings``).

    ``requests`` are texts, ``{"content": ..., "task_type": ..., "output_dimensionality": ...}`` dicts or
    ``{"key": ..., "request": ...}`` records; results carry ``embedding`` vectors."""

    embeddings = True

    def __init__(self, *, model: str = "gemini-embedding-001", **kwargs: Any) -> None:
        super().__init__(model=model, **kwargs)


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


def _truthy(value: Any) -> bool:
    """resubmit is templated: a rendered "True"/"false"/"1" string counts as what it says."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _run_started(context: Any) -> float | None:
    """A lower bound on when any job of this task instance could have been created (the run's run_after
    or logical date, which a clear does not move), less an hour for clocks; None if unknown."""
    dag_run = context.get("dag_run")
    stamps = [getattr(dag_run, name, None) for name in ("run_after", "logical_date", "queued_at")] if dag_run else []
    stamps = [s.timestamp() for s in stamps if s is not None and hasattr(s, "timestamp")]
    return min(stamps) - _CLOCK_SLACK if stamps else None


class _QuotaRefused(GeminiTransientError):
    """Internal: the create was refused for quota after the hook's short retries (typed, should it escape)."""

    def __init__(self, error: GeminiTransientError, display_name: str):
        super().__init__(str(error), code=error.code, status=error.status, retry_after=error.retry_after)
        self.error, self.display_name = error, display_name


@dataclass
class _PreparedInput:
    """A validated input, ready to send: inline records, a local normalised JSONL, or an uploaded file."""

    fingerprint: str
    inline: list | None = None
    local_file: Path | None = None
    file_name: str | None = None
    count: int = 0


def _write_jsonl(records: Iterable, out: Any, digest: Any) -> int:
    count = 0
    for record in records:
        line = record.jsonl()
        out.write(line)
        digest.update(line)
        count += 1
    return count


def _noting_user_keys(items: Iterable, found: list) -> Iterator:
    """Pass items through, noting in `found` whether any carries a key of its own (not one we assign)."""
    for item in items:
        if not found and isinstance(item, dict) and (
                "key" in item or "request" in item
                or (isinstance(item.get("metadata"), dict) and "key" in item["metadata"])):
            found.append(True)
        yield item


def _noting_keys(records: Iterable, manifest: Any) -> Iterator:
    for record in records:
        manifest.add(record.key)
        yield record


def _store_get(store: Any) -> dict | None:
    if store is None:
        return None
    try:
        value = store.get(STORE_KEY)
    except Exception:  # a store that cannot answer must not stop the task; the display-name lookup still works
        return None
    return value if isinstance(value, dict) else None


def _store_set(store: Any, value: dict) -> None:
    if store is not None:
        if value.get("deadline") is not None:  # the epoch float, and ISO 8601 UTC for people reading the store
            value = {**value, "deadline_utc": iso_utc(value["deadline"])}
        try:
            store.set(STORE_KEY, {k: v for k, v in value.items() if v is not None})
        except Exception as exc:  # same: the deterministic display name is the fallback
            import logging

            logging.getLogger(__name__).warning("Could not record the batch job in the task state store: %s", exc)


# ---------------------------------------------------------------------- results, cancel, delete, list
class GeminiBatchGetResultsOperator(BaseOperator):
    """Stream the results of a finished job into one JSONL of per-request records at ``results_path``.

    :param expected_keys_file: optional JSONL input (path or URI) whose keys the results should cover;
        given, missing keys are named in the summary, not only counted.
    :param cleanup: after writing, delete ``"result_file"`` and/or ``"job"``.
    """

    template_fields: Sequence[str] = ("job_name", "results_path", "expected_keys_file", "gemini_conn_id")

    def __init__(self, *, job_name: str, results_path: str, expected_keys_file: str | None = None,
                 cleanup: Iterable[str] | str | None = None,
                 gemini_conn_id: str = GeminiBatchHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.results_path = results_path
        self.expected_keys_file = expected_keys_file
        self.cleanup = sorted(_cleanup_set(cleanup) - {"input_file"})
        self.gemini_conn_id = gemini_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        check_results_location(self.results_path, self.expected_keys_file)
        hook = GeminiBatchHook(self.gemini_conn_id)
        keys = None
        if self.expected_keys_file:
            def read_keys() -> Iterator[str]:
                with open_path(self.expected_keys_file).open("rb") as fh:
                    yield from (r.key for r in iter_jsonl(read_lines(fh), source=str(self.expected_keys_file)))
            keys = SubmittedKeys.from_keys(read_keys)
        # Replaces results_path atomically; a SUCCEEDED job with no records, or a download that stays
        # short, raises and leaves the previous content in place.
        summary = write_results(hook, self.job_name, self.results_path, keys)
        if summary["failed"]:
            self.log.warning("%d of %d requests have no usable result: %s", summary["failed"], summary["submitted"],
                             describe_problems(summary))
        if "result_file" in self.cleanup and summary.get("responses_file"):
            hook.delete_file(summary["responses_file"])
        if "job" in self.cleanup:
            hook.delete_job(self.job_name)
        return summary


class GeminiBatchCancelOperator(BaseOperator):
    """Cancel a job. A job already in a terminal state is reported, not an error, unless fail_if_finished."""

    template_fields: Sequence[str] = ("job_name", "gemini_conn_id")

    def __init__(self, *, job_name: str, gemini_conn_id: str = GeminiBatchHook.default_conn_name,
                 fail_if_finished: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.gemini_conn_id = gemini_conn_id
        self.fail_if_finished = fail_if_finished

    def execute(self, context: Any) -> dict[str, Any]:
        hook = GeminiBatchHook(self.gemini_conn_id)
        snapshot = hook.get_snapshot(self.job_name)
        if snapshot.is_terminal:
            message = f"{self.job_name} is already {snapshot.state}; nothing to cancel"
            if self.fail_if_finished:
                raise GeminiRequestError(message, location="job_name")
            self.log.info("%s", message)
            return {"job_name": self.job_name, "state": snapshot.state, "cancelled": False}
        hook.cancel_job(self.job_name)
        self.log.info("Cancelled %s.", self.job_name)
        return {"job_name": self.job_name, "state": hook.get_snapshot(self.job_name).state, "cancelled": True}


class GeminiBatchDeleteOperator(BaseOperator):
    """Delete a job. A job already gone is success with a log line, unless missing_ok=False."""

    template_fields: Sequence[str] = ("job_name", "gemini_conn_id")

    def __init__(self, *, job_name: str, gemini_conn_id: str = GeminiBatchHook.default_conn_name,
                 missing_ok: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.gemini_conn_id = gemini_conn_id
        self.missing_ok = missing_ok

    def execute(self, context: Any) -> dict[str, Any]:
        deleted = GeminiBatchHook(self.gemini_conn_id).delete_job(self.job_name, missing_ok=self.missing_ok)
        self.log.info("%s %s.", self.job_name, "deleted" if deleted else "was already gone")
        return {"job_name": self.job_name, "deleted": deleted}


class GeminiBatchListJobsOperator(BaseOperator):
    """List jobs by display-name prefix and/or states; returns small summaries (name, state, counts)."""

    template_fields: Sequence[str] = ("display_name_prefix", "states", "gemini_conn_id")

    def __init__(self, *, display_name_prefix: str | None = None, states: list[str] | None = None,
                 limit: int | None = 1000, gemini_conn_id: str = GeminiBatchHook.default_conn_name,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.display_name_prefix = display_name_prefix
        self.states = states
        self.limit = limit
        self.gemini_conn_id = gemini_conn_id

    def execute(self, context: Any) -> list[dict[str, Any]]:
        jobs = GeminiBatchHook(self.gemini_conn_id).find_jobs(
            display_name_prefix=self.display_name_prefix, states=self.states, limit=self.limit)
        self.log.info("Found %d jobs.", len(jobs))
        return [{"job_name": j.name, "display_name": j.display_name, "state": j.state, "counts": j.counts(),
                 "create_time": j.create_time} for j in jobs]
