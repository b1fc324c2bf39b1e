"""Housekeeping operators: fetch a finished job's results, cancel, delete, list jobs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from airflow.sdk import BaseOperator

from ..compat import read_lines
from ..core.requests import iter_jsonl
from ..core.results import describe_problems
from ..exceptions import GeminiRequestError
from ..hooks.gemini_batch import GeminiBatchHook
from ..results_writer import write_results
from ..storage import check_results_location, open_path
from ..submitted_keys import SubmittedKeys
from .common import _cleanup_set


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
