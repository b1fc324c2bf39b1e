"""The submit operator's input, made ready to send: validated, normalised, fingerprinted, its keys
recorded, and (when keyed or big) written to a temp JSONL. Nothing billable happens here."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..compat import read_lines
from ..core.batch_kind import BatchKind
from ..core.requests import apply_defaults, check_file_size, fits_inline, iter_jsonl, iter_keyed
from ..core.structured_output import OutputValidator
from ..exceptions import GeminiBatchTooLargeError
from ..hooks.gemini_batch import GeminiBatchHook
from ..storage import check_results_location, open_path
from ..submitted_keys import manifest_path, recording_keys, write_manifest


@dataclass
class _PreparedInput:
    """A validated input, ready to send: inline records, a local normalised JSONL, or an uploaded file."""

    fingerprint: str
    inline: list | None = None
    local_file: Path | None = None
    file_name: str | None = None
    count: int = 0


@dataclass(frozen=True)
class InputSpec:
    """What the operator was given, as far as preparing the input goes."""

    model: str
    kind: BatchKind
    requests: Any
    input_file: Any
    results_path: str | None
    wait_for_completion: bool
    input_mode: str
    strict: bool
    response_schema: Any
    system_instruction: Any


def _with_defaults(records: Iterable, spec: InputSpec) -> Iterator:
    json_schema = OutputValidator(spec.response_schema).json_schema if spec.response_schema is not None else None
    if json_schema is None and spec.system_instruction is None:
        return iter(records)
    return apply_defaults(records, system_instruction=spec.system_instruction, json_schema=json_schema)


def _write_jsonl(records: Iterable, out: Any, digest: Any) -> int:
    count = 0
    for record in records:
        line = record.jsonl()
        out.write(line)
        digest.update(line)
        count += 1
    return count


def _noting_user_keys(items: Iterable, found: list) -> Iterator:
    """Pass items through, noting in `found` whether any carries a key of its own (not one we assign)."""
    for item in items:
        if not found and isinstance(item, dict) and (
                "key" in item or "request" in item
                or (isinstance(item.get("metadata"), dict) and "key" in item["metadata"])):
            found.append(True)
        yield item


def _noting_keys(records: Iterable, manifest: Any) -> Iterator:
    for record in records:
        manifest.add(record.key)
        yield record


def _log_manifest(log: Any, results_path: Any, count: int) -> None:
    if results_path is not None:
        log.info("Recorded the %d submitted keys at %s: the results are judged against them.", count,
                 manifest_path(results_path))


@contextmanager
def prepared_input(spec: InputSpec, hook: GeminiBatchHook, log: Any) -> Iterator[_PreparedInput]:
    """Validate and normalise the whole input, and fingerprint it; keyed or big inputs go to a temp JSONL.
    Before anything billable: a results_path that must fail later is refused, and the keys being
    submitted are recorded beside it (the manifest the results are judged against after the wait,
    whatever happens to the user's input meanwhile)."""
    writes_results = bool(spec.results_path and spec.wait_for_completion)
    if writes_results:
        check_results_location(spec.results_path, spec.input_file)
    hook.check_model(spec.model, spec.kind)
    if spec.input_file is not None and str(spec.input_file).startswith("files/"):
        name = str(spec.input_file)  # its keys are unknown here: the verdict counts from requestCount
        yield _PreparedInput(hashlib.sha256(name.encode()).hexdigest(), file_name=name)
        return
    manifest_at = spec.results_path if writes_results else None
    digest = hashlib.sha256()
    lines: list[bytes] = []
    if spec.requests is not None:
        user_keyed: list[bool] = []
        # Each request is encoded once: the same bytes feed the fingerprint, the size plan and the file.
        records = list(_with_defaults(iter_keyed(_noting_user_keys(spec.requests, user_keyed), kind=spec.kind,
                                                 strict=spec.strict), spec))
        lines = [record.jsonl() for record in records]
        for line in lines:
            digest.update(line)
        # Keys are joined to results only through what the API echoes per request: a file's result
        # lines always carry `key`; inline responses may lose `metadata` (and their order), so keyed
        # work goes as a file unless the user asks for inline.
        if spec.input_mode == "inline" or (spec.input_mode == "auto" and not user_keyed):
            if fits_inline(lines):
                write_manifest(manifest_at, (r.key for r in records), digest.hexdigest())
                _log_manifest(log, manifest_at, len(records))
                log.info("Sending %d requests inline (input_mode=%r).", len(records), spec.input_mode)
                yield _PreparedInput(digest.hexdigest(), inline=[r.inline() for r in records], count=len(records))
                return
            if spec.input_mode == "inline":
                raise GeminiBatchTooLargeError(f"{len(records)} requests are over the inline limit (about 20 MB); "
                                               "use input_mode='auto' or 'file'", location="input_mode")
            log.info("%d requests are over the inline limit: they go as a file.", len(records))
        else:
            log.info("%d keyed requests go as a JSONL file: each result line echoes its key (input_mode=%r).",
                     len(records), spec.input_mode)
    where = "requests" if spec.requests is not None else str(spec.input_file)
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as tmp:
        with recording_keys(manifest_at) as manifest:  # published when this block ends: before any upload
            if spec.requests is not None:
                tmp.writelines(lines)
                count = len(lines)
                for record in records:
                    manifest.add(record.key)
            else:
                with open_path(spec.input_file).open("rb") as fh:
                    keyed = _with_defaults(iter_jsonl(read_lines(fh), source=where, kind=spec.kind,
                                                      strict=spec.strict), spec)
                    count = _write_jsonl(_noting_keys(keyed, manifest), tmp, digest)
            tmp.flush()
            check_file_size(tmp.tell(), where)
            manifest.fingerprint = digest.hexdigest()
        _log_manifest(log, manifest_at, count)
        yield _PreparedInput(digest.hexdigest(), local_file=Path(tmp.name), count=count)


def upload_if_needed(prepared: _PreparedInput, display_name: str, hook: GeminiBatchHook, log: Any
                     ) -> tuple[dict, str | None]:
    """The create's source ({"requests": ...} or {"file_name": ...}) and the file we uploaded, if any."""
    if prepared.inline is not None:
        log.info("Sending %d requests inline.", len(prepared.inline))
        return {"requests": prepared.inline}, None
    if prepared.file_name is not None:
        return {"file_name": prepared.file_name}, None
    meta = hook.upload_file(prepared.local_file, display_name=f"{display_name}-input", mime_type="application/jsonl")
    log.info("Uploaded %d validated requests as %s (%s bytes).", prepared.count, meta["name"], meta.get("sizeBytes"))
    return {"file_name": meta["name"]}, meta["name"]
