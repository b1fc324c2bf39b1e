"""Batch jobs: create (models/{m}:batchGenerateContent | :asyncBatchEmbedContent), get, list, cancel, delete."""

from __future__ import annotations

import time

import anyio
from fastapi import APIRouter, Depends, Request

from ..deps import ConfigDep, StoreDep, job_or_404, page, parse_json, require_key, require_version
from ..errors import ApiError, invalid, not_found
from ..records import EMBED, GENERATE, JobSource, Timings
from ..store import NotFound, Precondition
from ..wire_schema import WireError, camel, check_embed_request, check_generate_request, get_any
from .models import EMBED_MODELS, GENERATE_MODELS

INLINE_LIMIT_BYTES = 20 * 1024 * 1024
BATCH_FIELDS = {"displayName", "inputConfig", "model", "name", "priority", "webhookConfig"}
# Output-only fields of the batch resource: a client that echoes a job back sends them; Google ignores them.
BATCH_OUTPUT_ONLY = {"state", "createTime", "updateTime", "endTime", "output", "batchStats"}

router = APIRouter(dependencies=[Depends(require_key)])


def _source(kind: str, input_config: dict) -> JobSource:
    """The checked input of a create: an uploaded file's id, or inline requests each checked as the API does."""
    file_name = get_any(input_config, "fileName")
    inline = get_any(input_config, "requests")
    if file_name:
        if not str(file_name).startswith("files/"):
            raise invalid(f"Invalid file name {file_name!r}: expected 'files/<id>'.")
        return JobSource(file_id=str(file_name).removeprefix("files/"))
    if isinstance(inline, dict) and isinstance(get_any(inline, "requests"), list):
        items = get_any(inline, "requests")
        if not items:
            raise invalid("* batch.input_config.requests: at least one request is required.")
        check = check_embed_request if kind == EMBED else check_generate_request
        for i, item in enumerate(items):
            where = f"batch.input_config.requests.requests[{i}]"
            if not isinstance(item, dict) or "request" not in item:
                raise invalid(f"* {where}.request: request is required.")
            try:
                check(item["request"], f"{where}.request")
            except WireError as exc:
                raise invalid(str(exc)) from None
            metadata = item.get("metadata")
            if metadata is not None and (
                not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values())
            ):
                raise invalid(f"Invalid value at '{where}.metadata': metadata values must be strings.")
        return JobSource(requests=items)
    raise invalid("* batch.input_config: either requests or file_name must be set.")


@router.post("/{ver}/models/{model_call}")
async def create_batch(ver: str, model_call: str, request: Request, store: StoreDep, config: ConfigDep):
    require_version(ver)
    model, _, method = model_call.partition(":")
    if method not in ("batchGenerateContent", "asyncBatchEmbedContent"):
        raise not_found(f"Method {method or '(none)'} not found for models/{model}.")
    kind = EMBED if method == "asyncBatchEmbedContent" else GENERATE
    known = EMBED_MODELS if kind == EMBED else GENERATE_MODELS
    if model not in known:
        raise not_found(f"models/{model} is not found for API version {ver}, or is not supported for {method}. "
                        "Call ListModels to see the list of available models and their supported methods.")
    raw = await request.body()
    if len(raw) > INLINE_LIMIT_BYTES:
        raise invalid(f"Request payload size exceeds the limit: {INLINE_LIMIT_BYTES} bytes.")
    body = parse_json(raw)
    batch = get_any(body, "batch")
    if not isinstance(batch, dict):
        raise invalid("* BatchGenerateContentRequest.batch: batch is required.")
    for key in batch:
        if camel(key) not in BATCH_FIELDS and camel(key) not in BATCH_OUTPUT_ONLY:
            raise invalid(f'Invalid JSON payload received. Unknown name "{key}" at \'batch\': Cannot find field.')
    source = _source(kind, get_any(batch, "inputConfig") or {})
    display_name = get_any(batch, "displayName") or ""
    timings = Timings(config.pending_seconds, config.running_seconds)
    base_url = str(request.base_url).rstrip("/")
    try:
        # A file input is scanned (count, markers, tokens): off the event loop.
        job = await anyio.to_thread.run_sync(
            lambda: store.create_job(kind, f"models/{model}", display_name, source, timings, base_url))
    except NotFound as exc:
        raise not_found(str(exc)) from None
    return store.resource(job, time.time())


@router.get("/{ver}/batches")
async def list_batches(ver: str, store: StoreDep, config: ConfigDep, pageSize: int | None = None,
                       pageToken: str | None = None):
    require_version(ver)
    if config.realistic and not pageSize:
        store.note_unpaged_list()
        return {}  # python-genai #1250: without a page size the real service lists nothing
    now = time.time()
    return page(config, list(store.iter_jobs_newest_first()), "operations", pageSize, pageToken,
                lambda job: store.resource(job, now))


@router.get("/{ver}/batches/{job_id}")
async def get_batch(ver: str, job_id: str, store: StoreDep):
    require_version(ver)
    return store.resource(job_or_404(store, job_id), time.time())


@router.post("/{ver}/batches/{job_call}")
async def cancel_batch(ver: str, job_call: str, store: StoreDep):
    require_version(ver)
    job_id, _, method = job_call.partition(":")
    if method != "cancel":
        raise not_found(f"Method {method or '(none)'} not found for batches.")
    job_or_404(store, job_id)
    try:
        store.cancel_job(job_id, time.time())
    except Precondition as exc:
        raise ApiError(400, "FAILED_PRECONDITION", str(exc)) from None
    return {}


@router.delete("/{ver}/batches/{job_id}")
async def delete_batch(ver: str, job_id: str, store: StoreDep):
    require_version(ver)
    job_or_404(store, job_id)
    store.delete_job(job_id)
    return {}
