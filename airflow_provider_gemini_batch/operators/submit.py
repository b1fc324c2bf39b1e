"""The submit operators (generate content, embeddings): submit exactly once per task instance, wait
without holding a worker slot, write the results, judge them.

The workflow, top to bottom: `execute` -> `_submit_once` (prepare the input, then submit or reattach as the
submission ledger decides) -> `_after_submit` (defer, or wait in the worker) -> `_complete` (remember a
success, resubmit a stuck job) -> `_finish` (write results -> judge -> maybe resubmit an expired job).
The decisions themselves are pure (core.submission_ledger, core.states, core.events); what is here is
the I/O that carries them out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator

from ..compat import not_jinja
from ..core import submission_ledger as ledger
from ..core.batch_kind import BatchKind
from ..core.events import STATUS_STUCK, STATUS_TERMINAL, build_event, judge_event, setting, validate_event
from ..core.progress_log import short_state
from ..core.results import describe_problems
from ..core.states import JobSnapshot, has_results, parse_job
from ..core.structured_output import OutputValidator
from ..core.submission_ledger import STORE_KEY, Action, base_display_name, display_name_for
from ..exceptions import (
    GeminiBatchError,
    GeminiJobExpiredError,
    GeminiNotFoundError,
    GeminiPartialFailureError,
    GeminiRequestError,
    GeminiSubmitTimeoutError,
    GeminiTransientError,
)
from ..failure_report import describe_failures, failure_sample
from ..hooks.gemini_batch import JOB_SEARCH_BOUND, GeminiBatchHook
from ..links import GeminiBatchResultsLink
from ..rendered import schemas_as_json
from ..results_writer import write_results
from ..submitted_keys import SubmittedKeys, load_manifest
from ..triggers.batch import GeminiBatchJobTrigger
from ..waits import defer_backstop
from .common import _cleanup_set, _seconds, poll_until_done
from .submit_input import InputSpec, _PreparedInput, prepared_input, upload_if_needed

DEFAULT_TIMEOUT = timedelta(hours=48)
# How long a create refused for quota (429 RESOURCE_EXHAUSTED) is retried, deferred, before the task fails.
# Real projects report quota refusals lasting minutes to hours (python-genai #1901).
DEFAULT_SUBMIT_TIMEOUT = timedelta(hours=6)
QUOTA_RETRY_INITIAL = 60.0     # first pause after a quota refusal; doubles ...
QUOTA_RETRY_MAX = 30 * 60.0    # ... up to this
INPUT_MODES = ("auto", "file", "inline")
# Jobs per page when a retry looks for this task instance's job by display name (the list is newest
# first, and paging stops at the first page entirely older than the run).
SEARCH_PAGE_SIZE = 100

log = logging.getLogger(__name__)


def _default_deferrable() -> bool:
    """[gemini_batch] default_deferrable, or a site's [operators] default_deferrable=False (..defaults)."""
    from ..defaults import default_deferrable

    return default_deferrable()


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
    :param deferrable: wait in the triggerer (default True; ``[gemini_batch] default_deferrable`` flips it).
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
    kind = BatchKind.GENERATE

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
    def embeddings(self) -> bool:
        """Read-only, kept for code that asked the operator; `kind` says it."""
        return self.kind is BatchKind.EMBED

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
                            prepared: _PreparedInput, search: bool = False
                            ) -> tuple[str, float | None, JobSnapshot | None]:
        """Carry out what the ledger decides about this task instance's latest job."""
        existing = self._find_existing(record, base, context, search)
        decision = ledger.decide(existing, record, base, prepared.fingerprint, ledger.truthy(self.resubmit),
                                 self.on_changed_input)
        if decision.action is Action.REFUSE:
            raise decision.refusal
        if decision.action is Action.REATTACH:
            job = decision.job
            assert job is not None  # the ledger reattaches only to a job it found
            self.log.info("%s", decision.note)
            deadline = (record or {}).get("deadline") or self._deadline()
            _store_set(store, ledger.reattached_record(record, job, deadline))
            return job.name, deadline, (job if job.is_terminal else None)
        if decision.cancel:
            self.hook.cancel_job(decision.cancel)
        if decision.note:
            self.log.warning("%s", decision.note)
        return (*self._submit(context, base, decision.submission, prepared), None)

    def _find_existing(self, record: dict | None, base: str, context: Any, search: bool = False
                       ) -> JobSnapshot | None:
        """This task instance's latest job, if any: the recorded one, else the newest found by display name."""
        if record and record.get("job_name"):
            try:
                return self.hook.get_snapshot(record["job_name"])
            except GeminiNotFoundError:
                gone = ledger.recorded_job_gone(record, ledger.truthy(self.resubmit))
                if gone is not None:
                    raise gone from None
                self.log.warning("Recorded job %s no longer exists; looking for others.", record["job_name"])
        if not ledger.needs_search(record, search, context["ti"].try_number):
            return None
        # Bounded: listing stops at jobs older than this run (jobs are listed newest first) and at the cap.
        found = self.hook.find_jobs(display_name_prefix=base, newer_than=_run_started(context),
                                    max_scanned=JOB_SEARCH_BOUND, page_size=SEARCH_PAGE_SIZE)
        return ledger.latest_job(found, base)

    def _base_display_name(self, context: Any) -> str:
        ti = context["ti"]
        return base_display_name(ti.dag_id, ti.task_id, ti.run_id, ti.map_index, prefix=self.display_name)

    def _submit(self, context: Any, base: str, submission: int, prepared: _PreparedInput) -> tuple[str, float | None]:
        store = context.get("task_state_store")
        record = _store_get(store) or {}
        display_name = display_name_for(base, submission, prepared.fingerprint)
        reused = self._reusable_upload(record, display_name, prepared)
        source, uploaded = ({"file_name": reused}, reused) if reused else \
            upload_if_needed(prepared, display_name, self.hook, self.log)
        intent = ledger.intent_record(record, display_name, uploaded, prepared.fingerprint)
        _store_set(store, intent)  # a crash from here on is found by this display name
        try:
            operation = self.hook.create_batch(self.model, kind=self.kind, display_name=display_name, **source)
        except GeminiTransientError as exc:
            if exc.code == 429 or exc.status == "RESOURCE_EXHAUSTED":
                raise _QuotaRefused(exc, display_name) from None
            raise
        job_name = operation["name"]
        deadline = self._deadline()
        _store_set(store, ledger.submitted_record(intent, job_name, deadline, time.time(), submission))
        if uploaded:
            context["ti"].xcom_push(key="input_file", value=uploaded)
        self.log.info("Submitted %s as %r (%s).", job_name, display_name, short_state(parse_job(operation).state))
        return job_name, deadline

    def _deadline(self) -> float | None:
        seconds = _seconds(self.job_timeout)
        return None if seconds is None else time.time() + seconds

    def _reusable_upload(self, record: dict, display_name: str, prepared: _PreparedInput) -> str | None:
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

    def _defer_for_quota(self, context: Any, refused: _QuotaRefused, quota: dict | None) -> dict:
        """Creating the job was refused for quota: wait for it in the triggerer (a time-based trigger), not
        in a worker slot, backing off, until submit_timeout. The next attempt looks for the job first.
        With deferrable=False (no triggerer, by choice) the same wait happens in the worker, and the
        updated quota window is returned for the caller's next attempt."""
        from datetime import datetime, timezone

        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        limit = _seconds(self.submit_timeout)
        step = ledger.next_quota_attempt(quota, time.time(), limit, self.quota_retry_initial, self.quota_retry_max,
                                         refused.error.retry_after)
        quota, delay, until = step.quota, step.delay, step.until
        if step.given_up:
            raise GeminiSubmitTimeoutError(
                f"Creating {refused.display_name!r} was refused for quota for {step.waited:.0f}s ({quota['attempts']} "
                f"attempts), past submit_timeout={limit:.0f}s: {refused.error}. No job was created, nothing billed. "
                f"Raise submit_timeout, lower the number of concurrent batch tasks (a pool, see "
                f"docs/production.md), or ask for more quota.")
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

    def _prepared_input(self) -> Any:
        """The input validated, fingerprinted and its keys recorded (a context manager: a temp file lives in it)."""
        return prepared_input(InputSpec(
            model=self.model, kind=self.kind, requests=self.requests, input_file=self.input_file,
            results_path=self.results_path, wait_for_completion=self.wait_for_completion, input_mode=self.input_mode,
            strict=self.strict_validation, response_schema=self.response_schema,
            system_instruction=self.system_instruction), self.hook, self.log)

    def _input_keys(self, context: Any, event: dict[str, Any]) -> SubmittedKeys | None:
        """The keys this job was submitted with, from the manifest recorded at submit time (never the
        user's input again: it may have changed or vanished during the wait); None when unknown."""
        return load_manifest(self.results_path,
                             ledger.fingerprint_in(event.get("display_name"), self._base_display_name(context)))

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
            # The trigger ends the wait at `deadline` (one last poll, then a typed timeout).
            backstop = defer_backstop(None if deadline is None else deadline - time.time(), self.execution_timeout)
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
        if event["status"] == STATUS_TERMINAL and has_results(event.get("state")):
            _store_set(store, ledger.completed_record(record, event["job_name"], event["state"]))
        if event["status"] == STATUS_STUCK:
            return self._resubmit_stuck(context, event, record)
        return self._finish(context, event)

    def _resubmit_stuck(self, context: Any, event: dict[str, Any], record: dict) -> Any:
        """max_pending_time: the job was cancelled while still PENDING. Resubmit once, on purpose."""
        base = self._base_display_name(context)
        decision = ledger.after_stuck(record, event["job_name"], event.get("display_name"), event.get("state"), base,
                                      _seconds(self.max_pending_time))
        if decision.action is Action.REFUSE:
            raise decision.refusal
        self.log.warning("%s", decision.note)
        _store_set(context.get("task_state_store"), {**record, "pending_resubmits": 1})
        return self._resubmit(context, base, decision.submission)

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

    # ------------------------------------------------------------------ finish: write -> judge -> maybe resubmit
    def _finish(self, context: Any, event: dict[str, Any]) -> Any:
        self._job_name = event.get("job_name")
        summary: dict[str, Any] = {"job_name": event.get("job_name"), "state": event.get("state"),
                                   "display_name": event.get("display_name"), "model": event.get("model"),
                                   "counts": event.get("counts")}
        results = self._write_results(context, event)
        if results is not None:
            summary["results"] = results
            event = _counted_from_results(event, results)
        try:
            verdict = judge_event(event, self.max_failed_requests, self.max_failed_ratio,
                                  timeout_setting=setting("timeout", _seconds(self.job_timeout)))
        except GeminiJobExpiredError as exc:
            resubmitted = self._maybe_resubmit(context, event)
            if resubmitted is None:
                raise self._failed(context, summary, event, exc) from None
            return resubmitted
        except GeminiBatchError as exc:
            raise self._failed(context, summary, event, self._naming_result_problems(exc, results)) from None
        self.log.info("%s: %s", event.get("job_name"), verdict)
        if results is not None:
            # Only once the written results passed: a failing task keeps the job and its result file, so
            # a retry can download them again.
            self._clean_up(context, event["job_name"], results.get("responses_file"))
        return summary

    def _write_results(self, context: Any, event: dict[str, Any]) -> dict | None:
        """Stream a finished job's results to results_path (before the threshold is judged: nothing is lost
        either way); None when there is nothing to write (no results_path, or no results)."""
        if not (self.results_path and event.get("status") == STATUS_TERMINAL and has_results(event.get("state"))):
            return None
        validator = OutputValidator(self.response_schema) if self.response_schema is not None else None
        return write_results(self.hook, event["job_name"], self.results_path, self._input_keys(context, event),
                             validator)

    def _naming_result_problems(self, exc: GeminiBatchError, results: dict | None) -> GeminiBatchError:
        """A partial failure names what is wrong in the written results that has no record to quote
        (missing, duplicated, unparseable, unkeyed, foreign); error records and invalid outputs are
        named one by one with their errors by _failed()."""
        problems = describe_problems(results, record_problems=False) if results is not None else ""
        if not (isinstance(exc, GeminiPartialFailureError) and problems):
            return exc
        return GeminiPartialFailureError(f"{exc}. In the results written to {self.results_path}: {problems}",
                                         job_name=exc.job_name, state=exc.state)

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
        """An expired job: a new one on purpose (on_expired='resubmit', while allowed), else None."""
        base = self._base_display_name(context)
        decision = ledger.after_expired(event.get("job_name"), event.get("display_name"), base, self.on_expired,
                                        self.max_resubmits)
        if decision.action is Action.REFUSE:
            if decision.note:
                self.log.error("%s", decision.note)
            return None
        self.log.warning("%s", decision.note)
        return self._resubmit(context, base, decision.submission)

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

    kind = BatchKind.EMBED

    def __init__(self, *, model: str = "gemini-embedding-001", **kwargs: Any) -> None:
        super().__init__(model=model, **kwargs)


