"""Where results go: local paths and object storage alike, written so that readers only ever see a
complete result set.

- `open_path` turns a string into a Path or an ObjectStoragePath (s3://, gs://, file://, memory://...).
- `atomic_writer` writes to a temporary name beside the destination and moves it into place only once
  everything was written; on any failure the temporary is removed and the previous content of the
  destination is left untouched. Local paths use os.replace (atomic on one filesystem); object stores
  publish an object whole on close, so the temporary object is moved (copy + delete) into place.
- `check_results_location` refuses, before anything billable, a destination that must fail later.
- `storage_error` turns an OSError (disk full, permission, read-only, file too large) into a typed error
  naming the path and the job.
"""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from .exceptions import GeminiRequestError, GeminiResultsWriteError

_WHY = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file is larger than this process may write (file size limit)",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the filesystem is read-only",
    errno.EISDIR: "it is a directory",
    errno.ENOTDIR: "a parent of it is not a directory",
}


def open_path(path: Any):
    """A local path or any ObjectStoragePath URI (s3://, gs://, file://, memory://)."""
    if hasattr(path, "open"):
        return path
    text = str(path)
    if "://" in text:
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(text)
    return Path(text)


def is_local(path: Any) -> bool:
    # ObjectStoragePath subclasses pathlib.Path on Airflow 3.0/3.1 (older universal-pathlib): only a
    # plain Path, which has no fsspec protocol, is a local file for os.replace and friends.
    return isinstance(path, Path) and not getattr(path, "protocol", None)


def ensure_parent(path: Any) -> None:
    """Local and file:// paths need their directory; bucket stores have none to make."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (NotImplementedError, OSError):
        pass


def sibling(path: Any, label: str) -> Any:
    """A hidden name beside `path`: `.<name>.<label>` (same directory, same filesystem or bucket)."""
    return path.parent / f".{path.name}.{label}"


def storage_error(exc: BaseException, path: Any, job_name: str | None, doing: str) -> GeminiResultsWriteError:
    code: int = getattr(exc, "errno", None) or 0
    why = _WHY.get(code) or f"{type(exc).__name__}: {exc}"
    where = f" for {job_name}" if job_name else ""
    fix = {errno.ENOSPC: "free space there or choose another results_path",
           errno.EDQUOT: "free space there or choose another results_path",
           errno.EFBIG: "raise the file size limit (ulimit -f) or choose another results_path",
           errno.EACCES: "give the worker write access there or choose another results_path",
           errno.EPERM: "give the worker write access there or choose another results_path",
           errno.EROFS: "choose a writable results_path"}.get(code, "check the location and retry the task")
    return GeminiResultsWriteError(
        f"{doing} {str(path)!r}{where} failed: {why}. The previous content of {str(path)!r}, if any, is "
        f"untouched and no partial file was left; {fix}.", job_name=job_name, path=str(path), errno_code=code)


def _replace(tmp: Any, destination: Any) -> None:
    if is_local(tmp):
        os.replace(tmp, destination)  # atomic on one filesystem: readers see the old file or the new one
        return
    # Object stores: an object becomes visible whole when its upload completes; moving the finished
    # temporary object into place is a server-side copy, so the destination never holds a partial object.
    tmp.fs.mv(tmp.path, destination.path)


def _remove_quietly(path: Any) -> None:
    try:
        path.unlink()
    except Exception:  # cleanup must never mask the error being raised (older Airflow: ValueError too)
        pass


@contextmanager
def atomic_writer(destination: Any, job_name: str | None = None, doing: str = "Writing results to") \
        -> Iterator[BinaryIO]:
    """Yield a binary file; what was written appears at `destination` only when the block ends without
    an exception. Any failure (an exception from the caller, a full disk, a cut download) removes the
    temporary and re-raises, OSErrors as GeminiResultsWriteError."""
    destination = open_path(destination)
    tmp = sibling(destination, f"tmp-{uuid.uuid4().hex[:12]}")
    try:
        ensure_parent(destination)
        with tmp.open("wb") as out:
            yield out
            out.flush()
            if is_local(tmp):
                os.fsync(out.fileno())  # the rename must not publish a file whose blocks are not on disk
        _replace(tmp, destination)
    except OSError as exc:
        _remove_quietly(tmp)
        raise storage_error(exc, destination, job_name, doing) from None
    except BaseException:
        _remove_quietly(tmp)
        raise


def _normalised(path: Any) -> str:
    if is_local(path):
        return os.path.realpath(os.path.abspath(os.fspath(path)))
    if getattr(path, "protocol", None) in ("file", "local"):
        # str() of a file:// ObjectStoragePath differs between Airflow releases; its .path does not.
        return os.path.realpath(getattr(path, "path", None) or str(path)[len("file://"):])
    text = str(path)
    return text[len("file://"):] if text.startswith("file://") else text.rstrip("/")


def check_results_location(results_path: Any, input_file: Any = None) -> Any:
    """Refuse, before anything billable, a results_path that must fail after the wait: equal to or
    inside the input, an existing directory (we refuse rather than invent a file name inside it), a
    name ending in '/', an unknown scheme, or a location we cannot create and rename a file in.
    Returns the opened destination."""
    text = str(results_path)
    if not text.strip():
        raise GeminiRequestError("results_path is empty", location="results_path")
    if text.endswith("/") or text.endswith(os.sep):
        raise GeminiRequestError(f"{text!r} names a directory; give a file path such as {text.rstrip('/')}/"
                                 "results.jsonl", location="results_path")
    try:
        destination = open_path(results_path)
        if not is_local(destination):
            destination.fs  # noqa: B018 - resolving the filesystem is what fails for an unknown scheme
            destination.exists()  # Airflow 3.1 resolves it lazily: the first real call is what fails there
    except Exception as exc:  # fsspec: ValueError("Protocol not known: ..."), ImportError for a missing extra
        raise GeminiRequestError(f"{text!r} cannot be opened ({type(exc).__name__}: {exc}); use a local path or "
                                 "an object storage URI Airflow knows (s3://, gs://, file://, ...) with its "
                                 "provider installed", location="results_path") from None
    if input_file is not None and not str(input_file).startswith("files/"):
        mine, theirs = _normalised(destination), _normalised(open_path(input_file))
        if mine == theirs or mine.startswith(theirs.rstrip("/") + "/"):
            raise GeminiRequestError(f"{text!r} is the input file {str(input_file)!r} (or inside it): writing the "
                                     "results there would destroy the input; choose another results_path",
                                     location="results_path")
    try:
        is_dir = destination.is_dir()
    except Exception:
        is_dir = False
    if is_dir:
        raise GeminiRequestError(f"{text!r} is an existing directory; results_path names the file to write, e.g. "
                                 f"{text.rstrip('/')}/results.jsonl", location="results_path")
    probe, moved = sibling(destination, f"probe-{uuid.uuid4().hex[:12]}"), sibling(destination, "probe-moved")
    try:
        # The same operations the real write will do: create a file beside it, move it into place.
        ensure_parent(destination)
        with probe.open("wb") as out:
            out.write(b"")
        _replace(probe, moved)
    except Exception as exc:
        why = _WHY.get(getattr(exc, "errno", None) or 0) or f"{type(exc).__name__}: {exc}"
        raise GeminiRequestError(f"{text!r} is not writable ({why}): nothing was submitted; choose a location "
                                 "the worker can create and rename files in", location="results_path") from None
    finally:
        _remove_quietly(probe)
        _remove_quietly(moved)
    return destination


def iter_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from complete
    if pending:
        yield pending
