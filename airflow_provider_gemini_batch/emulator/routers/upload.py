"""Resumable upload (POST /upload/{ver}/files): start a session, send chunks, query, finalize."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..deps import StoreDep, check_key, parse_json, require_version
from ..errors import invalid, not_found
from ..store import NotFound, Store
from ..wire_schema import WireError, get_any

FILE_LIMIT_BYTES = 2 * 1024 * 1024 * 1024

# No router-wide key check: the start needs a key, the chunks do not (the upload id authorises them).
router = APIRouter()


@router.post("/upload/{ver}/files")
async def upload(ver: str, request: Request, store: StoreDep, upload_id: str | None = None):
    require_version(ver)
    if upload_id is None:
        check_key(request)
        return await _upload_start(store, ver, request)
    # Chunks carry no API key: the upload id in the URL authorises them.
    return await _upload_chunk(store, upload_id, request)


async def _upload_start(store: Store, ver: str, request: Request):
    h = request.headers
    if h.get("x-goog-upload-protocol", "").lower() != "resumable" \
            or h.get("x-goog-upload-command", "").lower() != "start":
        raise invalid("Only resumable uploads are supported: send X-Goog-Upload-Protocol: resumable and "
                      "X-Goog-Upload-Command: start.")
    body = parse_json(await request.body())
    file = get_any(body, "file") or {}
    size_header = h.get("x-goog-upload-header-content-length")
    size = int(size_header) if size_header else get_any(file, "sizeBytes")
    size = int(size) if size is not None else None
    if size is not None and size > FILE_LIMIT_BYTES:
        raise invalid(f"File size {size} bytes exceeds the limit of {FILE_LIMIT_BYTES} bytes (2 GB).")
    mime = h.get("x-goog-upload-header-content-type") or get_any(file, "mimeType")
    upload_id = store.start_upload(get_any(file, "displayName"), mime, size)
    url = f"{str(request.base_url).rstrip('/')}/upload/{ver}/files?upload_id={upload_id}&upload_protocol=resumable"
    return Response(status_code=200, headers={
        "X-Goog-Upload-URL": url, "X-Goog-Upload-Status": "active",
        "X-Goog-Upload-Chunk-Granularity": str(8 * 1024 * 1024),
    })


async def _upload_chunk(store: Store, upload_id: str, request: Request):
    finished = store.finished_uploads.get(upload_id)
    if finished is not None and finished in store.files:
        # The upload completed; its final reply may have been lost. Say so again, with the file.
        return JSONResponse({"file": store.get_file(finished)}, headers={"X-Goog-Upload-Status": "final"})
    try:
        part = store.upload_path(upload_id)
    except NotFound as exc:
        raise not_found(str(exc)) from None
    session = store.uploads[upload_id]
    command = {c.strip() for c in request.headers.get("x-goog-upload-command", "").lower().split(",")}
    if command == {"query"}:
        return Response(headers={"X-Goog-Upload-Status": "active",
                                 "X-Goog-Upload-Size-Received": str(session["received"])})
    offset = int(request.headers.get("x-goog-upload-offset", session["received"]))
    if offset != session["received"]:
        raise invalid(f"Invalid upload offset {offset}; {session['received']} bytes received so far.")
    # The chunk says Content-Type: application/json but is raw bytes: never parse it.
    received = session["received"]
    async with await anyio.open_file(part, "ab") as fh:
        async for piece in request.stream():
            if piece:
                await fh.write(piece)
                received = store.add_received(upload_id, len(piece))
    if session["size"] is not None and received > session["size"]:
        raise invalid("More bytes were uploaded than X-Goog-Upload-Header-Content-Length declared.")
    if "finalize" not in command:
        return Response(headers={"X-Goog-Upload-Status": "active"})
    try:
        meta = store.finish_upload(upload_id, str(request.base_url).rstrip("/"))
    except WireError as exc:
        raise invalid(str(exc)) from None
    return JSONResponse({"file": {k: v for k, v in meta.items() if k != "id"}},
                        headers={"X-Goog-Upload-Status": "final"})
