"""The emulator's media: what the real service checks about media parts, and answers that prove
which bytes they came from.

- ``fileData.fileUri`` must name an existing, unexpired file of the stated MIME type, else that
  request fails as the real API fails it (403 PERMISSION_DENIED for a missing or expired file,
  400 INVALID_ARGUMENT for a MIME type that does not match the file's).
- Every media part (``inlineData`` bytes, or the bytes of the file ``fileData`` names) contributes
  its sha256 to the answer, so a test can prove each answer came from the right file.
- An image-generation model answers with a small deterministic PNG.
- Uploaded files get ``sha256Hash`` as the real API reports it (base64 of the hex digest), and every
  finished upload is counted by content in a ledger (``GET /_emulator/media``), with the peak of
  storage in use, so a test can prove that identical files were uploaded once and a quota was kept.

Independent of the provider's code on purpose: a fake that shares our code agrees with our bugs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
import threading
import time
import zlib
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from .wire_schema import get_any

IMAGE_MODELS = {"gemini-2.5-flash-image", "gemini-2.5-flash-image-preview", "gemini-3-pro-image-preview"}


class MediaLedger:
    """Finished uploads by content digest (kept after the file is deleted), for the admin endpoint."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.uploads: Counter = Counter()
        self.peak_storage_bytes = 0

    def record(self, digest: str, stored_bytes: int) -> None:
        with self.lock:
            self.uploads[digest] += 1
            self.peak_storage_bytes = max(self.peak_storage_bytes, stored_bytes)

    def clear(self) -> None:
        with self.lock:
            self.uploads.clear()
            self.peak_storage_bytes = 0

    def report(self) -> dict:
        with self.lock:
            return {"uploads": sum(self.uploads.values()), "distinct": len(self.uploads),
                    "by_sha256": dict(self.uploads), "peak_storage_bytes": self.peak_storage_bytes}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def wire_sha256(hex_digest: str) -> str:
    """As the Gemini API spells File.sha256Hash: base64 of the hex digest (googleapis/js-genai#381)."""
    return base64.b64encode(hex_digest.encode()).decode()


def on_uploaded(store: Any, file_id: str, meta: dict) -> None:
    digest = file_sha256(store.file_data_path(file_id))
    meta["sha256Hash"] = wire_sha256(digest)
    # Storage in use once this file lands (every file counts against the project's quota).
    stored = sum(int(m.get("sizeBytes") or 0) for m in list(store.files.values())) + int(meta["sizeBytes"])
    store.media_ledger.record(digest, stored)


def _parse_time(value: str) -> float:
    return datetime.fromisoformat(value.rstrip("Z")[:26] + "+00:00").timestamp()


def _file_id(uri: str) -> str | None:
    """files/abc, or the File's uri (https://host/v1beta/files/abc)."""
    marker = "files/"
    at = uri.rfind(marker)
    if at < 0:
        return None
    file_id = uri[at + len(marker):].split("?")[0].split(":")[0]
    return file_id or None


def _parts(request: dict):
    for content in get_any(request, "contents") or []:
        for part in (content or {}).get("parts") or []:
            if isinstance(part, dict):
                yield part


def _denied(uri: str) -> dict:
    file_id = _file_id(uri) or uri
    return {"code": 403, "status": "PERMISSION_DENIED",
            "message": f"You do not have permission to access the File {file_id} or it may not exist."}


def check_and_digest(store: Any, request: dict, now: float | None = None) -> tuple[list[str], dict | None]:
    """(sha256 of each media part in order, None) or ([], the per-request error the real API gives)."""
    now = time.time() if now is None else now
    digests: list[str] = []
    for part in _parts(request):
        inline = get_any(part, "inlineData")
        file_data = get_any(part, "fileData")
        if isinstance(inline, dict):
            try:
                raw = base64.b64decode(get_any(inline, "data") or "", validate=True)
            except (binascii.Error, ValueError):
                return [], {"code": 400, "status": "INVALID_ARGUMENT",
                            "message": "Invalid value at 'contents.parts.inline_data.data' (TYPE_BYTES), "
                                       "Base64 decoding failed."}
            digests.append(hashlib.sha256(raw).hexdigest())
        elif isinstance(file_data, dict):
            uri = str(get_any(file_data, "fileUri") or "")
            file_id = _file_id(uri)
            meta = store.files.get(file_id) if file_id else None
            if meta is None or _parse_time(meta["expirationTime"]) <= now:
                return [], _denied(uri)
            stated = get_any(file_data, "mimeType")
            if stated and stated != meta["mimeType"]:
                return [], {"code": 400, "status": "INVALID_ARGUMENT",
                            "message": f"The MIME type {stated} given for files/{file_id} does not match the "
                                       f"file's MIME type {meta['mimeType']}."}
            stated_hash = meta.get("sha256Hash")
            digests.append(base64.b64decode(stated_hash).decode() if stated_hash
                           else file_sha256(store.file_data_path(file_id)))
    return digests, None


def is_image_model(model: str) -> bool:
    return model.removeprefix("models/") in IMAGE_MODELS


def png(seed: str, size: int = 8) -> bytes:
    """A small valid PNG whose pixels come from the seed: same request, same picture."""
    rows = b""
    stream = hashlib.sha256(seed.encode()).digest() * (size * size * 3 // 32 + 1)
    for y in range(size):
        rows += b"\x00" + stream[y * size * 3:(y + 1) * size * 3]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def image_part(seed: str) -> dict:
    return {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(png(seed)).decode()}}

