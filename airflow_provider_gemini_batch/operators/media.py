"""GeminiBatchMediaOperator: a folder of documents, images or audio in, one keyed answer per file out.

It builds one keyed request per file (key = the source path) and hands it to the same exactly-once
submit / deferred wait / results path as GeminiBatchSubmitOperator, which it extends. Around that:

1. plan (before anything billable): list the files, check each one's MIME type and per-file limit,
   hash them, and split the run into shards whose uploads fit in the File API storage quota;
2. per shard: reuse already-uploaded files with the same sha256, upload the rest (bounded
   parallelism, constant memory), submit, wait (bounded so the files cannot expire under it), write
   the results, delete the media we uploaded;
3. at the end: merge the shards' results, write image answers out as files, judge the failures.

Progress is kept in a small manifest beside the results (``.<results name>.media.json``), so that
a deferral or a retry of the same task instance picks up at the shard it was on, and never
uploads, submits or bills a finished shard again.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import msgspec

from ..compat import read_lines
from ..core.batch_kind import BatchKind
from ..core.media import (
    DEFAULT_INLINE_MAX_BYTES,
    DEFAULT_STORAGE_QUOTA_BYTES,
    MediaItem,
    _override,
    build_request,
    file_part,
    inline_part,
    is_inline,
    plan_line_shards,
    plan_shards,
    replace_refs,
    wait_bound_seconds,
)
from ..core.requests import iter_jsonl
from ..core.states import judge_failures
from ..exceptions import GeminiJobTimeoutError, GeminiMediaError, GeminiPartialFailureError
from ..jsonl_shards import merge_jsonl
from ..media_output import externalize_results
from ..media_sources import expand_locations, inspect_all, read_bytes, resolve, scan_requests_file
from ..media_uploads import delete_files, parse_time, survey, upload_distinct
from ..storage import check_results_location, open_path
from ..submitted_keys import manifest_path
from .common import _seconds
from .submit import GeminiBatchSubmitOperator

MANIFEST_VERSION = 1
_ENCODER = msgspec.json.Encoder()


class _ShardStore:
    """The task state store seen by one shard: each shard's job is recorded under its own key, so
    that shard 2 never mistakes shard 1's job for an earlier try of itself."""

    def __init__(self, store: Any, shard: int):
        self.store, self.shard = store, shard

    def get(self, key: str) -> Any:
        return self.store.get(f"{key}.media-{self.shard}")

    def set(self, key: str, value: Any) -> None:
        self.store.set(f"{key}.media-{self.shard}", value)


