"""Multimodal batches, the File API side: what is already stored (reusable by sha256, and how much
storage it takes), uploading each distinct content once with bounded parallelism, and deleting.

Uploads go through GeminiBatchHook.upload_file: resumable, 8 MiB chunks streamed from the source
in 256 KiB pieces, so memory is flat whatever the size; parallelism multiplies that small footprint,
never the file size.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from .core.media import MediaItem, sha256_hex_of_api
from .core.states import parse_time
from .exceptions import GeminiBatchError, GeminiMediaError

log = logging.getLogger(__name__)
DISPLAY_PREFIX = "airflow-media-"


@dataclass
class StoredFiles:
    """One listing of the project's files: reusable uploads by content digest, and bytes in use."""

    by_sha256: dict[str, dict] = field(default_factory=dict)
    used_bytes: int = 0


def survey(hook: Any, min_remaining_seconds: float, now: float | None = None) -> StoredFiles:
    """List the project's files once. A file is reusable when it is ACTIVE, reports a sha256Hash and
    stays for at least ``min_remaining_seconds`` more (so it cannot expire under the job)."""
    now = time.time() if now is None else now
    stored = StoredFiles()
    for meta in hook.iter_files():
        stored.used_bytes += int(meta.get("sizeBytes") or 0)
        digest = sha256_hex_of_api(meta.get("sha256Hash"))
        expires = parse_time(meta.get("expirationTime"))
        if digest is None or meta.get("state", "ACTIVE") != "ACTIVE" or meta.get("source") == "GENERATED":
            continue
        if expires is not None and expires - now < min_remaining_seconds:
            continue
        best = stored.by_sha256.get(digest)
        if best is None or (parse_time(best.get("expirationTime")) or 0) < (expires or 0):
            stored.by_sha256[digest] = meta
    return stored


def upload_distinct(hook: Any, wanted: Iterable[tuple[str, MediaItem, Any]], concurrency: int,
                    into: dict[str, dict]) -> dict[str, dict]:
    """Upload each (sha256, item, source path) with at most ``concurrency`` at a time, into
    ``into`` (sha256 -> File) as each finishes, so that a failure part-way still leaves a record of
    what was uploaded (to reuse or delete). The uploaded bytes are checked against the digest
    computed before: a file changed between planning and upload would answer for the wrong content."""
    wanted = list(wanted)
    if not wanted:
        return into
    hook.http, hook.upload_http  # noqa: B018 - build the shared clients before threads race to

    def one(entry: tuple[str, MediaItem, Any]) -> tuple[str, dict]:
        digest, item, path = entry
        meta = hook.upload_file(path, display_name=f"{DISPLAY_PREFIX}{digest[:32]}", mime_type=item.mime_type)
        reported = sha256_hex_of_api(meta.get("sha256Hash"))
        if reported is not None and reported != digest:
            _delete_quietly(hook, meta["name"])
            raise GeminiMediaError(f"changed while it was being uploaded (sha256 {digest[:12]}... before, "
                                   f"{reported[:12]}... uploaded): run again once it is stable", path=item.key)
        return digest, meta

    first_error: Exception | None = None
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="gemini-media-upload") as pool:
        futures = [pool.submit(one, entry) for entry in wanted]
        for future in as_completed(futures):
            try:
                digest, meta = future.result()
            except Exception as exc:  # collect the running ones: each success must be recorded
                if first_error is None:
                    first_error = exc
                    for pending in futures:
                        pending.cancel()  # not started yet: never started
                continue
            into[digest] = meta
    if first_error is not None:
        raise first_error
    return into


def _delete_quietly(hook: Any, name: str) -> bool:
    try:
        return hook.delete_file(name)
    except GeminiBatchError as exc:
        log.warning("Could not delete %s: %s", name, exc)
        return False


def delete_files(hook: Any, names: Iterable[str], concurrency: int = 4) -> int:
    """Delete files (already gone counts as done); returns how many were deleted now."""
    names = sorted(set(names))
    if not names:
        return 0
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="gemini-media-delete") as pool:
        return sum(bool(ok) for ok in pool.map(lambda n: _delete_quietly(hook, n), names))
