"""GeminiBatchHook: auth, jobs and streamed files for workers (sync). The trigger uses the async hook."""

from __future__ import annotations

import io
import mimetypes
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import httpx
from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt

from ..compat import CONNECTION_NOT_FOUND, BaseHook, connection_form_widgets, ui_field_behaviour
from ..core.batch_kind import BatchKind
from ..core.names import check_file_name, check_job_name, is_embedding_model, model_path  # noqa: F401 (public here too)
from ..core.redact import redact
from ..core.requests import check_file_size
from ..core.retry_policy import next_delay
from ..core.settings import GeminiSettings, default_settings, resolve_settings
from ..core.states import JobSnapshot, Outcome, parse_job, parse_time  # noqa: F401 (parse_time: public here too)
from ..exceptions import (
    GeminiApiError,
    GeminiBatchError,
    GeminiConnectionError,
    GeminiInvalidRequestError,
    GeminiMalformedReplyError,
    GeminiModelError,
    GeminiNotFoundError,
    GeminiRequestError,
    GeminiTransientError,
    GeminiUnreachableError,
)
from .errors import (
    check_job_reply,
    error_from_sdk,
    error_from_status,
    json_object,
    key_origin,
    origin,
    redirect_error,
    transport_error,
)
from .tested_connection import tested_connection_id

T = TypeVar("T")
UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024  # the API's upload granularity
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
JSONL_MIME = "application/jsonl"
# At most this many jobs are read when looking a job up by display name, whatever the list order
# (documented in docs/reliability.md, rule 4). 50 pages of 100.
JOB_SEARCH_BOUND = 5000


def new_display_name() -> str:
    return f"airflow-gemini-batch-{uuid.uuid4().hex}"


