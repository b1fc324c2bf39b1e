"""Request building and validation: N small requests validated, normalised and written as JSONL."""

from __future__ import annotations

import os
import tempfile
import time

from airflow_provider_gemini_batch.core.requests import iter_jsonl, iter_keyed


def _prompts(n: int):
    return (f"Summarise ticket {i} in one sentence." for i in range(n))


def _dicts(n: int):
    return ({"key": f"row-{i}", "request": {"contents": [{"role": "user", "parts": [{"text": f"Summarise ticket {i}."}]}],
                                           "generationConfig": {"temperature": 0.2}}} for i in range(n))


def _sdk_spelling(n: int):
    """Not canonical: SDK spelling with config=, a system instruction and a schema, so every request takes
    the schema-driven walk. Shown for what the general path costs; the target is for the fast path."""
    return ({"key": f"row-{i}", "request": {
        "contents": [{"role": "user", "parts": [{"text": f"Summarise ticket {i}."}]}],
        "config": {"temperature": 0.2, "system_instruction": "Be brief.", "response_mime_type": "application/json",
                   "response_schema": {"type": "object", "properties": {"summary": {"type": "string"}}}}}}
            for i in range(n))


def _time(label: str, n: int, records) -> dict:
    fd, path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    t0, cpu0 = time.perf_counter(), time.process_time()
    with open(path, "wb") as out:
        for record in records:
            out.write(record.jsonl())
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    size = os.path.getsize(path)
    os.unlink(path)
    # CPU seconds too: on a shared 2-core machine wall time mostly measures the neighbours.
    return {"case": label, "requests": n, "seconds": seconds, "requests_per_s": n / seconds,
            "cpu_requests_per_s": n / cpu if cpu else None, "MB_written": size / 2**20}


def run(n: int = 1_000_000) -> list[dict]:
    rows = [_time("prompt strings -> JSONL", n, iter_keyed(_prompts(n))),
            _time("keyed REST dicts -> JSONL", n, iter_keyed(_dicts(n)))]
    # A JSONL file read back through the line validator (what input_file= does).
    fd, path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    with open(path, "wb") as out:
        for record in iter_keyed(_dicts(n)):
            out.write(record.jsonl())
    with open(path, "rb") as fh:
        rows.append(_time("JSONL file -> validated JSONL", n, iter_jsonl(fh)))
    os.unlink(path)
    rows.append(_time("SDK spelling (general path) -> JSONL", n // 10, iter_keyed(_sdk_spelling(n // 10))))
    return rows