class GeminiBatchMediaOperator(GeminiBatchSubmitOperator):
    """
    One request per media file (image, PDF, audio, video, text document), keyed by its path.

    :param source: a local path, directory or glob, any ObjectStoragePath or URI (``s3://bucket/in/*.pdf``,
        ``file:///data/photos/``), or a list of them. Directories are read recursively (hidden files skipped).
    :param requests_file: instead of ``source`` and ``prompt``: a JSONL (path or URI) of ``{"key", "request"}``
        lines whose parts may name files, ``{"file": "s3://bucket/a.pdf", "mime_type": "application/pdf"}``
        (``mime_type`` optional); each file is checked, uploaded or inlined, and deduplicated the same way.
    :param prompt: with ``source``: a string template (``{path}``, ``{name}``, ``{stem}``, ``{mime_type}``,
        ``{size}``) or a
        callable(MediaItem) returning text or a list of parts; the file's part comes first unless the
        callable places it with the string ``"{media}"``.
    :param results_path: required: one JSONL record per file, ``key`` = the source path; image answers are
        written beside it as ``<results dir>/<key-derived name>/<n>.<ext>``.
    :param mime_type: override detection: one type for all, a ``{"*.ext": type}`` mapping, or a callable(path).
    :param inline_max_bytes: files up to this size go base64 in the JSONL (default 1 MiB); larger ones are
        uploaded once each (sha256) and referenced by ``fileData``.
    :param storage_quota_bytes: the project's File API storage (default 20 GB); a run whose uploads do not fit
        in what is free is split into shards submitted one after another.
    :param upload_concurrency: uploads in flight at once (default 4).
    :param reuse_min_remaining: an already-uploaded file with the same sha256 is reused when it has at least
        this long left before its 48 h expiry (default 24 h).
    :param expiry_margin: the wait ends this long before the first of a shard's files expires (default 30 min).
    :param delete_uploaded: delete the media this task uploaded once the results are written (default True;
        files it only reused, and any ``files/...`` of yours, are never deleted).
    :param write_media: write media answers (image generation) as files beside the results (default True).

    Everything else (``model``, ``response_schema``, ``system_instruction``, failure thresholds, ``deferrable``,
    ``poll_interval``, ``timeout``, ``cleanup``, ``on_expired`` ...) is GeminiBatchSubmitOperator's.
    """

    # Not `prompt`: it is text for the model (a str.format template of its own), never Jinja.
    template_fields: Sequence[str] = (*GeminiBatchSubmitOperator.template_fields, "source", "requests_file")

    def __init__(self, *, source: Any = None, prompt: Any = None, results_path: str, requests_file: Any = None,
                 mime_type: Any = None,
                 inline_max_bytes: int = DEFAULT_INLINE_MAX_BYTES,
                 storage_quota_bytes: int = DEFAULT_STORAGE_QUOTA_BYTES, upload_concurrency: int = 4,
                 reuse_min_remaining: timedelta | float = timedelta(hours=24),
                 expiry_margin: timedelta | float = timedelta(minutes=30), delete_uploaded: bool = True,
                 write_media: bool = True, **kwargs: Any) -> None:
        for name in ("requests", "input_file"):
            if kwargs.get(name) is not None:
                raise GeminiMediaError(f"{name}= is not for this operator: give source= (the media) and prompt=",
                                       path=name)
            kwargs.pop(name, None)
        if (source is None) == (requests_file is None):
            raise GeminiMediaError("give exactly one of source= (files, with prompt=) or requests_file= (a JSONL "
                                   "whose parts name files)", path="source")
        if source is not None and prompt is None:
            raise GeminiMediaError("prompt= is required with source=: a template such as 'Describe {name}.' or a "
                                   "callable", path="prompt")
        if not results_path:
            raise GeminiMediaError("results_path is required: the answers are joined to files by path there",
                                   path="results_path")
        super().__init__(results_path=results_path, **kwargs)
        self.source = source
        self.prompt = prompt
        self.requests_file = requests_file
        self.mime_type = mime_type
        self.inline_max_bytes = inline_max_bytes
        self.storage_quota_bytes = storage_quota_bytes
        self.upload_concurrency = upload_concurrency
        self.reuse_min_remaining = reuse_min_remaining
        self.expiry_margin = expiry_margin
        self.delete_uploaded = delete_uploaded
        self.write_media = write_media
        self._user_timeout = self.job_timeout  # each shard's wait is this, or less when its media expire sooner
        self._shard: int | None = None
        self._manifest: dict = {}  # the plan: set by execute (planned) or execute_complete (loaded)
        self._paths: dict[str, Any] = {}

    # ------------------------------------------------------------------ paths
    def _final_results(self) -> str:
        return str(self._user_results_path)

    def _manifest_path(self) -> Any:
        final = open_path(self._final_results())
        return final.parent / f".{final.name}.media.json"

    def _shard_results(self, index: int) -> str:
        if len(self._manifest["shards"]) == 1:
            return self._final_results()
        final = open_path(self._final_results())
        return str(final.parent / f"{final.name}.shard-{index:05d}")

    def _load_manifest(self) -> dict | None:
        path = self._manifest_path()
        try:
            with path.open("rb") as fh:
                return json.loads(fh.read())
        except (FileNotFoundError, ValueError):
            return None

    def _save_manifest(self) -> None:
        path = self._manifest_path()
        with path.open("wb") as fh:
            fh.write(json.dumps(self._manifest, separators=(",", ":")).encode())

    # ------------------------------------------------------------------ plan: nothing billable yet
    def _begin(self, context: Any) -> None:
        """Common to execute and every resume: remember the user's results path, find the files."""
        if "_user_results_path" not in self.__dict__:
            # Shards overwrite results_path and display_name; the user's (rendered) values are kept here,
            # for when the same operator object carries on after a deferral (as dag.test() does).
            self._user_results_path = self.results_path
            self._user_display_name = self.display_name
        self.display_name = self._user_display_name
        self._identity = self._base_display_name(context)
        final = self._final_results()
        if self.requests_file is not None:
            # The files the lines name, keyed as written in the lines (that is how parts find them again).
            self._lines, self._stated = scan_requests_file(self.requests_file)
            self._paths = {ref: resolve(ref) for _, refs, _ in self._lines for ref in refs}
            return
        # Our own outputs are never inputs, should results_path sit inside the source folder.
        self._paths = {str(p): p for p in expand_locations(self.source)
                       if not (str(p) == final or str(p).startswith(f"{final}.shard-"))}

    def _plan(self, context: Any) -> dict:
        check_results_location(self._final_results())
        self.hook.check_model(self.model, BatchKind.GENERATE)
        if self.requests_file is not None:
            self._validate_lines()
        # Every file checked before any hashing, and all of it before anything billable.
        items = self._inspect()
        table = {i.key: [i.size, i.mime_type, i.sha256] for i in items}
        earlier = self._load_manifest()
        if earlier and earlier.get("task") == self._identity and earlier.get("version") == MANIFEST_VERSION:
            if earlier.get("items") == table and earlier.get("inline_max_bytes") == self.inline_max_bytes:
                # A retry of this task instance over the same files: keep its plan (a fresh one could split
                # differently as storage use changed), its uploads and its finished shards, which are
                # neither uploaded nor submitted again.
                self.log.info("Continuing the media plan of an earlier try: %d of %d shard(s) done.",
                              len(earlier.get("done") or {}), len(earlier["shards"]))
                return earlier
        ours = {i.sha256 for i in items}
        stored = survey(self.hook, 0.0)
        others = stored.used_bytes - sum(int(m.get("sizeBytes") or 0) for d, m in stored.by_sha256.items()
                                         if d in ours)
        available = self.storage_quota_bytes - max(0, others)
        if available <= 0:
            raise GeminiMediaError(f"the File API storage is full: {others} bytes of other files against a quota "
                                   f"of {self.storage_quota_bytes}; delete some or raise storage_quota_bytes",
                                   path="storage_quota_bytes")
        if self.requests_file is None:
            shards = plan_shards(items, inline_max_bytes=self.inline_max_bytes, storage_bytes=available)
        else:
            by_key = {i.key: i for i in items}
            contents = {i.sha256: (i.size, is_inline(i, self.inline_max_bytes)) for i in items}
            lines = [(key, [by_key[r].sha256 for r in refs], size) for key, refs, size in self._lines]
            shards = plan_line_shards(lines, contents, storage_bytes=available)
        manifest = {"version": MANIFEST_VERSION, "task": self._identity, "items": table,
                    "shards": [{"keys": s.keys, "uploads": s.uploads} for s in shards],
                    "inline_max_bytes": self.inline_max_bytes, "files": {}, "uploaded": [], "deleted": [],
                    "done": {}}
        if earlier and earlier.get("task") == self._identity:
            # The files changed since an earlier try: a new plan, but what that try uploaded is still ours
            # (to reuse by sha256, and to delete at the end).
            manifest["uploaded"] = earlier.get("uploaded", [])
            manifest["deleted"] = earlier.get("deleted", [])
            manifest["files"] = {d: m for d, m in (earlier.get("files") or {}).items() if d in ours}
        self.log.info("Media plan: %d files, %d distinct contents, %d to upload, %d inline, %d shard(s) under %d "
                      "bytes of storage.", len(items), len(ours), sum(len(s.uploads) for s in shards),
                      sum(is_inline(i, self.inline_max_bytes) for i in items), len(shards), available)
        return manifest

    def _validate_lines(self) -> None:
        """Every request of requests_file, as the submit operator will check it (a media part standing in for
        each file), so that a bad line in the last shard is found before the first shard is billed."""
        def lines() -> Iterator[bytes]:
            with open_path(self.requests_file).open("rb") as fh:
                for raw in read_lines(fh):
                    obj = msgspec.json.decode(raw)
                    request = replace_refs(obj["request"], lambda _: {"fileData": {"fileUri": "files/planned"}})
                    yield _ENCODER.encode({**obj, "request": request}) + b"\n"

        for _ in iter_jsonl(lines(), source=str(self.requests_file)):
            pass

    def _inspect(self) -> list[MediaItem]:
        """Check and hash every file; items are keyed as in ``self._paths`` (a path, or a line's reference)."""
        keys, paths = list(self._paths), list(self._paths.values())
        override: Any = self.mime_type
        if self.requests_file is not None:
            ref_of = {str(p): k for k, p in self._paths.items()}

            def stated_first(path: str) -> str | None:  # a part's mime_type first, then the operator's
                return self._stated.get(ref_of.get(path, path)) or _override(path, self.mime_type)
            override = stated_first
        items = inspect_all(paths, override, self.upload_concurrency)
        return [MediaItem(k, i.size, i.mime_type, i.sha256) for k, i in zip(keys, items)]

    # ------------------------------------------------------------------ run
    def execute(self, context: Any) -> Any:
        self._begin(context)
        self._manifest = self._plan(context)
        self._save_manifest()
        return self._run_from(context, 0)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None, media_shard: int | None = None
                         ) -> Any:
        self._begin(context)
        loaded = self._load_manifest()
        if loaded is None:
            raise GeminiMediaError("the media manifest written before the wait is gone: was the results directory "
                                   "cleaned meanwhile? Clear the task to start over", path=str(self._manifest_path()))
        self._manifest = loaded
        # Which shard this wait was for: the job named in the event, as recorded at submit time (the
        # deferral's kwargs are only a fallback: not every runner hands back the latest ones).
        jobs = {name: int(index) for index, name in (self._manifest.get("jobs") or {}).items()}
        media_shard = jobs.get((event or {}).get("job_name"), media_shard or 0)  # the event is validated below
        self._enter_shard(context, media_shard)
        self._with_expiry_note(lambda: GeminiBatchSubmitOperator.execute_complete(self, self._ctx, event))
        return self._run_from(context, media_shard + 1)

    def defer(self, *, trigger: Any, method_name: str, kwargs: dict | None = None, timeout: Any = None) -> Any:
        # The shard being waited for travels with the deferral; the rest is in the manifest.
        kwargs = {**(kwargs or {}), "media_shard": self._shard}
        return super().defer(trigger=trigger, method_name=method_name, kwargs=kwargs, timeout=timeout)

    def _after_submit(self, context: Any, job_name: str, deadline: float | None) -> Any:
        self._manifest.setdefault("jobs", {})[str(self._shard)] = job_name
        self._save_manifest()
        return super()._after_submit(context, job_name, deadline)

    def _run_from(self, context: Any, start: int) -> Any:
        shards = self._manifest["shards"]
        for index in range(start, len(shards)):
            if str(index) in self._manifest["done"]:
                self.log.info("Shard %d of %d finished in an earlier try: skipped.", index + 1, len(shards))
                continue
            self._enter_shard(context, index)
            self._prepare_uploads(index)
            self.log.info("Shard %d of %d: %d requests.", index + 1, len(shards), len(shards[index]["keys"]))
            self._with_expiry_note(lambda: GeminiBatchSubmitOperator.execute(self, self._ctx))  # may defer
        return self._deliver_all(context)

    def _enter_shard(self, context: Any, index: int) -> None:
        self._shard = index
        self.results_path = self._shard_results(index)
        self.display_name = f"{self._identity}-m{index}"
        self.input_file = f"(the requests of media shard {index + 1})"  # written when the shard is submitted
        store = context.get("task_state_store")
        self._ctx = {**context, "task_state_store": _ShardStore(store, index) if store is not None else None}
        bound = (self._manifest.get("bounds") or {}).get(str(index))
        if bound is not None:
            self.job_timeout = bound["seconds"]

    # ------------------------------------------------------------------ uploads and the shard's requests
    def _prepare_uploads(self, index: int) -> None:
        shard = self._manifest["shards"][index]
        files = self._manifest["files"]
        margin = _seconds(self.expiry_margin) or 0.0
        reuse_floor = _seconds(self.reuse_min_remaining) or 0.0
        stored = survey(self.hook, margin) if shard["uploads"] else None
        first_key: dict[str, str] = {}
        for key, (_, _, digest) in self._manifest["items"].items():
            first_key.setdefault(digest, key)
        wanted = []
        for digest in shard["uploads"]:
            known = files.get(digest)
            found = stored.by_sha256.get(digest) if stored else None
            if found is not None and (
                    (known and known["name"] == found["name"])  # this task's own, already in its submitted job
                    or (parse_time(found.get("expirationTime")) or 0) - time.time() >= reuse_floor):
                files[digest] = _file_record(found)
                continue
            key = first_key[digest]
            wanted.append((digest, self._item(key), self._paths[key]))
        reused = len(shard["uploads"]) - len(wanted)
        fresh: dict[str, dict] = {}
        try:
            upload_distinct(self.hook, wanted, self.upload_concurrency, into=fresh)
        finally:
            for digest, meta in fresh.items():
                files[digest] = _file_record(meta)
                self._manifest["uploaded"].append(meta["name"])
            self._save_manifest()
        self.log.info("Shard %d: %d files uploaded, %d reused (same sha256, not near expiry).", index + 1,
                      len(fresh), reused)
        self._bound_wait(index)

    def _bound_wait(self, index: int) -> None:
        """The wait may not outlive the shard's files: cap the timeout at their first expiry less a margin."""
        files = self._manifest["files"]
        uploads = self._manifest["shards"][index]["uploads"]
        expiries = [t for t in (parse_time(files[d].get("expirationTime")) for d in uploads) if t is not None]
        bound = wait_bound_seconds(expiries, time.time(), _seconds(self.expiry_margin) or 0.0)
        self.job_timeout = self._user_timeout
        if bound is None:
            return
        if bound <= 0:
            raise GeminiMediaError("its uploaded media expire within the expiry margin: retry the task to upload "
                                   "them again", path=f"shard {index + 1}")
        wanted = _seconds(self._user_timeout)
        if wanted is None or bound < wanted:
            first = min(uploads, key=lambda d: parse_time(files[d].get("expirationTime")) or 0)
            self.job_timeout = bound
            self._manifest.setdefault("bounds", {})[str(index)] = {
                "seconds": bound, "file": files[first]["name"], "expires": files[first].get("expirationTime")}
            self._save_manifest()
            self.log.info("Shard %d waits at most %.1f h: its first uploaded file (%s) expires at %s.", index + 1,
                          bound / 3600, files[first]["name"], files[first].get("expirationTime"))

    def _with_expiry_note(self, call: Any) -> Any:
        try:
            return call()
        except GeminiJobTimeoutError as exc:
            bound = (self._manifest.get("bounds") or {}).get(str(self._shard))
            if bound is None:
                raise
            raise GeminiJobTimeoutError(
                f"{exc}. The wait was capped so that the job could not outlive its media: {bound['file']} (and the "
                f"shard's other uploads) expire at {bound['expires']}. Retry the task to upload the media again and "
                "submit a new job, or split the input into smaller shards (storage_quota_bytes)",
                job_name=exc.job_name, state=exc.state) from None

    def _item(self, key: str) -> MediaItem:
        size, mime, digest = self._manifest["items"][key]
        return MediaItem(key, size, mime, digest)

    def _media_part(self, key: str) -> dict:
        if key not in self._manifest["items"]:
            raise GeminiMediaError("is named by a request but was not in the plan: the requests changed since the run "
                                   "was planned; clear the task to plan again", path=key)
        item = self._item(key)
        if is_inline(item, self._manifest["inline_max_bytes"]):
            data = read_bytes(self._paths[key])
            if hashlib.sha256(data).hexdigest() != item.sha256:
                raise GeminiMediaError("changed since the run was planned (its sha256 differs): clear the task "
                                       "to plan again with the new content", path=key)
            return inline_part(item, data)
        return file_part(item, self._manifest["files"][item.sha256]["uri"])

    def _write_shard_jsonl(self, out: Any) -> int:
        keys = self._manifest["shards"][self._shard]["keys"]
        count = 0
        if self.requests_file is not None:
            wanted = set(keys)
            with open_path(self.requests_file).open("rb") as fh:
                for raw in read_lines(fh):
                    obj = msgspec.json.decode(raw)
                    if obj["key"] in wanted:
                        request = replace_refs(obj["request"], self._media_part)
                        out.write(_ENCODER.encode({"key": obj["key"], "request": request}) + b"\n")
                        count += 1
            return count
        for key in keys:
            request = build_request(self._item(key), self._media_part(key), self.prompt)
            out.write(_ENCODER.encode({"key": key, "request": request}) + b"\n")
            count += 1
        return count

    @contextmanager
    def _prepared_input(self) -> Iterator[Any]:
        """The shard's requests as a JSONL, then exactly the submit operator's validation and upload."""
        missing = [] if self.requests_file is not None else \
            [k for k in self._manifest["shards"][self._shard]["keys"] if k not in self._paths]
        if missing:
            raise GeminiMediaError("is in the plan but no longer among the source's files", path=missing[0])
        with tempfile.NamedTemporaryFile(suffix=".jsonl", prefix="gemini-media-") as tmp:
            self._write_shard_jsonl(tmp)
            tmp.flush()
            placeholder, self.input_file = self.input_file, tmp.name
            try:
                with super()._prepared_input() as prepared:
                    yield prepared
            finally:
                self.input_file = placeholder

    def _input_keys(self, context: Any = None, event: dict | None = None  # type: ignore[override]
                    ) -> Iterator[str]:  # write_results takes SubmittedKeys or any iterable of keys
        # The shard's keys as planned and recorded before its submit: never the media folder again.
        return iter(self._manifest["shards"][self._shard]["keys"])

    # ------------------------------------------------------------------ after each shard, and at the end
    def _clean_up(self, context: Any, job_name: str, responses_file: str | None) -> None:
        """Called by the submit operator once a shard's results are safely written."""
        super()._clean_up(context, job_name, responses_file)
        index = self._shard
        summary = self._read_counts(str(self.results_path))
        self._manifest["done"][str(index)] = {"job_name": job_name, **summary}
        if self.delete_uploaded:
            self._delete_ours(self._manifest["shards"][index]["uploads"])
        self._save_manifest()

    def _delete_ours(self, digests: Any) -> None:
        files = self._manifest["files"]
        ours = set(self._manifest["uploaded"]) - set(self._manifest["deleted"])
        names = [files[d]["name"] for d in digests if d in files and files[d]["name"] in ours]
        deleted = delete_files(self.hook, names, self.upload_concurrency)
        self._manifest["deleted"].extend(names)
        if names:
            self.log.info("Deleted %d uploaded media files (%d were already gone).", len(names), len(names) - deleted)

    @staticmethod
    def _read_counts(path: str) -> dict:
        counts = {"records": 0, "ok": 0, "errors": 0, "invalid_output": 0}
        with open_path(path).open("rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                status = json.loads(line).get("status")
                counts["records"] += 1
                counts["ok" if status == "ok" else "invalid_output" if status == "invalid_output" else "errors"] += 1
        return counts

    def _deliver_all(self, context: Any) -> dict:
        manifest = self._manifest
        shards = manifest["shards"]
        final = self._final_results()
        parts = [self._shard_results(i) for i in range(len(shards))]
        if len(shards) > 1 and all(open_path(p).exists() for p in parts):  # a retry after the merge has none
            merge_jsonl(parts, final)
            for part in parts:  # each shard's results and the submitted keys it was judged against
                open_path(part).unlink(missing_ok=True)
                manifest_path(part).unlink(missing_ok=True)
        media_written = externalize_results(final) if self.write_media else 0
        if self.delete_uploaded:
            self._delete_ours([d for s in shards for d in s["uploads"]])
            self._save_manifest()
        totals = {k: sum(d.get(k, 0) for d in manifest["done"].values())
                  for k in ("records", "ok", "errors", "invalid_output")}
        keys = [k for s in shards for k in s["keys"]]
        summary = {
            "results": {"path": final, **totals, "media_files": media_written},
            "jobs": [manifest["done"][str(i)]["job_name"] for i in range(len(shards))],
            "shards": len(shards),
            "media": {"files": len(manifest["items"]), "requests": len(keys),
                      "distinct": len({v[2] for v in manifest["items"].values()}),
                      "uploaded": len(manifest["uploaded"]), "deleted": len(manifest["deleted"]),
                      "inline": sum(is_inline(self._item(k), manifest["inline_max_bytes"]) for k in manifest["items"])},
        }
        failed = totals["errors"] + totals["invalid_output"]
        verdict = judge_failures(failed, len(keys), self.max_failed_requests, self.max_failed_ratio)
        if not verdict.ok:
            raise GeminiPartialFailureError(f"the media batch ({len(shards)} shard(s)) finished, but {verdict.reason};"
                                            f" the results are in {final}")
        self.log.info("Media batch done: %s", json.dumps(summary["results"]))
        return summary


def _file_record(meta: dict) -> dict:
    return {"name": meta["name"], "uri": meta.get("uri") or meta["name"], "expirationTime": meta.get("expirationTime")}