class GeminiBatchHook(BaseHook):
    """
    Talks to the Gemini Developer API's Batch and File services.

    :param gemini_conn_id: connection of type ``gemini``: password = API key, host = optional base
        URL (emulator or proxy), extras ``api_version`` (default ``v1beta``), ``timeout_seconds``,
        ``max_retries``, ``retry_max_wait_seconds``.
    """

    conn_name_attr = "gemini_conn_id"
    default_conn_name = "gemini_default"
    conn_type = "gemini"
    hook_name = "Gemini Batch"
    get_ui_field_behaviour = classmethod(ui_field_behaviour)  # the connection form on Airflow 3.0 / 3.1
    get_connection_form_widgets = classmethod(connection_form_widgets)

    def __init__(self, gemini_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gemini_conn_id = gemini_conn_id

    def __repr__(self) -> str:
        return f"GeminiBatchHook(gemini_conn_id={self.gemini_conn_id!r})"

    @classmethod
    def from_key(cls, api_key: str, base_url: str | None = None, conn_id: str = "(explicit key)") -> GeminiBatchHook:
        """A hook for callers that hold the credentials themselves (common-ai's adapters get only the
        connection's password and host)."""
        if not api_key:
            raise GeminiConnectionError(f"Connection {conn_id!r} has no API key: put the Gemini API key in its "
                                        "password field.")
        hook = cls(conn_id)
        hook.__dict__["settings"] = default_settings(conn_id, api_key, base_url)  # fills the cached property
        return hook

    # ------------------------------------------------------------------ settings and clients
    @cached_property
    def settings(self) -> GeminiSettings:
        try:
            conn = self.get_connection(self.gemini_conn_id)
        except CONNECTION_NOT_FOUND:
            conn = None
        return resolve_settings(conn, self.gemini_conn_id, os.environ)

    @cached_property
    def sdk_client(self):
        """The google-genai client, for callers who want the SDK's typed objects."""
        from google import genai
        from google.genai import types

        s = self.settings
        # The SDK's httpx client follows redirects by default, key header included: not ours.
        return genai.Client(api_key=s.api_key, http_options=types.HttpOptions(
            base_url=s.base_url, api_version=s.api_version, timeout=int(s.timeout_seconds * 1000),
            client_args={"follow_redirects": False}, async_client_args={"follow_redirects": False}))

    @cached_property
    def http(self) -> httpx.Client:
        s = self.settings
        # Redirects are never followed by httpx itself: _request follows same-origin ones and refuses the
        # rest, so the key header never reaches another origin (issue 13, rule 6).
        return httpx.Client(headers={"x-goog-api-key": s.api_key}, timeout=httpx.Timeout(s.timeout_seconds),
                            follow_redirects=False)

    @cached_property
    def upload_http(self) -> httpx.Client:
        """Upload chunks go without the key: the upload id in the URL authorises them."""
        return httpx.Client(timeout=httpx.Timeout(self.settings.timeout_seconds), follow_redirects=False)

    def close(self) -> None:
        for name in ("http", "upload_http"):
            if name in self.__dict__:
                self.__dict__.pop(name).close()

    # ------------------------------------------------------------------ one call, errors typed
    def _secret(self) -> str | None:
        try:
            return self.settings.api_key
        except GeminiBatchError:
            return None

    def _request(self, client: httpx.Client, method: str, url: str, what: str, stream: bool = False,
                 **kwargs: Any) -> httpx.Response:
        """One call; a redirect is followed only within the same origin (scheme, host, port)."""
        from urllib.parse import urljoin

        for _hop in range(6):
            try:
                reply = client.send(client.build_request(method, url, **kwargs), stream=stream)
            except httpx.TransportError as exc:
                raise self._transport_error(exc, what) from None
            if not reply.is_redirect:
                return reply
            location = reply.headers.get("location")
            reply.close()
            target = urljoin(url, location or "")
            if not location or origin(target) != origin(url):
                raise redirect_error(reply.status_code, location, what, url.split("?")[0], self._secret())
            url, kwargs = target, {k: v for k, v in kwargs.items() if k != "params"}
        raise redirect_error(reply.status_code, location, what + " (too many redirects)", url, self._secret())

    def _key_origin(self) -> str:
        return key_origin(self.settings)

    def _send(self, method: str, url: str, what: str, client: httpx.Client | None = None,
              **kwargs: Any) -> httpx.Response:
        response = self._request(client or self.http, method, url, what, **kwargs)
        if response.status_code != 200:
            raise error_from_status(response.status_code, response.content, what, self._secret(), self._key_origin(),
                                    response.headers)
        return response

    def _transport_error(self, exc: Exception, what: str) -> GeminiBatchError:
        return transport_error(exc, what, self._secret(), self.settings.base_url)

    def retrying(self, fn: Callable[[], T], what: str, attempts: int | None = None) -> T:
        """Retry transient failures (429, 5xx, timeouts, dropped or refused connections) only, a few times
        and briefly, with the one backoff (retry_policy.next_delay) that obeys Retry-After / RetryInfo.
        A server asking for a longer pause than retry_max_wait_seconds is not waited for here: the error
        goes up with its `retry_after`, and the caller's long wait (the poll policy, the quota deferral)
        honours it without holding this call open."""
        s = self.settings

        def retryable(exc: BaseException) -> bool:
            if not isinstance(exc, (GeminiTransientError, GeminiUnreachableError)):
                return False
            hint = getattr(exc, "retry_after", None)
            return hint is None or hint <= s.retry_max_wait_seconds

        def wait(rs: Any) -> float:
            exc = rs.outcome.exception()
            return next_delay(rs.attempt_number, s.retry_max_wait_seconds, hint=getattr(exc, "retry_after", None))

        retryer = Retrying(
            retry=retry_if_exception(retryable),
            stop=stop_after_attempt((attempts if attempts is not None else s.max_retries) + 1),
            wait=wait,
            before_sleep=lambda rs: self.log.warning(
                "%s: transient failure (attempt %d), retrying: %s", what, rs.attempt_number,
                rs.outcome.exception() if rs.outcome else None),
            reraise=False,
        )
        try:
            return retryer(fn)
        except RetryError as exc:
            last = exc.last_attempt.exception() or exc
            raise _with_note(last, f"gave up after {exc.last_attempt.attempt_number} attempts") from None

    def _json(self, method: str, path: str, what: str, attempts: int | None = None, **kwargs: Any) -> dict:
        url = self.settings.url(path)
        return self.retrying(lambda: json_object(self._send(method, url, what, **kwargs).content, what, url,
                                                 self._secret()), what, attempts)

    def _sdk(self, fn: Callable[[], T], what: str) -> T:
        def attempt() -> T:
            try:
                return fn()
            except (GeminiBatchError, ValueError):
                raise
            except httpx.TransportError as exc:
                raise self._transport_error(exc, what) from None
            except Exception as exc:
                typed = error_from_sdk(exc, what, self._secret(), self._key_origin())
                if typed is None:
                    raise
                raise typed from None
        return self.retrying(attempt, what)

    # ------------------------------------------------------------------ connection test
    def test_connection(self) -> tuple[bool, str]:
        ok, message = self._check_connection()
        real = tested_connection_id(self.gemini_conn_id)  # the UI's Test button uses a temporary id
        return ok, message.replace(repr(self.gemini_conn_id), repr(real))

    def _check_connection(self) -> tuple[bool, str]:
        try:
            self._send("GET", self.settings.url("batches"), "Listing batch jobs", params={"pageSize": 1})
        except GeminiBatchError as exc:
            return False, str(exc)
        except Exception as exc:  # test_connection reports, it never raises
            return False, redact(f"{type(exc).__name__}: {exc}", self._secret())
        s = self.settings
        return True, f"Connected to {s.base_url} ({s.api_version}); the API key was accepted."

    # ------------------------------------------------------------------ models
    def check_model(self, model: str, kind: BatchKind | bool | None = None, *, embeddings: bool | None = None) -> str:
        """Refuse an unknown model, or the wrong kind, before anything billable happens.
        (`embeddings=True/False`, the old spelling of the kind, is still accepted.)"""
        path = model_path(model)
        kind = BatchKind.of(kind, embeddings)
        if (kind is BatchKind.EMBED) != is_embedding_model(path):
            if kind is BatchKind.EMBED:
                raise GeminiModelError(f"{path} is not an embeddings model: use a generate operator, or an "
                                       "embeddings model such as gemini-embedding-001", location="model")
            raise GeminiModelError(f"{path} is an embeddings model: use GeminiBatchEmbedOperator "
                                   "(batches.create_embeddings) for it, or a generate model such as gemini-2.5-flash",
                                   location="model")
        try:
            self._json("GET", path, f"Looking up model {path}")
        except GeminiNotFoundError as exc:
            raise GeminiModelError(f"unknown model {path}: {exc}", location="model") from None
        return path

    # ------------------------------------------------------------------ jobs
    def create_batch(self, model: str, *, kind: BatchKind | None = None, requests: list[dict] | None = None,
                     file_name: str | None = None, display_name: str | None = None,
                     embeddings: bool | None = None) -> dict:
        """
        Create a batch job from REST-form inline requests (``[{"request": ..., "metadata": {"key": ...}}]``)
        or an uploaded ``files/...`` name. Returns the raw Operation.

        Creation is not idempotent, so it is never retried blindly: after a failure that may have
        reached the server, the job is looked up by its display name first.
        """
        if (requests is None) == (file_name is None):
            raise GeminiRequestError("give exactly one of requests or file_name", location="source")
        display_name = display_name or new_display_name()
        kind = BatchKind.of(kind, embeddings)  # embeddings=: the old spelling, still accepted
        method = kind.create_method
        if file_name is not None:
            check_file_name(file_name)
            input_config: dict[str, Any] = {kind.file_field: file_name}
        else:
            input_config = {"requests": {"requests": requests}}
        body = {"batch": {"displayName": display_name, "inputConfig": input_config}}
        url = self.settings.url(f"{model_path(model)}:{method}")
        what = f"Creating batch job {display_name!r}"
        started = time.time()

        def attempt() -> dict:
            try:
                operation = json_object(self._send("POST", url, what, json=body).content, what, url, self._secret())
                if not str(operation.get("name", "")).startswith("batches/"):
                    raise GeminiMalformedReplyError(f"{what} failed: the 200 reply from {url} names no batch job",
                                                    code=200, status="MALFORMED_REPLY")
                return operation
            except (GeminiTransientError, GeminiUnreachableError):
                # Includes a garbled 200 to a create that took effect: the job is found by its display name.
                # Bounded: a job this call created is minutes old at most (an hour of slack for clocks).
                existing = self.find_jobs(display_name=display_name, newer_than=started - 3600,
                                          max_scanned=JOB_SEARCH_BOUND)
                if existing:
                    self.log.warning("%s: the reply was lost but the job exists (%s); using it, not creating another",
                                     what, existing[0].name)
                    return self.get_job_raw(existing[0].name)
                raise

        return self.retrying(attempt, what)

    def get_job(self, name: str):
        """The SDK's BatchJob (no batchStats, no job error on the Gemini API: see get_snapshot)."""
        check_job_name(name)
        return self._sdk(lambda: self.sdk_client.batches.get(name=name), f"Getting {name}")

    def get_job_raw(self, name: str, attempts: int | None = None) -> dict:
        """The raw Operation. `attempts=0`: one try, for wait loops that own their backoff."""
        check_job_name(name)
        what = f"Getting {name}"
        raw = self._json("GET", name, what, attempts)
        return check_job_reply(raw, name, what, self.settings.url(name))

    def get_snapshot(self, name: str, attempts: int | None = None) -> JobSnapshot:
        return parse_job(self.get_job_raw(name, attempts))

    def _paged(self, path: str, items_key: str, what: str, page_size: int,
               page_marks: bool = False) -> Iterator[dict]:
        token = None
        while True:
            params: dict[str, Any] = {"pageSize": page_size}
            if token:
                params["pageToken"] = token
            page = self._json("GET", path, what, params=params)
            items = page.get(items_key) or []
            if not isinstance(items, list):
                raise GeminiMalformedReplyError(f"{what} failed: {items_key} in the reply from "
                                                f"{self.settings.url(path)} is not a list", code=200)
            yield from (i for i in items if isinstance(i, dict))
            if page_marks:
                yield _PAGE_END
            token = page.get("nextPageToken")
            if not token:
                return

    def _delete(self, name: str, what: str, missing_ok: bool) -> bool:
        try:
            self._json("DELETE", name, what)
        except GeminiNotFoundError:
            if not missing_ok:
                raise
            return False
        return True

    def iter_jobs_raw(self, page_size: int = 100, page_marks: bool = False) -> Iterator[dict]:
        """Always pages explicitly (a list with no page size has come back empty: python-genai #1250).
        With `page_marks`, a marker object follows each page."""
        return self._paged("batches", "operations", "Listing batch jobs", page_size, page_marks)

    def find_jobs(self, *, display_name: str | None = None, display_name_prefix: str | None = None,
                  states: Iterable[str] | None = None, limit: int | None = None, newer_than: float | None = None,
                  max_scanned: int | None = None, page_size: int = 100) -> list[JobSnapshot]:
        """Jobs by exact display name, display-name prefix and/or states (any spelling), in list order
        (which the API does not document: callers choosing among jobs sort by create time themselves).

        Bounded two ways: `max_scanned` stops after that many jobs were read, whatever the order; and with
        `newer_than` (epoch seconds), paging stops once a whole page is older than it *and* every page
        so far came back newest first (so nothing newer can follow). A list in any other order is read
        up to `max_scanned`."""
        from ..core.states import normalize_state

        wanted = {normalize_state(s) for s in states} if states else None
        found: list[JobSnapshot] = []
        scanned = 0
        newest_first = True
        previous: float | None = None
        page_all_old = True
        for raw in self.iter_jobs_raw(page_size, page_marks=True):
            if raw is _PAGE_END:
                if newer_than is not None and newest_first and page_all_old and scanned:
                    break
                page_all_old = True
                continue
            scanned += 1
            snap = parse_job(raw)
            created = parse_time(snap.create_time)
            if created is None:
                newest_first = False
            else:
                if previous is not None and created > previous:
                    newest_first = False
                previous = created
                if newer_than is None or created >= newer_than:
                    page_all_old = False
            if max_scanned is not None and scanned > max_scanned:
                self.log.warning("Listing batch jobs: stopped after %d jobs (the search bound); older jobs were "
                                 "not looked at.", max_scanned)
                break
            if display_name is not None and snap.display_name != display_name:
                continue
            if display_name_prefix is not None and not snap.display_name.startswith(display_name_prefix):
                continue
            if wanted is not None and snap.state not in wanted:
                continue
            found.append(snap)
            if limit is not None and len(found) >= limit:
                break
        return found

    def cancel_job(self, name: str) -> None:
        check_job_name(name)
        try:
            self._json("POST", f"{name}:cancel", f"Cancelling {name}", json={})
        except GeminiInvalidRequestError as exc:
            # A retried cancel whose first reply was lost finds the job already CANCELLED: that is success.
            if exc.status == "FAILED_PRECONDITION" and self.get_snapshot(name).outcome is Outcome.CANCELLED:
                return
            raise

    def delete_job(self, name: str, missing_ok: bool = True) -> bool:
        """Delete a job. Returns False when it was already gone (and missing_ok)."""
        return self._delete(check_job_name(name), f"Deleting {name}", missing_ok)

    # ------------------------------------------------------------------ files
    def upload_file(self, source: Any, *, display_name: str | None = None, mime_type: str | None = None) -> dict:
        """
        Upload a local path, an ObjectStoragePath, a binary file object or an iterable of bytes,
        streamed in 8 MiB chunks with the resumable protocol. A chunk that fails transiently is
        resumed from the offset the server reports, not restarted. Returns the File resource.
        """
        with _opened(source) as (fh, size, name):
            check_file_size(size, str(name or "upload"))
            mime = mime_type or _guess_mime(name)
            display_name = display_name or (Path(name).name if name else None)
            what = f"Uploading {display_name or 'a file'} ({size} bytes)"
            start = self.retrying(lambda: self._send(
                "POST", f"{self.settings.base_url}/upload/{self.settings.api_version}/files", what,
                headers={"X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start",
                         "X-Goog-Upload-Header-Content-Length": str(size),
                         "X-Goog-Upload-Header-Content-Type": mime},
                json={"file": {"display_name": display_name, "mime_type": mime, "size_bytes": size}}), what)
            upload_url = start.headers.get("x-goog-upload-url")
            if not upload_url:
                raise GeminiBatchError(f"{what}: the server returned no X-Goog-Upload-URL")
            return self._upload_chunks(fh, size, upload_url, what)

    def _upload_chunks(self, fh: BinaryIO, size: int, upload_url: str, what: str) -> dict:
        offset = 0
        failures = 0
        while True:
            length = min(UPLOAD_CHUNK_BYTES, size - offset)
            last = offset + length >= size
            command = "upload, finalize" if last else "upload"
            fh.seek(offset)
            try:
                # The chunk streams from the file in small pieces: never an 8 MiB bytes object per chunk,
                # which glibc keeps around (measured: +150 MB RSS over a 300 MB upload before this).
                reply = self._send("POST", upload_url, what, client=self.upload_http,
                                   content=_pieces(fh, length), headers={
                                       "X-Goog-Upload-Command": command, "X-Goog-Upload-Offset": str(offset),
                                       "Content-Length": str(length)})
            except (GeminiTransientError, GeminiUnreachableError) as exc:
                failures += 1
                if failures > self.settings.max_retries:
                    raise type(exc)(f"{exc} (gave up after {failures} attempts)") from None
                time.sleep(min(self.settings.retry_max_wait_seconds, 0.5 * 2 ** failures))
                status = self._query_upload(upload_url, what)
                if status.headers.get("x-goog-upload-status") == "final":
                    return status.json()["file"]  # the last chunk had landed; only its reply was lost
                offset = int(status.headers.get("x-goog-upload-size-received", 0))
                self.log.warning("%s: chunk failed (%s); resuming at byte %d", what, exc, offset)
                continue
            offset += length
            if last:
                return reply.json()["file"]

    def _query_upload(self, upload_url: str, what: str) -> httpx.Response:
        """Where an interrupted upload stands: X-Goog-Upload-Status and -Size-Received."""
        return self.retrying(lambda: self._send("POST", upload_url, what, client=self.upload_http,
                                                 headers={"X-Goog-Upload-Command": "query"}), what)

    def get_file(self, name: str) -> dict:
        return self._json("GET", check_file_name(name), f"Getting {name}")

    def iter_files(self, page_size: int = 100) -> Iterator[dict]:
        return self._paged("files", "files", "Listing files", page_size)

    def delete_file(self, name: str, missing_ok: bool = True) -> bool:
        return self._delete(check_file_name(name), f"Deleting {name}", missing_ok)

    @contextmanager
    def stream_file(self, name: str, chunk_bytes: int = DOWNLOAD_CHUNK_BYTES) -> Iterator[Iterator[bytes]]:
        """A file's bytes as an iterator of chunks, read as they arrive. Starting is retried; a
        transfer cut mid-way raises GeminiTransientError, so the caller's retry can start over."""
        check_file_name(name)
        what = f"Downloading {name}"
        url = self.settings.url(f"{name}:download")

        def start() -> httpx.Response:
            reply = self._request(self.http, "GET", url, what, stream=True, params={"alt": "media"})
            if reply.status_code != 200:
                body = reply.read()
                reply.close()
                raise error_from_status(reply.status_code, body, what, self._secret(), self._key_origin(),
                                        reply.headers)
            return reply

        def chunks(reply: httpx.Response) -> Iterator[bytes]:
            try:
                yield from reply.iter_bytes(chunk_bytes)
            except httpx.TransportError as exc:
                raise self._transport_error(exc, what) from None

        reply = self.retrying(start, what)
        try:
            yield chunks(reply)
        finally:
            reply.close()

    def download_file(self, name: str, destination: Any) -> int:
        """Stream a file to a local path, an ObjectStoragePath or a writable binary object, in
        constant memory. A transfer cut mid-way is restarted from the beginning. Returns bytes written."""
        def attempt() -> int:
            written = 0
            with self.stream_file(name) as chunks, _writable(destination) as out:
                for chunk in chunks:
                    out.write(chunk)
                    written += len(chunk)
            return written

        return self.retrying(attempt, f"Downloading {name}")


_PAGE_END: Any = object()


def _with_note(exc: BaseException, note: str) -> BaseException:
    """The same typed error with a note appended, keeping code, status and retry_after."""
    if isinstance(exc, GeminiApiError):
        return type(exc)(f"{exc} ({note})", code=exc.code, status=exc.status, retry_after=exc.retry_after)
    return type(exc)(f"{exc} ({note})")


# ---------------------------------------------------------------------- sources and sinks
def _guess_mime(name: str | None) -> str:
    if name and name.endswith((".jsonl", ".ndjson")):
        return JSONL_MIME
    guessed = mimetypes.guess_type(name or "")[0] if name else None
    return guessed or JSONL_MIME


@contextmanager
def _opened(source: Any) -> Iterator[tuple[Any, int, str | None]]:  # a binary file, or an offset view of one
    """(seekable binary file, size, name) for anything upload_file accepts."""
    if isinstance(source, (str, os.PathLike)) and not hasattr(source, "open"):
        source = Path(source)
    if hasattr(source, "open") and hasattr(source, "stat"):  # pathlib.Path or ObjectStoragePath
        with source.open("rb") as fh:
            stat = source.stat()
            size = getattr(stat, "st_size", None)
            size = stat["size"] if size is None else size
            yield fh, int(size), str(source)
        return
    if isinstance(source, io.IOBase) or hasattr(source, "read"):
        pos = source.tell()
        source.seek(0, os.SEEK_END)
        size = source.tell() - pos
        source.seek(pos)
        yield _Offset(source, pos), size, getattr(source, "name", None)
        return
    # An iterable of bytes: spool to disk so the upload can resume, memory stays flat.
    with tempfile.TemporaryFile() as spool:
        for piece in source:
            spool.write(piece)
        size = spool.tell()
        spool.seek(0)
        yield spool, size, None


def _pieces(fh: BinaryIO, length: int, piece: int = 256 * 1024) -> Iterator[bytes]:
    remaining = length
    while remaining > 0:
        data = fh.read(min(piece, remaining))
        if not data:
            raise GeminiBatchError(f"the source ended {remaining} bytes early: was it changed while uploading?")
        remaining -= len(data)
        yield data


class _Offset:
    """A file object seen from `base` on, so seek(0) means where the caller's stream started."""

    def __init__(self, fh: BinaryIO, base: int):
        self.fh, self.base = fh, base

    def seek(self, offset: int) -> None:
        self.fh.seek(self.base + offset)

    def read(self, n: int) -> bytes:
        return self.fh.read(n)


@contextmanager
def _writable(destination: Any) -> Iterator[BinaryIO]:
    if hasattr(destination, "write"):
        if hasattr(destination, "seek") and hasattr(destination, "truncate"):
            destination.seek(0)
            destination.truncate()
        yield destination
        return
    if isinstance(destination, (str, os.PathLike)) and not hasattr(destination, "open"):
        destination = Path(destination)
    if isinstance(destination, Path):
        destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("wb") as out:
        yield out
