"""What the routers share: the store and config from ``app.state`` (via ``Depends``), the API-key and
version checks, the lenient JSON parser and the page slicer. No module-level state: one process can
hold several apps (tests do), each with its own store."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from .config import EmulatorConfig
from .errors import ApiError, invalid, not_found
from .faults import FaultInjector
from .records import JobRecord
from .store import NotFound, Store

API_VERSIONS = {"v1", "v1beta"}


# The dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in its thread
# pool, one thread hop per dependency per request, which 200 triggers polling at once turn into a queue.
async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_config(request: Request) -> EmulatorConfig:
    # The live object: POST /_emulator/config changes it, and every route reads it per request.
    return request.app.state.config


async def get_faults(request: Request) -> FaultInjector | None:
    return request.app.state.faults


StoreDep = Annotated[Store, Depends(get_store)]
ConfigDep = Annotated[EmulatorConfig, Depends(get_config)]
FaultsDep = Annotated[FaultInjector | None, Depends(get_faults)]


async def require_key(request: Request) -> None:
    """Router dependency: see check_key."""
    check_key(request)


def check_key(request: Request) -> None:
    """An API key must come (header or ?key=); if the emulator was given one, it must match."""
    key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
    if not key:
        raise ApiError(403, "PERMISSION_DENIED",
                       "Method doesn't allow unregistered callers (callers without established identity). "
                       "Please use API Key or other form of API consumer identity to call this API.")
    expected = request.app.state.config.api_key
    if expected and key != expected:
        raise ApiError(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                       details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                 "reason": "API_KEY_INVALID", "domain": "googleapis.com"}])


def require_version(ver: str) -> None:
    # Called first thing in each handler, not as a dependency: the service checks query parameters
    # (400 "Invalid value at 'pageSize'") before it looks at the version, and so do we.
    if ver not in API_VERSIONS:
        raise not_found(f"API version {ver} not found.")


def parse_json(raw: bytes):
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
    raise invalid("Invalid JSON payload received. Unexpected token.")


def page(config: EmulatorConfig, items: list, items_key: str, page_size: int | None, page_token: str | None,
         render: Callable) -> dict:
    """One page of a list, as {items_key: [...], "nextPageToken": "<offset>"} (the token is an offset)."""
    size = min(page_size or config.page_size_default, config.page_size_max)
    start = int(page_token) if page_token else 0
    body: dict = {items_key: [render(i) for i in items[start:start + size]]}
    if start + size < len(items):
        body["nextPageToken"] = str(start + size)
    return body


def job_or_404(store: Store, job_id: str) -> JobRecord:
    try:
        return store.get_job(job_id)
    except NotFound as exc:
        raise not_found(str(exc)) from None


def file_or_404(store: Store, file_id: str) -> dict:
    try:
        return store.get_file(file_id)
    except NotFound as exc:
        raise not_found(str(exc)) from None
