"""Stream a finished job's results, whatever their form, into one JSONL of per-request records.

Constant memory for file results (the result file is read in 1 MiB chunks and written record by
record); inline results are already in the job resource, capped by the API at about 20 MB. Keys
are remembered as 64-bit digests, so duplicates and missing keys are found at ~70 bytes a request.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Iterable, Iterator

from .batch_results import ResultTally, iter_file_records, iter_inline_records
from .hooks.gemini_batch import GeminiBatchHook, check_job_name
from .pricing import usage_summary
from .states import parse_job

MISSING_KEYS_LISTED = 20
log = logging.getLogger(__name__)


def open_path(path: Any):
    """A local path or any ObjectStoragePath URI (s3://, gs://, file://, memory://)."""
    if hasattr(path, "open"):
        return path
    text = str(path)
    if "://" in text:
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(text)
    return Path(text)


def iter_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from complete
    if pending:
        yield pending


def ensure_parent(path: Any) -> None:
    """Local and file:// paths need their directory; bucket stores have none to make."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (NotImplementedError, OSError):
        pass


def check_writable(path: Any) -> None:
    """Fail before anything billable when the results could not be written: write and remove a probe."""
    from .exceptions import GeminiRequestError

    destination = open_path(path)
    probe = destination.parent / f".{destination.name}.write-probe"
    try:
        ensure_parent(destination)
        with probe.open("wb") as fh:
            fh.write(b"")
        probe.unlink()
    except Exception as exc:
        raise GeminiRequestError(f"results_path {str(path)!r} is not writable: {type(exc).__name__}: {exc}",
                                 location="results_path") from None


def _write(destination: Any, records: Iterable[dict], tally: ResultTally) -> None:
    ensure_parent(destination)
    with destination.open("wb") as out:
        for record in records:
            tally.add(record)
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")


def write_results(hook: GeminiBatchHook, job_name: str, results_path: Any,
                  expected_keys: Iterable[str] | None = None, validator: Any = None) -> dict[str, Any]:
    """Write every result of a finished job to results_path; return a small summary for XCom:
    path, records, ok, errors, invalid_output, duplicate_keys, unkeyed, missing (+ up to 20 missing_keys
    when the input keys are given), tokens, estimated_cost_usd, responses_file. With a validator
    (structured_output.OutputValidator), each answer is parsed and validated on the way."""
    check = validator.check if validator is not None else None
    check_job_name(job_name)
    raw = hook.get_job_raw(job_name)
    snapshot = parse_job(raw)
    destination = open_path(results_path)
    tally = ResultTally()
    if snapshot.responses_file:
        def attempt() -> ResultTally:
            # A transfer cut mid-way starts over: a fresh tally, the destination rewritten from the top.
            fresh = ResultTally()
            with hook.stream_file(snapshot.responses_file) as chunks:
                records = iter_file_records(iter_lines(chunks))
                _write(destination, map(check, records) if check else records, fresh)
            return fresh

        tally = hook.retrying(attempt, f"Writing the results of {job_name}")
    else:
        output = (raw.get("metadata") or {}).get("output") or raw.get("response") or {}
        records = iter_inline_records((output.get("inlinedResponses") or {}).get("inlinedResponses") or [])
        _write(destination, map(check, records) if check else records, tally)
    summary: dict[str, Any] = {"path": str(results_path), **tally.summary(expected=snapshot.request_count or None)}
    if expected_keys is not None:
        missing = [key for key in expected_keys if not tally.has_key(key)]
        summary["missing"] = len(missing)
        summary["missing_keys"] = missing[:MISSING_KEYS_LISTED]
    summary.update(usage_summary(snapshot.model, summary["tokens"]))  # unknown is None, not {} / 0.0
    summary["responses_file"] = snapshot.responses_file
    log.info("Wrote %d result records (%d ok, %d errors, %d invalid output) to %s.", tally.written, tally.ok,
             tally.errors, tally.invalid_output, results_path)
    if tally.duplicate_keys or summary.get("missing"):
        log.warning("Results of %s: %d duplicate keys, %d missing records%s.", job_name, tally.duplicate_keys,
                    summary.get("missing", 0),
                    f" (first: {summary['missing_keys']})" if summary.get("missing_keys") else "")
    return summary
