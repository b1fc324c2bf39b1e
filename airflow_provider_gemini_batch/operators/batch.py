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

from ..batch_requests import apply_defaults, check_file_size, fits_inline, iter_jsonl, iter_keyed
from ..compat import read_lines
from ..events import STATUS_ERROR, STATUS_TERMINAL, STATUS_TIMEOUT, build_event, judge_event
from ..exceptions import GeminiBatchError, GeminiJobExpiredError, GeminiNotFoundError, GeminiRequestError
from ..hooks.gemini_batch import GeminiBatchHook
from ..results_writer import check_writable, open_path, write_results
from ..states import JobSnapshot, Outcome, parse_job
from ..structured_output import OutputValidator
from ..triggers.batch import GeminiBatchJobTrigger

STORE_KEY = "gemini_batch_submission"
DISPLAY_NAME_LIMIT = 128
DEFAULT_TIMEOUT = timedelta(hours=48)
CLEANUP_CHOICES = {"input_file", "result_file", "job"}


def _default_deferrable() -> bool:
    """Deferrable unless told otherwise: holding a worker slot for a 24-hour wait is the thing users
    come to us to avoid. Airflow's own `[operators] default_deferrable` defaults to False, so it can only
    switch us off through an explicit GEMINI_BATCH_DEFERRABLE=false or the operator argument."""
    return os.environ.get("GEMINI_BATCH_DEFERRABLE", "true").lower() not in ("0", "false", "no", "off")


