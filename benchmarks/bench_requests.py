"""Request building and validation: N small requests validated, normalised and written as JSONL."""

from __future__ import annotations

import os
import tempfile
import time

from airflow_provider_gemini_batch.batch_requests import iter_jsonl, iter_keyed


def _prompts(n: int):
    return (f"Summarise ticket {i} in one sentence." for i in range(n))


def _dicts(n: int):
    return ({"key": f"row-{i}", "request": {"contents": [{"role": "user", "parts": [{"text": f"Summarise ticket {i}."}]}],
                                           "generationConfig": {"temperature": 0.2}}} for i in range(n))


def _time(label: str, n: int, records) -> dict:
    fd, path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    t0 = time.perf_counter()
    with open(path, "wb") as out:
        for record in records:
            out.write(record.jsonl())
    seconds = time.perf_counter() - t0
    size = os.path.getsize(path)
    os.unlink(path)
    return {"case": label, "requests": n, "seconds": seconds, "requests_per_s": n / seconds, "MB_written": size / 2**20}


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
    return rows
