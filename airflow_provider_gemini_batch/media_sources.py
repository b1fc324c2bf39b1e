"""Multimodal batches, the inputs: where the files are (a local path, a glob, a directory, any
ObjectStoragePath, or a list of them), and what is in them (size, first bytes, sha256), read in
constant memory. No HTTP, no Airflow beyond ObjectStoragePath for URIs.
"""

from __future__ import annotations

import glob as globlib
import hashlib
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .core.media import MediaItem, check_size, detect_mime
from .exceptions import GeminiMediaError

HEAD_BYTES = 64
READ_BYTES = 1024 * 1024
_GLOB_CHARS = set("*?[")


def _has_glob(text: str) -> bool:
    return any(c in text for c in _GLOB_CHARS)


def _object_path(text: str):
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(text)


def _key(path: Any) -> str:
    return str(path)


def _is_hidden(path: Any) -> bool:
    return any(part.startswith(".") for part in Path(str(path).split("://", 1)[-1]).parts[-1:])


def _expand_one(location: Any) -> list[Any]:
    """The files one location names: itself, a directory's files (recursive) or a glob's matches."""
    text = str(location)
    if isinstance(location, (str, os.PathLike)) and not hasattr(location, "fs"):
        if "://" in text:
            location = None  # an URI: resolved as an ObjectStoragePath below
        elif _has_glob(text):
            return sorted(Path(p) for p in globlib.glob(text, recursive=True) if Path(p).is_file())
        else:
            path = Path(text)
            if path.is_dir():
                return sorted(p for p in path.rglob("*") if p.is_file() and not _is_hidden(p))
            return [path]
    if location is None:
        if _has_glob(text):
            scheme, rest = text.split("://", 1)
            parts = rest.split("/")
            first = next(i for i, p in enumerate(parts) if _has_glob(p))
            base = _object_path(f"{scheme}://" + "/".join(parts[:first]))
            pattern = "/".join(parts[first:])
            return sorted((p for p in base.glob(pattern) if p.is_file()), key=str)
        location = _object_path(text)
    try:
        if location.is_dir():
            return sorted((p for p in location.rglob("*") if p.is_file() and not _is_hidden(p)), key=str)
    except (OSError, NotImplementedError):
        pass
    return [location]


def expand_locations(source: Any) -> list[Any]:
    """Every file ``source`` names, deduplicated by key, in a deterministic order. A glob or directory
    that matches nothing is an error: an empty batch is almost always a wrong path."""
    locations = list(source) if isinstance(source, (list, tuple)) else [source]
    if not locations:
        raise GeminiMediaError("no media: the list of files is empty", path="source")
    found: dict[str, Any] = {}
    for location in locations:
        matches = _expand_one(location)
        if not matches:
            raise GeminiMediaError("matches no files: check the path or pattern", path=str(location))
        for match in matches:
            found.setdefault(_key(match), match)
    return list(found.values())


def _size(path: Any) -> int:
    stat = path.stat()
    size = getattr(stat, "st_size", None)
    if size is None:
        size = stat["size"] if isinstance(stat, dict) else stat.size
    return int(size)


def inspect_file(path: Any, mime_override: Any = None) -> MediaItem:
    """Size, MIME type and per-file limit of one file: cheap (a stat and the first bytes), no hashing."""
    key = _key(path)
    try:
        size = _size(path)
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
    except FileNotFoundError:
        raise GeminiMediaError("does not exist (or is not readable): check the path", path=key) from None
    except (IsADirectoryError, PermissionError, OSError) as exc:
        raise GeminiMediaError(f"cannot be read ({type(exc).__name__}: {exc})", path=key) from None
    mime = detect_mime(key, head, mime_override)
    check_size(key, size, mime)
    return MediaItem(key=key, size=size, mime_type=mime)


def sha256_of(path: Any) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(READ_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def read_bytes(path: Any) -> bytes:
    """Only for inline media (at most the inline threshold, which is capped at 15 MB)."""
    with path.open("rb") as fh:
        return fh.read()


def inspect_all(paths: Iterable[Any], mime_override: Any = None, concurrency: int = 4) -> list[MediaItem]:
    """Check every file first (all errors before any hashing or upload), then hash them, a few at a
    time: hashlib releases the GIL on large reads, and object stores answer faster in parallel."""
    paths = list(paths)
    checked = [inspect_file(p, mime_override) for p in paths]
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="gemini-media-hash") as pool:
        digests = list(pool.map(sha256_of, paths))
    return [MediaItem(i.key, i.size, i.mime_type, d) for i, d in zip(checked, digests)]


def resolve(path: Any) -> Any:
    """A path object for one referenced file: ObjectStoragePath for URIs, Path otherwise."""
    if hasattr(path, "open"):
        return path
    return _object_path(path) if "://" in str(path) else Path(str(path))


def scan_requests_file(source: Any) -> tuple[list[tuple[str, list[str], int]], dict[str, str | None]]:
    """One streamed pass over a JSONL of {"key", "request"} lines whose parts may be {"file": path}:
    (key, referenced paths, line bytes) per line, and each referenced path's stated MIME type (or None).
    Keys must be present and unique: results join back by them."""
    import msgspec

    from .core.media import file_refs, ref_mime, ref_path
    from .storage import open_path

    decoder = msgspec.json.Decoder()
    lines: list[tuple[str, list[str], int]] = []
    stated: dict[str, str | None] = {}
    seen: set[str] = set()
    with open_path(source).open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            where = f"{source} line {lineno}"
            if not raw.strip():
                raise GeminiMediaError("blank line: every line is one JSON object {'key': ..., 'request': ...}",
                                       path=where)
            try:
                obj = decoder.decode(raw)
            except (msgspec.DecodeError, UnicodeDecodeError):
                raise GeminiMediaError("malformed JSON", path=where) from None
            key = obj.get("key") if isinstance(obj, dict) else None
            if not isinstance(key, str) or not key.strip() or not isinstance(obj.get("request"), dict):
                raise GeminiMediaError("each line is {'key': '<non-empty string>', 'request': {...}}", path=where)
            if key in seen:
                raise GeminiMediaError(f"duplicate key {key!r}: keys join results to inputs and must be unique",
                                       path=where)
            seen.add(key)
            refs = []
            for part in file_refs(obj["request"]):
                path = ref_path(part, f"{where} (key {key!r})")
                refs.append(path)
                if ref_mime(part) or path not in stated:
                    stated[path] = ref_mime(part) or stated.get(path)
            lines.append((key, refs, len(raw)))
    if not lines:
        raise GeminiMediaError("no requests: the file is empty", path=str(source))
    return lines, stated
