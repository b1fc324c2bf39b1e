"""The Gemini Batch + Files REST API, as the real service answers it (both v1beta and v1)."""

from __future__ import annotations

import ast
import json
import tempfile
import time
from pathlib import Path

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .config import EmulatorConfig
from . import media
from .faults import FaultInjector
from .quota import QuotaExceeded
from .resources import operation
from .store import EMBED, GENERATE, NotFound, Precondition, Store, Timings
from .wire_schema import WireError, camel, check_embed_request, check_generate_request, get_any

API_VERSIONS = {"v1", "v1beta"}
GENERATE_MODELS = {
    "gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite", "gemini-2.0-flash",
    "gemini-2.0-flash-lite", "gemini-3-pro-preview", "gemini-3-flash-preview",
    "gemini-flash-latest", "gemini-flash-lite-latest", "gemini-pro-latest",
} | media.IMAGE_MODELS
EMBED_MODELS = {"gemini-embedding-001", "text-embedding-004"}
INLINE_LIMIT_BYTES = 20 * 1024 * 1024
FILE_LIMIT_BYTES = 2 * 1024 * 1024 * 1024
BATCH_FIELDS = {"displayName", "inputConfig", "model", "name", "priority", "webhookConfig"}
# Output-only fields of the batch resource: a client that echoes a job back sends them; Google ignores them.
BATCH_OUTPUT_ONLY = {"state", "createTime", "updateTime", "endTime", "output", "batchStats"}
_ROUTE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 405: "NOT_FOUND", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED"}


class ApiError(Exception):
    def __init__(self, code: int, status: str, message: str, details: list | None = None):
        super().__init__(message)
        self.code, self.status, self.message, self.details = code, status, message, details


def _invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_ARGUMENT", message)


