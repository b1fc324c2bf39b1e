"""The File API: get, list, download (both URL forms), delete. Uploads are in routers/upload.py."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from ..deps import ConfigDep, StoreDep, file_or_404, page, require_key, require_version
from ..errors import invalid, not_found
from ..store import Store

router = APIRouter(dependencies=[Depends(require_key)])


@router.get("/{ver}/files")
async def list_files(ver: str, store: StoreDep, config: ConfigDep, pageSize: int | None = None,
                     pageToken: str | None = None):
    require_version(ver)
    store.sweep_files(time.time())
    return page(config, store.file_ids_newest_first(), "files", pageSize, pageToken, store.get_file)


def _download(store: Store, file_id: str, alt: str | None):
    if alt != "media":
        raise invalid("Download requires alt=media.")
    meta = file_or_404(store, file_id)
    return FileResponse(store.file_data_path(file_id), media_type=meta["mimeType"])


@router.get("/{ver}/files/{file_call}")
async def get_file(ver: str, file_call: str, store: StoreDep, alt: str | None = None):
    require_version(ver)
    file_id, _, method = file_call.partition(":")
    if method == "download":
        return _download(store, file_id, alt)
    if method:
        raise not_found(f"Method {method} not found for files.")
    return file_or_404(store, file_id)


@router.get("/download/{ver}/files/{file_call}")
async def download_file(ver: str, file_call: str, store: StoreDep, alt: str | None = None):
    require_version(ver)
    file_id, _, method = file_call.partition(":")
    if method != "download":
        raise not_found("Use files/{id}:download?alt=media.")
    return _download(store, file_id, alt)


@router.delete("/{ver}/files/{file_id}")
async def delete_file(ver: str, file_id: str, store: StoreDep):
    require_version(ver)
    file_or_404(store, file_id)
    store.delete_file(file_id)
    return {}
