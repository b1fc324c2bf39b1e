"""Stream a finished job's results, whatever their form, into one JSONL of per-request records, and
judge what was written against what was submitted.

Constant memory for file results (the result file is read in 1 MiB chunks and written record by
record); inline results are already in the job resource, capped by the API at about 20 MB. Keys
are remembered as 64-bit digests, so duplicates and missing keys are found at ~70 bytes a request.

The destination is replaced atomically (storage.atomic_writer): a cut or short download, a full disk
or a SUCCEEDED job with no records leaves whatever was at results_path before, untouched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from .core.pricing import usage_summary
from .core.results import ResultTally, describe_problems, iter_file_records, iter_inline_records
from .core.states import parse_job
from .exceptions import (
    GeminiNotFoundError,
    GeminiResultsIncompleteError,
    GeminiTransientError,
    GeminiUnreachableError,
)
from .hooks.gemini_batch import GeminiBatchHook, check_job_name
from .storage import atomic_writer, iter_lines, open_path
from .submitted_keys import SubmittedKeys

MISSING_KEYS_LISTED = 20
log = logging.getLogger(__name__)


def _encode(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


class _Counted:
    """Chunks passing through, counted, so a download can be compared with the file's sizeBytes."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = chunks
        self.bytes = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.bytes += len(chunk)
            yield chunk


def _size_of(hook: GeminiBatchHook, name: str) -> int | None:
    try:
        size = hook.get_file(name).get("sizeBytes")
        return int(size) if size is not None else None
    except (GeminiNotFoundError, ValueError, TypeError):
        return None


def write_results(hook: GeminiBatchHook, job_name: str, results_path: Any,
                  submitted: SubmittedKeys | Iterable[str] | None = None, validator: Any = None) -> dict[str, Any]:
    """Write every result of a finished job to results_path and return a small summary for XCom: path,
    records, ok, errors, invalid_output, duplicate_keys, unkeyed, unparseable, foreign, and the verdict
    from what was written: submitted, succeeded, failed (every submitted request without exactly one ok
    record), missing (+ up to 20 of each kind named); tokens, estimated_cost_usd, responses_file.

    `submitted`: the submitted keys (SubmittedKeys, from the manifest written at submit), or None when
    they are unknown (then batchStats' requestCount is the count). A download shorter than the file's
    sizeBytes (or, when the file has no sizeBytes, with fewer records than requestCount) is retried as a
    transient fault first (a download that matched sizeBytes is the whole file: re-reading it would
    not add lines); one that stays short of sizeBytes, or a job that SUCCEEDED with no records, raises
    GeminiResultsIncompleteError, and results_path keeps its previous content."""
    check = validator.check if validator is not None else None
    check_job_name(job_name)
    raw = hook.get_job_raw(job_name)
    snapshot = parse_job(raw)
    destination = open_path(results_path)
    if submitted is not None and not isinstance(submitted, SubmittedKeys):
        keys = list(submitted)
        submitted = SubmittedKeys.from_keys(lambda: iter(keys))
    expected_count = submitted.count if submitted is not None else snapshot.request_count
    digests = submitted.digests if submitted is not None else None
    attempts = hook.settings.max_retries + 1
    tries = [0]

    def write(records: Iterable[dict], tally: ResultTally, out: Any) -> None:
        for record in map(check, records) if check else records:
            tally.add(record)
            out.write(_encode(record))

    def judge_short(tally: ResultTally, final: bool, what: str) -> None:
        """Raised inside the atomic writer: nothing is published. `final`: no retry would help (the last
        attempt, inline results, or a download whose size matched the file's: the file itself is short)."""
        if tally.written < expected_count and not final:
            raise GeminiTransientError(f"{what} gave {tally.written} records for {expected_count} requests")
        if tally.written == 0 and expected_count:
            raise GeminiResultsIncompleteError(
                f"{job_name} ended {snapshot.state} but its results hold no records for its {expected_count} "
                f"requests ({what}); results_path {str(results_path)!r} was left as it was. Retry the task to "
                "download again", job_name=job_name, state=snapshot.state, path=str(results_path))

    if snapshot.responses_file:
        name = snapshot.responses_file
        size = _size_of(hook, name)

        def attempt() -> ResultTally:
            # A transfer cut or short starts over: a fresh tally, a fresh temporary file.
            tries[0] += 1
            fresh = ResultTally(expected=digests)
            with atomic_writer(destination, job_name) as out, hook.stream_file(name) as chunks:
                counted = _Counted(chunks)
                write(iter_file_records(iter_lines(counted)), fresh, out)
                if size is not None and counted.bytes != size:
                    raise GeminiTransientError(f"Downloading {name}: got {counted.bytes} of its {size} bytes "
                                               "(the transfer ended early)")
                judge_short(fresh, size is not None or tries[0] >= attempts, f"the result file {name}")
            return fresh

        try:
            tally = hook.retrying(attempt, f"Writing the results of {job_name}", attempts=attempts - 1)
        except (GeminiTransientError, GeminiUnreachableError) as exc:
            raise GeminiResultsIncompleteError(
                f"The results of {job_name} could not be downloaded whole: {exc}. results_path "
                f"{str(results_path)!r} was left as it was; retry the task to download again.",
                job_name=job_name, state=snapshot.state, path=str(results_path)) from None
    else:
        output = (raw.get("metadata") or {}).get("output") or raw.get("response") or {}
        items = (output.get("inlinedResponses") or {}).get("inlinedResponses") or []
        tally = ResultTally(expected=digests)
        with atomic_writer(destination, job_name) as out:
            write(iter_inline_records(items), tally, out)
            judge_short(tally, True, "no result file and no inline responses" if not items else "inline responses")
    summary: dict[str, Any] = {"path": str(results_path),
                               **tally.summary(submitted=expected_count or None, submitted_keys=submitted)}
    if submitted is None:
        summary["keys_unknown"] = True
    summary.update(usage_summary(snapshot.model, summary["tokens"]))  # unknown is None, not {} / 0.0
    summary["responses_file"] = snapshot.responses_file
    log.info("Wrote %d result records (%d ok, %d errors, %d invalid output) to %s.", tally.written, tally.ok,
             tally.errors, tally.invalid_output, results_path)
    problems = describe_problems(summary)
    if summary["failed"]:
        log.warning("Results of %s: %d of %d submitted requests have no usable result: %s.", job_name,
                    summary["failed"], summary["submitted"], problems)
    return summary
