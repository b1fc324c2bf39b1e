"""Split one big JSONL into shards under the input-file limit, and merge result files back.

Validation runs while splitting, so every shard is known good before any of it is submitted.
Both directions stream: constant memory whatever the file size.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .compat import read_lines
from .core.requests import FILE_LIMIT_BYTES, iter_jsonl
from .exceptions import GeminiRequestError
from .storage import ensure_parent, open_path

DEFAULT_SHARD_BYTES = FILE_LIMIT_BYTES - 64 * 1024 * 1024  # headroom under 2 GB


def split_jsonl(source: Any, output_dir: Any, *, max_bytes: int = DEFAULT_SHARD_BYTES,
                max_requests: int | None = None, embeddings: bool = False) -> list[str]:
    """Write validated, normalised shards ``shard-00000.jsonl``... to output_dir; return their paths.

    Keys are checked for duplicates across the whole input, not per shard, because the results of
    all shards are joined back together by key."""
    if max_bytes <= 0 or (max_requests is not None and max_requests <= 0):
        raise GeminiRequestError("max_bytes and max_requests must be positive", location="split")
    out_dir = open_path(output_dir)
    ensure_parent(out_dir / "shard")
    shards: list[str] = []
    current = None
    size = count = 0
    try:
        with open_path(source).open("rb") as fh:
            for record in iter_jsonl(read_lines(fh), source=str(source), embeddings=embeddings):
                line = record.jsonl()
                if current is None or size + len(line) > max_bytes or (max_requests and count >= max_requests):
                    if current is not None:
                        current.close()
                    path = out_dir / f"shard-{len(shards):05d}.jsonl"
                    current = path.open("wb")
                    shards.append(str(path))
                    size = count = 0
                current.write(line)
                size += len(line)
                count += 1
    finally:
        if current is not None:
            current.close()
    return shards


def merge_jsonl(paths: Iterable[Any], destination: Any) -> int:
    """Concatenate JSONL files (e.g. each shard's results) into one; returns the lines written."""
    lines = 0
    destination = open_path(destination)
    ensure_parent(destination)
    with destination.open("wb") as out:
        for path in paths:
            with open_path(path).open("rb") as fh:
                for line in read_lines(fh):
                    if line.strip():
                        out.write(line if line.endswith(b"\n") else line + b"\n")
                        lines += 1
    return lines