def _seconds(value: timedelta | float | int | None) -> float | None:
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def base_display_name(dag_id: str, task_id: str, run_id: str, map_index: int) -> str:
    """Deterministic per logical task instance (never per try), readable, and short enough for the API."""
    digest = hashlib.sha256(f"{dag_id}\x1f{task_id}\x1f{run_id}\x1f{map_index}".encode()).hexdigest()[:12]
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{dag_id}.{task_id}")
    suffix = f"-{map_index}" if map_index is not None and map_index >= 0 else ""
    # Room is left for "-<digest>" (13), "-s<N>" and "-f<fingerprint>" (up to 17) within the limit.
    head = f"airflow-{readable}"[: DISPLAY_NAME_LIMIT - len(suffix) - 32]
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
    :param display_name: job display name; default: deterministic from dag/task/run/map index, which is
        how a retry finds a job whose creation it did not see.
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
    :param max_consecutive_poll_errors: transient poll failures in a row tolerated.
    """

    template_fields: Sequence[str] = ("model", "requests", "input_file", "display_name", "results_path",
                                      "gemini_conn_id")
    template_fields_renderers = {"requests": "json"}
    ui_color = "#e8f0fe"
    embeddings = False

    def __init__(self, *, model: str, requests: Any = None, input_file: Any = None,
                 display_name: str | None = None, gemini_conn_id: str = GeminiBatchHook.default_conn_name,
                 wait_for_completion: bool = True, deferrable: bool | None = None, poll_interval: float = 30.0,
                 timeout: timedelta | float | None = DEFAULT_TIMEOUT, cancel_on_timeout: bool = True,
                 cancel_on_kill: bool = True, max_failed_requests: int | None = None,
                 max_failed_ratio: float | None = None, results_path: str | None = None,
                 cleanup: Iterable[str] | str | None = None, on_expired: str = "fail", max_resubmits: int = 1,
                 response_schema: Any = None, system_instruction: Any = None,
                 on_changed_input: str = "fail", max_consecutive_poll_errors: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
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
        self.max_consecutive_poll_errors = max_consecutive_poll_errors
        self._job_name: str | None = None

    @property
    def hook(self) -> GeminiBatchHook:
        if getattr(self, "_hook", None) is None:
            self._hook = GeminiBatchHook(self.gemini_conn_id)
        return self._hook

    # ------------------------------------------------------------------ submit once
    def execute(self, context: Any) -> Any:
        if (self.requests is None) == (self.input_file is None):
            raise GeminiRequestError("give exactly one of requests= or input_file=", location="operator")
        base = self._base_display_name(context)
        store = context.get("task_state_store")
        record = _store_get(store)
        # The temp copy of a file input lives only until it is uploaded, never through the wait.
        with self._prepared_input() as prepared:  # validates everything: nothing billable yet
            job_name, deadline = self._submit_or_reattach(context, base, store, record, prepared)
        return self._after_submit(context, job_name, deadline)

    def _submit_or_reattach(self, context: Any, base: str, store: Any, record: dict | None,
                            prepared: "_PreparedInput") -> tuple[str, float | None]:
        existing = self._find_existing(record, base, context["ti"].try_number)
        if existing is None:
            return self._submit(context, base, 1, prepared)
        earlier = self._fingerprint_of(existing, record, base)
        parsed = parse_display_name(existing.display_name, base)
        submission = (parsed[0] if parsed else 1) + 1
        if earlier is not None and not prepared.fingerprint.startswith(earlier):
            self._on_changed_input(existing, submission)
        elif existing.outcome in (Outcome.WAITING, Outcome.SUCCEEDED, Outcome.PARTIAL):
            self.log.info("Reattaching to %s (%s) from an earlier try; not submitting again.",
                          existing.name, existing.state)
            deadline = (record or {}).get("deadline") or self._deadline()
            _store_set(store, {**(record or {}), "job_name": existing.name,
                               "display_name": existing.display_name, "deadline": deadline})
            return existing.name, deadline
        else:
            self.log.warning("The earlier job %s ended %s: submitting a new job on purpose (submission #%d).",
                             existing.name, existing.state, submission)
        return self._submit(context, base, submission, prepared)

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
        return self.display_name or base_display_name(ti.dag_id, ti.task_id, ti.run_id, ti.map_index)

    def _submit(self, context: Any, base: str, submission: int,
                prepared: "_PreparedInput") -> tuple[str, float | None]:
        store = context.get("task_state_store")
        display_name = display_name_for(base, submission, prepared.fingerprint)
        source, uploaded = self._upload_if_needed(prepared, display_name)
        intent = {"display_name": display_name, "input_file": uploaded, "fingerprint": prepared.fingerprint[:10]}
        _store_set(store, intent)  # a crash from here on is found by this display name
        operation = self.hook.create_batch(self.model, embeddings=self.embeddings, display_name=display_name,
                                           **source)
        job_name = operation["name"]
        deadline = self._deadline()
        _store_set(store, {**intent, "job_name": job_name, "deadline": deadline})
        if uploaded:
            context["ti"].xcom_push(key="input_file", value=uploaded)
        self.log.info("Submitted %s (%s) as %r.", job_name, parse_job(operation).describe(), display_name)
        return job_name, deadline

    def _deadline(self) -> float | None:
        seconds = _seconds(self.job_timeout)
        return None if seconds is None else time.time() + seconds

    def _find_existing(self, record: dict | None, base: str, try_number: int) -> JobSnapshot | None:
        if record and record.get("job_name"):
            try:
                return self.hook.get_snapshot(record["job_name"])
            except GeminiNotFoundError:
                self.log.warning("Recorded job %s no longer exists; looking for others.", record["job_name"])
        if (record and record.get("display_name")) or try_number > 1:
            found = [j for j in self.hook.find_jobs(display_name_prefix=base)
                     if parse_display_name(j.display_name, base) is not None]
            if found:
                return found[0]
        return None

    def _records(self, records: Iterable) -> Iterator:
        json_schema = OutputValidator(self.response_schema).json_schema if self.response_schema is not None else None
        if json_schema is None and self.system_instruction is None:
            return iter(records)
        return apply_defaults(records, system_instruction=self.system_instruction, json_schema=json_schema)

    @contextmanager
    def _prepared_input(self) -> Iterator["_PreparedInput"]:
        """Validate and normalise the whole input, and fingerprint it; big inputs go to a temp JSONL."""
        if self.results_path and self.wait_for_completion:
            check_writable(self.results_path)
        self.hook.check_model(self.model, embeddings=self.embeddings)
        if self.input_file is not None and str(self.input_file).startswith("files/"):
            name = str(self.input_file)
            yield _PreparedInput(hashlib.sha256(name.encode()).hexdigest(), file_name=name)
            return
        digest = hashlib.sha256()
        lines: list[bytes] = []
        if self.requests is not None:
            # Each request is encoded once: the same bytes feed the fingerprint, the size plan and the file.
            records = list(self._records(iter_keyed(self.requests, embeddings=self.embeddings)))
            lines = [record.jsonl() for record in records]
            for line in lines:
                digest.update(line)
            if fits_inline(lines):
                yield _PreparedInput(digest.hexdigest(), inline=[r.inline() for r in records])
                return
            self.log.info("%d requests are over the inline limit: they go as a file.", len(records))
        where = "requests" if self.requests is not None else str(self.input_file)
        with tempfile.NamedTemporaryFile(suffix=".jsonl") as tmp:
            if self.requests is not None:
                tmp.writelines(lines)
                count = len(lines)
            else:
                with open_path(self.input_file).open("rb") as fh:
                    count = _write_jsonl(self._records(iter_jsonl(read_lines(fh), source=where, embeddings=self.embeddings)),
                                         tmp, digest)
            tmp.flush()
            check_file_size(tmp.tell(), where)
            yield _PreparedInput(digest.hexdigest(), local_file=Path(tmp.name), count=count)

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

    def _input_keys(self) -> Iterator[str] | None:
        """The input's keys again (for naming missing results), streamed; None for a pre-uploaded file."""
        if self.requests is not None:
            return (r.key for r in iter_keyed(self.requests, embeddings=self.embeddings))
        if str(self.input_file).startswith("files/"):
            return None

        def keys() -> Iterator[str]:
            with open_path(self.input_file).open("rb") as fh:
                yield from (r.key for r in iter_jsonl(read_lines(fh), source=str(self.input_file), embeddings=self.embeddings))
        return keys()

    # ------------------------------------------------------------------ wait
    def _after_submit(self, context: Any, job_name: str, deadline: float | None) -> Any:
        self._job_name = job_name
        context["ti"].xcom_push(key="job_name", value=job_name)
        if not self.wait_for_completion:
            return {"job_name": job_name, "state": None, "waited": False}
        if self.deferrable:
            backstop = None if deadline is None else timedelta(seconds=max(60.0, deadline - time.time() + 3600))
            self.defer(
                trigger=GeminiBatchJobTrigger(
                    job_name=job_name, gemini_conn_id=self.gemini_conn_id, poll_interval=self.poll_interval,
                    deadline=deadline, cancel_on_timeout=self.cancel_on_timeout, cancel_on_kill=self.cancel_on_kill,
                    max_consecutive_errors=self.max_consecutive_poll_errors),
                method_name="execute_complete",
                timeout=backstop,
            )
        return self._finish(context, poll_until_done(self.hook, job_name, self.poll_interval, deadline,
                                                     self.cancel_on_timeout, self.log))

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        return self._finish(context, event)

    # ------------------------------------------------------------------ finish
    def _finish(self, context: Any, event: dict[str, Any]) -> Any:
        job_name = event.get("job_name")
        self._job_name = job_name
        summary: dict[str, Any] = {"job_name": job_name, "state": event.get("state"),
                                   "display_name": event.get("display_name"), "model": event.get("model"),
                                   "counts": event.get("counts")}
        if self.results_path and event.get("status") == STATUS_TERMINAL and event.get("state") in (
                "JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED"):
            # Results are written before the failure threshold is judged: nothing is lost either way.
            validator = OutputValidator(self.response_schema) if self.response_schema is not None else None
            summary["results"] = write_results(self.hook, job_name, self.results_path, self._input_keys(), validator)
            self._clean_up(context, job_name, summary["results"].get("responses_file"))
            invalid = summary["results"].get("invalid_output", 0)
            if invalid and event.get("counts"):
                # An answer that does not fit the schema is a failed request for the threshold.
                event = {**event, "counts": {**event["counts"], "failed": event["counts"]["failed"] + invalid}}
        try:
            verdict = judge_event(event, self.max_failed_requests, self.max_failed_ratio)
        except GeminiJobExpiredError:
            resubmitted = self._maybe_resubmit(context, event)
            if resubmitted is None:
                raise
            return resubmitted
        self.log.info("%s: %s", job_name, verdict)
        return summary

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
        with self._prepared_input() as prepared:
            job_name, deadline = self._submit(context, base, done + 1, prepared)
        return self._after_submit(context, job_name, deadline)

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
                    cancel_on_timeout: bool, log: Any) -> dict[str, Any]:
    """The non-deferrable driver: the same event the trigger yields, produced by polling in the worker."""
    last = None
    while True:
        if deadline is not None and time.time() >= deadline:
            reason = f"deadline passed before {job_name} finished"
            if cancel_on_timeout:
                try:
                    hook.cancel_job(job_name)
                    reason += "; the remote job was cancelled"
                except GeminiBatchError as exc:
                    reason += f"; cancelling the remote job failed: {exc}"
            return build_event(STATUS_TIMEOUT, job_name, reason, last)
        try:
            last = hook.get_snapshot(job_name)
        except GeminiBatchError as exc:
            return build_event(STATUS_ERROR, job_name, str(exc), last)
        log.info("%s", last.describe())
        if last.is_terminal:
            return build_event(STATUS_TERMINAL, job_name, f"job ended {last.state}", last)
        wait = poll_interval if deadline is None else max(0.0, min(poll_interval, deadline - time.time()))
        time.sleep(wait)


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
        hook = GeminiBatchHook(self.gemini_conn_id)
        keys = None
        if self.expected_keys_file:
            def read_keys() -> Iterator[str]:
                with open_path(self.expected_keys_file).open("rb") as fh:
                    yield from (r.key for r in iter_jsonl(read_lines(fh), source=str(self.expected_keys_file)))
            keys = read_keys()
        summary = write_results(hook, self.job_name, self.results_path, keys)
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
