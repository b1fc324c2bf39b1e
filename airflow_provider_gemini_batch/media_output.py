"""Multimodal batches, the answers: media in responses (image-generation models answer with
``inlineData`` parts) become files beside the results, ``<results dir>/<key-derived name>/<n>.<ext>``,
and the result record carries their paths instead of base64.

A pass over the written results file, one record at a time: memory is one record, whatever the
number of records. Results without media are copied as they are.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from .core.media import extension_for, safe_name
from .storage import ensure_parent, open_path


def _media_parts(record: dict) -> list[dict]:
    found = []
    for candidate in ((record.get("response") or {}).get("candidates") or []):
        for part in ((candidate or {}).get("content") or {}).get("parts") or []:
            if isinstance(part, dict) and isinstance((part.get("inlineData") or {}).get("data"), str):
                found.append(part)
    return found


def externalize_record(record: dict, media_dir: Any) -> list[str]:
    """Write this record's inline media under media_dir and swap each part's ``data`` for its ``path``.
    Returns the paths written (also listed in ``record["media"]``)."""
    parts = _media_parts(record)
    if not parts:
        return []
    folder = media_dir / safe_name(str(record.get("key")))
    ensure_parent(folder / "x")
    written = []
    for n, part in enumerate(parts):
        inline = part["inlineData"]
        target = folder / f"{n}.{extension_for(inline.get('mimeType') or 'application/octet-stream')}"
        with target.open("wb") as out:
            out.write(base64.b64decode(inline["data"]))
        part["inlineData"] = {"mimeType": inline.get("mimeType"), "path": str(target)}
        written.append(str(target))
    record["media"] = written
    return written


def externalize_results(results_path: Any) -> int:
    """Rewrite the results file with every inline media answer written out beside it; returns the
    number of media files written. The file is replaced only once the new one is complete."""
    source = open_path(results_path)
    media_dir = source.parent
    tmp = source.parent / f".{source.name}.media-tmp"
    written = 0
    with source.open("rb") as fin, tmp.open("wb") as fout:
        for line in fin:
            if b'"inlineData"' not in line:  # most records: no parsing, copied byte for byte
                fout.write(line)
                continue
            record = json.loads(line)
            written += len(externalize_record(record, media_dir))
            fout.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
    if written:
        _replace(tmp, source)
    else:
        tmp.unlink()
    return written


def _replace(tmp: Any, destination: Any) -> None:
    try:
        tmp.replace(destination)  # pathlib.Path, and ObjectStoragePath on local filesystems
    except (AttributeError, NotImplementedError, OSError):
        with tmp.open("rb") as fin, destination.open("wb") as fout:  # object stores: copy, then drop
            while chunk := fin.read(1024 * 1024):
                fout.write(chunk)
        tmp.unlink()