def _parse_json(raw: bytes):
    """The real API's JSON parser also takes the single-quoted bodies the guide's curl examples send."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        pass
    try:
        value = ast.literal_eval(raw.decode("utf-8"))
        if isinstance(value, dict):
            return value
    except (ValueError, SyntaxError, UnicodeDecodeError):
        pass
    raise _invalid("Invalid JSON payload received. Unexpected token.")


def create_app(config: EmulatorConfig | None = None) -> FastAPI:
    config = config or EmulatorConfig.from_env()
    state_dir = Path(config.state_dir or tempfile.mkdtemp(prefix="gemini-emulator-"))
    store = Store(state_dir, object_error_details=config.object_error_details, config=config)

    app = FastAPI(title="Gemini Batch API emulator", docs_url="/_emulator/docs", openapi_url="/_emulator/openapi.json")
    app.state.config = config
    app.state.store = store
    app.state.state_dir = state_dir

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError):
        body = {"error": {"code": exc.code, "message": exc.message, "status": exc.status}}
        if exc.details:
            body["error"]["details"] = exc.details
        return JSONResponse(body, status_code=exc.code)

    @app.exception_handler(QuotaExceeded)
    async def _quota(_request: Request, exc: QuotaExceeded):
        # Realistic profile: the real 429 says neither which limit nor when to retry (no Retry-After).
        return JSONResponse({"error": {"code": 429, "message": str(exc), "status": "RESOURCE_EXHAUSTED"}},
                            status_code=429)

    # Unknown routes and methods answer in Google's envelope too, never FastAPI's {"detail": ...}.
    @app.exception_handler(StarletteHTTPException)
    async def _route_error(request: Request, exc: StarletteHTTPException):
        code = 404 if exc.status_code == 405 else exc.status_code
        message = f"Method not found: {request.method} {request.url.path}" if code == 404 else str(exc.detail)
        return JSONResponse({"error": {"code": code, "message": message,
                                       "status": _ROUTE_STATUS.get(code, "UNKNOWN")}}, status_code=code)

    @app.exception_handler(RequestValidationError)
    async def _query_error(_request: Request, exc: RequestValidationError):
        where = ".".join(str(p) for p in (exc.errors() or [{}])[0].get("loc", ()) if p != "query")
        return JSONResponse({"error": {"code": 400, "message": f"Invalid value at '{where}'.",
                                       "status": "INVALID_ARGUMENT"}}, status_code=400)

    def require_key(request: Request) -> None:
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            raise ApiError(403, "PERMISSION_DENIED",
                           "Method doesn't allow unregistered callers (callers without established identity). "
                           "Please use API Key or other form of API consumer identity to call this API.")
        if config.api_key and key != config.api_key:
            raise ApiError(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                           details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                     "reason": "API_KEY_INVALID", "domain": "googleapis.com"}])

    def require_version(ver: str) -> None:
        if ver not in API_VERSIONS:
            raise ApiError(404, "NOT_FOUND", f"API version {ver} not found.")

    api = APIRouter(dependencies=[Depends(require_key)])

    # ------------------------------------------------------------------ models
    @api.get("/{ver}/models/{model}")
    async def get_model(ver: str, model: str):
        require_version(ver)
        if model in EMBED_MODELS:
            methods = ["embedContent", "batchEmbedContents", "asyncBatchEmbedContent"]
        elif model in GENERATE_MODELS:
            methods = ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"]
        else:
            raise ApiError(404, "NOT_FOUND", f"models/{model} is not found for API version {ver}.")
        return {"name": f"models/{model}", "baseModelId": model, "displayName": model,
                "supportedGenerationMethods": methods}

    # ------------------------------------------------------------------ batches
    @api.post("/{ver}/models/{model_call}")
    async def create_batch(ver: str, model_call: str, request: Request):
        require_version(ver)
        model, _, method = model_call.partition(":")
        if method not in ("batchGenerateContent", "asyncBatchEmbedContent"):
            raise ApiError(404, "NOT_FOUND", f"Method {method or '(none)'} not found for models/{model}.")
        kind = EMBED if method == "asyncBatchEmbedContent" else GENERATE
        known = EMBED_MODELS if kind == EMBED else GENERATE_MODELS
        if model not in known:
            raise ApiError(404, "NOT_FOUND",
                           f"models/{model} is not found for API version {ver}, or is not supported for {method}. "
                           "Call ListModels to see the list of available models and their supported methods.")
        raw = await request.body()
        if len(raw) > INLINE_LIMIT_BYTES:
            raise _invalid(f"Request payload size exceeds the limit: {INLINE_LIMIT_BYTES} bytes.")
        body = _parse_json(raw)
        batch = get_any(body, "batch")
        if not isinstance(batch, dict):
            raise _invalid("* BatchGenerateContentRequest.batch: batch is required.")
        for key in batch:
            if camel(key) not in BATCH_FIELDS and camel(key) not in BATCH_OUTPUT_ONLY:
                raise _invalid(f'Invalid JSON payload received. Unknown name "{key}" at \'batch\': Cannot find field.')
        input_config = get_any(batch, "inputConfig") or {}
        file_name = get_any(input_config, "fileName")
        inline = get_any(input_config, "requests")
        if file_name:
            if not str(file_name).startswith("files/"):
                raise _invalid(f"Invalid file name {file_name!r}: expected 'files/<id>'.")
            source = {"file_id": str(file_name).removeprefix("files/")}
        elif isinstance(inline, dict) and isinstance(get_any(inline, "requests"), list):
            items = get_any(inline, "requests")
            if not items:
                raise _invalid("* batch.input_config.requests: at least one request is required.")
            check = check_embed_request if kind == EMBED else check_generate_request
            for i, item in enumerate(items):
                where = f"batch.input_config.requests.requests[{i}]"
                if not isinstance(item, dict) or "request" not in item:
                    raise _invalid(f"* {where}.request: request is required.")
                try:
                    check(item["request"], f"{where}.request")
                except WireError as exc:
                    raise _invalid(str(exc)) from None
                metadata = item.get("metadata")
                if metadata is not None and (
                    not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values())
                ):
                    raise _invalid(f"Invalid value at '{where}.metadata': metadata values must be strings.")
            source = {"requests": items}
        else:
            raise _invalid("* batch.input_config: either requests or file_name must be set.")
        display_name = get_any(batch, "displayName") or ""
        timings = Timings(config.pending_seconds, config.running_seconds)
        base_url = str(request.base_url).rstrip("/")
        try:
            job = await anyio.to_thread.run_sync(
                lambda: store.create_job(kind, f"models/{model}", display_name, source, timings, base_url))
        except NotFound as exc:
            raise ApiError(404, "NOT_FOUND", str(exc)) from None
        return operation(store, job, time.time())

    def _job_or_404(job_id: str) -> dict:
        try:
            return store.get_job(job_id)
        except NotFound as exc:
            raise ApiError(404, "NOT_FOUND", str(exc)) from None

    def _page(items: list, items_key: str, page_size: int | None, page_token: str | None, render) -> dict:
        size = min(page_size or config.page_size_default, config.page_size_max)
        start = int(page_token) if page_token else 0
        body: dict = {items_key: [render(i) for i in items[start:start + size]]}
        if start + size < len(items):
            body["nextPageToken"] = str(start + size)
        return body

    @api.get("/{ver}/batches")
    async def list_batches(ver: str, pageSize: int | None = None, pageToken: str | None = None):
        require_version(ver)
        if config.realistic and not pageSize:
            store.unpaged_list_calls += 1
            return {}  # python-genai #1250: without a page size the real service lists nothing
        now = time.time()
        return _page(list(store.iter_jobs_newest_first()), "operations", pageSize, pageToken,
                     lambda job: operation(store, job, now))

    @api.get("/{ver}/batches/{job_id}")
    async def get_batch(ver: str, job_id: str):
        require_version(ver)
        return operation(store, _job_or_404(job_id), time.time())

    @api.post("/{ver}/batches/{job_call}")
    async def cancel_batch(ver: str, job_call: str):
        require_version(ver)
        job_id, _, method = job_call.partition(":")
        if method != "cancel":
            raise ApiError(404, "NOT_FOUND", f"Method {method or '(none)'} not found for batches.")
        _job_or_404(job_id)
        try:
            store.cancel_job(job_id, time.time())
        except Precondition as exc:
            raise ApiError(400, "FAILED_PRECONDITION", str(exc)) from None
        return {}

    @api.delete("/{ver}/batches/{job_id}")
    async def delete_batch(ver: str, job_id: str):
        require_version(ver)
        _job_or_404(job_id)
        store.delete_job(job_id)
        return {}

    # ------------------------------------------------------------------ files
    def _file_or_404(file_id: str) -> dict:
        try:
            return store.get_file(file_id)
        except NotFound as exc:
            raise ApiError(404, "NOT_FOUND", str(exc)) from None

    @api.get("/{ver}/files")
    async def list_files(ver: str, pageSize: int | None = None, pageToken: str | None = None):
        require_version(ver)
        store.sweep_files(time.time())
        ids = sorted(store.files, key=lambda i: store.files[i]["createTime"], reverse=True)
        return _page(ids, "files", pageSize, pageToken, store.get_file)

    def _download(file_id: str, alt: str | None):
        if alt != "media":
            raise _invalid("Download requires alt=media.")
        meta = _file_or_404(file_id)
        return FileResponse(store.file_data_path(file_id), media_type=meta["mimeType"])

    @api.get("/{ver}/files/{file_call}")
    async def get_file(ver: str, file_call: str, alt: str | None = None):
        require_version(ver)
        file_id, _, method = file_call.partition(":")
        if method == "download":
            return _download(file_id, alt)
        if method:
            raise ApiError(404, "NOT_FOUND", f"Method {method} not found for files.")
        return _file_or_404(file_id)

    @api.get("/download/{ver}/files/{file_call}")
    async def download_file(ver: str, file_call: str, alt: str | None = None):
        require_version(ver)
        file_id, _, method = file_call.partition(":")
        if method != "download":
            raise ApiError(404, "NOT_FOUND", "Use files/{id}:download?alt=media.")
        return _download(file_id, alt)

    @api.delete("/{ver}/files/{file_id}")
    async def delete_file(ver: str, file_id: str):
        require_version(ver)
        _file_or_404(file_id)
        store.delete_file(file_id)
        return {}

    app.include_router(api)

    # ------------------------------------------------------------------ resumable upload
    @app.post("/upload/{ver}/files")
    async def upload(ver: str, request: Request, upload_id: str | None = None):
        require_version(ver)
        if upload_id is None:
            require_key(request)
            return await _upload_start(ver, request)
        # Chunks carry no API key: the upload id in the URL authorises them.
        return await _upload_chunk(upload_id, request)

    async def _upload_start(ver: str, request: Request):
        h = request.headers
        if h.get("x-goog-upload-protocol", "").lower() != "resumable" or h.get("x-goog-upload-command", "").lower() != "start":
            raise _invalid("Only resumable uploads are supported: send X-Goog-Upload-Protocol: resumable and X-Goog-Upload-Command: start.")
        body = _parse_json(await request.body())
        file = get_any(body, "file") or {}
        size_header = h.get("x-goog-upload-header-content-length")
        size = int(size_header) if size_header else get_any(file, "sizeBytes")
        size = int(size) if size is not None else None
        if size is not None and size > FILE_LIMIT_BYTES:
            raise _invalid(f"File size {size} bytes exceeds the limit of {FILE_LIMIT_BYTES} bytes (2 GB).")
        mime = h.get("x-goog-upload-header-content-type") or get_any(file, "mimeType")
        upload_id = store.start_upload(get_any(file, "displayName"), mime, size)
        url = f"{str(request.base_url).rstrip('/')}/upload/{ver}/files?upload_id={upload_id}&upload_protocol=resumable"
        return Response(status_code=200, headers={
            "X-Goog-Upload-URL": url, "X-Goog-Upload-Status": "active",
            "X-Goog-Upload-Chunk-Granularity": str(8 * 1024 * 1024),
        })

    async def _upload_chunk(upload_id: str, request: Request):
        finished = store.finished_uploads.get(upload_id)
        if finished is not None and finished in store.files:
            # The upload completed; its final reply may have been lost. Say so again, with the file.
            return JSONResponse({"file": store.get_file(finished)}, headers={"X-Goog-Upload-Status": "final"})
        try:
            part = store.upload_path(upload_id)
        except NotFound as exc:
            raise ApiError(404, "NOT_FOUND", str(exc)) from None
        session = store.uploads[upload_id]
        command = {c.strip() for c in request.headers.get("x-goog-upload-command", "").lower().split(",")}
        if command == {"query"}:
            return Response(headers={"X-Goog-Upload-Status": "active",
                                     "X-Goog-Upload-Size-Received": str(session["received"])})
        offset = int(request.headers.get("x-goog-upload-offset", session["received"]))
        if offset != session["received"]:
            raise _invalid(f"Invalid upload offset {offset}; {session['received']} bytes received so far.")
        # The chunk says Content-Type: application/json but is raw bytes: never parse it.
        async with await anyio.open_file(part, "ab") as fh:
            async for piece in request.stream():
                if piece:
                    await fh.write(piece)
                    session["received"] += len(piece)
        if session["size"] is not None and session["received"] > session["size"]:
            raise _invalid("More bytes were uploaded than X-Goog-Upload-Header-Content-Length declared.")
        if "finalize" not in command:
            return Response(headers={"X-Goog-Upload-Status": "active"})
        try:
            meta = store.finish_upload(upload_id, str(request.base_url).rstrip("/"))
        except WireError as exc:
            raise _invalid(str(exc)) from None
        return JSONResponse({"file": {k: v for k, v in meta.items() if k != "id"}},
                            headers={"X-Goog-Upload-Status": "final"})

    # ------------------------------------------------------------------ admin
    admin = APIRouter(prefix="/_emulator")

    @admin.get("/health")
    async def health():
        return {"ok": True}

    @admin.get("/stats")
    async def stats():
        now = time.time()
        injector = app.state.faults
        return {
            "jobs_created": store.jobs_created,
            "jobs": [{"name": f"batches/{j['id']}", "displayName": j["display_name"], "model": j["model"],
                      "state": store.state(j, now), "requestCount": j["request_count"]}
                     for j in store.iter_jobs_newest_first()],
            "files": len(store.files),
            "calls": dict(injector.calls) if injector else {},
            "faults_served": dict(injector.faults_served) if injector else {},
            "config": config.public(),
            **store.admin_stats(now),
        }

    @admin.post("/reset")
    async def reset():
        store.reset()
        if app.state.faults:
            app.state.faults.calls.clear()
            app.state.faults.faults_served.clear()
            app.state.faults.scripted.clear()
        return {}

    @admin.post("/config")
    async def set_config(request: Request):
        changes = await request.json()
        for key, value in changes.items():
            if key in ("api_key", "host", "port", "state_dir") or not hasattr(config, key):
                raise _invalid(f"{key} cannot be changed at run time.")
            setattr(config, key, type(getattr(config, key))(value))
        store.object_error_details = config.object_error_details
        return config.public()

    @admin.post("/faults")
    async def script_faults(request: Request):
        body = await request.json()
        try:
            app.state.faults.script(body["route"], list(body["faults"]))
        except (KeyError, ValueError) as exc:
            raise _invalid(str(exc)) from None
        return {"scripted": {k: list(v) for k, v in app.state.faults.scripted.items()}}

    @admin.post("/jobs/{job_id}/state")
    async def force_job_state(job_id: str, request: Request):
        state = (await request.json())["state"].removeprefix("JOB_STATE_").removeprefix("BATCH_STATE_")
        if state not in ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "EXPIRED", "CANCELLED"):
            raise _invalid(f"Unknown state {state}.")
        _job_or_404(job_id)
        store.force_state(job_id, state)
        return operation(store, store.get_job(job_id), time.time())

    app.include_router(admin)
    app.include_router(media.admin_router(store))
    app.state.faults = None
    return app


def create_asgi(config: EmulatorConfig | None = None):
    """The API behind its fault injector, ready for uvicorn."""
    config = config or EmulatorConfig.from_env()
    app = create_app(config)
    injector = FaultInjector(app, config)
    app.state.faults = injector
    return injector, app
