"""What was submitted, written down at submit time so the results can be judged against it later.

After a wait of hours or days, on another worker, the user's input may have changed or vanished, so
the keys of a job are never re-read from it: before the create call, the keys of the normalised input
go into a small manifest beside results_path (`.<results name>.submitted-keys`), written atomically:
one JSON string per line, then a trailer `{"count": n, "fingerprint": "<sha256 of the input>"}`.
The trailer's fingerprint is checked against the job's display name (`-f<fingerprint prefix>`), so a
manifest left by another input is never used to judge this job.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import msgspec

from .compat import read_lines
from .core.results import KeyDigests
from .storage import atomic_writer, open_path, sibling

LABEL = "submitted-keys"
_DECODE = msgspec.json.Decoder(str).decode
_ENCODE = msgspec.json.Encoder().encode
log = logging.getLogger(__name__)


def manifest_path(results_path: Any) -> Any:
    return sibling(open_path(results_path), LABEL)


class ManifestWriter:
    """Feed keys while the input streams past; `commit` publishes the manifest atomically."""

    def __init__(self, out: Any):
        self._out = out
        self.count = 0
        self.fingerprint = ""

    def add(self, key: str) -> None:
        self._out.write(_ENCODE(key) + b"\n")
        self.count += 1


class _NoManifest:
    count = 0
    fingerprint = ""

    def add(self, key: str) -> None:
        pass


@contextmanager
def recording_keys(results_path: Any | None) -> Iterator[Any]:
    """Yield a writer to `add` keys to and set `fingerprint` on; the manifest is published when the block
    ends without an exception (a validation error mid-input leaves the previous manifest as it was).
    No results_path: nothing is recorded."""
    if results_path is None:
        yield _NoManifest()
        return
    with atomic_writer(manifest_path(results_path), doing="Recording the submitted keys at") as out:
        writer = ManifestWriter(out)
        yield writer
        out.write(json.dumps({"count": writer.count, "fingerprint": writer.fingerprint}).encode() + b"\n")


def write_manifest(results_path: Any, keys: Iterable[str], fingerprint: str) -> int:
    with recording_keys(results_path) as writer:
        for key in keys:
            writer.add(key)
        writer.fingerprint = fingerprint
    return writer.count


@dataclass
class SubmittedKeys:
    """The keys of one submission: their count, their digests (for telling foreign records apart while
    results stream) and a way to stream them again (for naming the missing ones)."""

    count: int
    fingerprint: str | None
    digests: KeyDigests
    _reopen: Any

    def __iter__(self) -> Iterator[str]:
        return self._reopen()

    @classmethod
    def from_keys(cls, reopen: Any, fingerprint: str | None = None) -> SubmittedKeys:
        """From any re-openable source of keys (e.g. an expected-keys file the user names)."""
        digests = KeyDigests(reopen())
        count = sum(1 for _ in reopen())
        return cls(count, fingerprint, digests, reopen)


def _read(path: Any) -> tuple[dict | None, Callable[[], Iterator[str]]]:
    def keys() -> Iterator[str]:
        with path.open("rb") as fh:
            for line in read_lines(fh):
                if line[:1] == b'"':  # a key; the trailer is the one object line
                    yield _DECODE(line)
    trailer = None
    with path.open("rb") as fh:
        for line in read_lines(fh):
            if line.startswith(b"{"):
                trailer = json.loads(line)
    return trailer, keys


def load_manifest(results_path: Any, fingerprint_prefix: str | None) -> SubmittedKeys | None:
    """The manifest written when this job was submitted, or None (with the reason logged) when there is
    none, it is unreadable, or it belongs to another input."""
    path = manifest_path(results_path)
    try:
        trailer, reopen = _read(path)
    except FileNotFoundError:
        log.warning("No record of the submitted keys at %s: the verdict counts from batchStats' requestCount "
                    "and cannot name missing keys.", path)
        return None
    except (OSError, ValueError) as exc:
        log.warning("The record of the submitted keys at %s is unreadable (%s): not used.", path, exc)
        return None
    if not isinstance(trailer, dict) or not isinstance(trailer.get("count"), int):
        log.warning("The record of the submitted keys at %s has no trailer: not used.", path)
        return None
    fingerprint = str(trailer.get("fingerprint") or "")
    if fingerprint_prefix and not fingerprint.startswith(fingerprint_prefix):
        log.warning("The record of the submitted keys at %s belongs to another input (fingerprint %s, the job's "
                    "is %s...): not used.", path, fingerprint[:10], fingerprint_prefix)
        return None
    return SubmittedKeys(trailer["count"], fingerprint, KeyDigests(reopen()), reopen)
