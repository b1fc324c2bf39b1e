"""Name the requests that failed: the first few keys with their error, and where the rest are.

A partial failure used to say only "1 of 3 requests failed"; the key and its error lived in the
results file alone. The core here is pure (records in, a sample and a sentence out); the two
readers below it only stream records from the results file or from the job and stop as soon as
the sample is full, so naming failures never reads a 2 GB result file to the end.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator, Iterable, Iterator
from typing import Any

SAMPLE_SIZE = 5          # failed keys named in the exception, the log and the XCom summary
MESSAGE_CHARS = 160      # a server message can be long; the sample is for reading, the file has it whole
KEY_CHARS = 80
log = logging.getLogger(__name__)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failed_entry(record: dict) -> dict | None:
    """{"key", "code", "status", "message"} of a failed record (an API error or an answer that did not
    fit the response schema); None for a record that succeeded."""
    status = record.get("status")
    if status == "ok":
        return None
    key = record.get("key")
    if status == "invalid_output":
        return {"key": key, "code": None, "status": "INVALID_OUTPUT",
                "message": _clip(str(record.get("validation_error") or "the answer does not fit the response schema"),
                                 MESSAGE_CHARS)}
    error = record.get("error") or {}
    return {"key": key, "code": error.get("code"), "status": error.get("status"),
            "message": _clip(str(error.get("message") or "no message"), MESSAGE_CHARS)}


def sample_failures(records: Iterable[dict], limit: int = SAMPLE_SIZE) -> list[dict]:
    """The first `limit` failed records, in the order they come; stops reading once it has them."""
    sample: list[dict] = []
    if limit <= 0:
        return sample
    for record in records:
        entry = failed_entry(record)
        if entry is not None:
            sample.append(entry)
            if len(sample) >= limit:
                break
    return sample


def describe_entry(entry: dict) -> str:
    """'q0' (400 INVALID_ARGUMENT: the message)"""
    key = entry.get("key")
    named = repr(_clip(str(key), KEY_CHARS)) if key is not None else "(unkeyed)"
    code = " ".join(str(part) for part in (entry.get("code"), entry.get("status")) if part)
    return f"{named} ({code + ': ' if code else ''}{entry.get('message')})"


def describe_failures(sample: list[dict], failed: int | None, where: str | None) -> str:
    """One sentence naming the sampled failures and where every one of them is recorded."""
    if not sample:
        return (f"every failed request and its error is in {where}" if where else
                "the failed requests could not be named: the job's results were not readable")
    total = max(failed or 0, len(sample))
    shown = "; ".join(describe_entry(e) for e in sample)
    head = (f"the failed request: {shown}" if total == 1 else
            f"the first {len(sample)} of {total} failed requests: {shown}" if total > len(sample) else
            f"the {_plural(total, 'failed request')}: {shown}")
    if where:
        rest = "all of them" if total > len(sample) else "each with its full error"
        return f"{head}. {rest[0].upper() + rest[1:]} in {where}"
    return f"{head}. Set results_path to keep every result with its error"


# ---------------------------------------------------------------------- the readers (I/O, bounded)
def read_results_file(path: Any) -> Iterator[dict]:
    """Records of a results JSONL we wrote (local path or object storage URI), one line at a time."""
    from .compat import read_lines
    from .storage import open_path

    with open_path(path).open("rb") as fh:
        for line in read_lines(fh):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError:
                    continue


def read_job_results(hook: Any, job_name: str) -> Generator[dict, None, None]:
    """Records straight from a finished job's results (its result file, streamed, or inline results)."""
    from .core.results import iter_file_records, iter_inline_records
    from .core.states import parse_job
    from .storage import iter_lines

    raw = hook.get_job_raw(job_name)
    snapshot = parse_job(raw)
    if snapshot.responses_file:
        with hook.stream_file(snapshot.responses_file) as chunks:
            yield from iter_file_records(iter_lines(chunks))
        return
    output = (raw.get("metadata") or {}).get("output") or raw.get("response") or {}
    yield from iter_inline_records((output.get("inlinedResponses") or {}).get("inlinedResponses") or [])


def failure_sample(hook: Any, job_name: str | None, results_path: Any = None,
                   limit: int = SAMPLE_SIZE) -> list[dict]:
    """The sample from the results file when we wrote one, else from the job. Never raises: naming the
    failures must not hide the failure itself."""
    try:
        if results_path:
            return sample_failures(read_results_file(results_path), limit)
        if job_name:
            records = read_job_results(hook, job_name)
            try:
                return sample_failures(records, limit)
            finally:
                records.close()  # stops the download when the sample is full
    except Exception as exc:  # noqa: BLE001 - best effort, see above
        log.warning("Could not read the failed requests back to name them: %s: %s", type(exc).__name__, exc)
        return []
    return []