def _counted_from_results(event: dict[str, Any], results: dict) -> dict[str, Any]:
    """The verdict comes from what was written, not from batchStats: every submitted request without
    exactly one ok record (missing, duplicated, unparseable, unkeyed, an error line, an invalid output)
    is a failed request for max_failed_requests / max_failed_ratio."""
    return {**event, "counts": {**(event.get("counts") or {}), "requests": results["submitted"],
                                "succeeded": results["succeeded"], "failed": results["failed"]}}


def _run_started(context: Any) -> float | None:
    """Where the job search may stop: see ledger.search_floor (None if the run's times are unknown)."""
    dag_run = context.get("dag_run")
    return ledger.search_floor(getattr(dag_run, name, None) for name in ("run_after", "logical_date", "queued_at")) \
        if dag_run else None


class _QuotaRefused(GeminiTransientError):
    """Internal: the create was refused for quota after the hook's short retries (typed, should it escape)."""

    def __init__(self, error: GeminiTransientError, display_name: str):
        super().__init__(str(error), code=error.code, status=error.status, retry_after=error.retry_after)
        self.error, self.display_name = error, display_name


def _store_get(store: Any) -> dict | None:
    if store is None:
        return None
    try:
        value = store.get(STORE_KEY)
    except Exception:  # a store that cannot answer must not stop the task; the display-name lookup still works
        return None
    return ledger.read_record(value)


def _store_set(store: Any, value: dict) -> None:
    if store is not None:
        try:
            store.set(STORE_KEY, ledger.stored_form(value))
        except Exception as exc:  # same: the deterministic display name is the fallback
            log.warning("Could not record the batch job in the task state store: %s", exc)
