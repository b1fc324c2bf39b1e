"""AsyncGeminiBatchHook: the few calls the trigger makes, with no blocking call anywhere.

Thousands of triggers wait in one triggerer event loop, so they share one aiohttp session (one
connection pool, one SSL context) per loop instead of building a client per trigger or per poll.
The key travels as a per-request header, so one session serves every connection id.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import aiohttp

from ..compat import CONNECTION_NOT_FOUND, BaseHook, aget_connection
from ..core.names import check_job_name
from ..core.settings import GeminiSettings, resolve_settings
from ..exceptions import GeminiBatchError
from .errors import check_job_reply, error_from_status, json_object, key_origin, origin, redirect_error, transport_error

# Bodies bigger than this (finished inline jobs) are parsed off the event loop.
_PARSE_IN_THREAD_BYTES = 1024 * 1024


class _SharedSession:
    """One aiohttp session per event loop, reference-counted by the hooks that use it."""

    _by_loop: dict[int, _SharedSession] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.users = 0
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100, ttl_dns_cache=300, enable_cleanup_closed=True),
            raise_for_status=False,
        )

    @classmethod
    def acquire(cls) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        shared = cls._by_loop.get(id(loop))
        if shared is None or shared.session.closed or shared.loop is not loop:
            shared = cls._by_loop[id(loop)] = cls(loop)
        shared.users += 1
        return shared.session

    @classmethod
    async def release(cls) -> None:
        loop = asyncio.get_running_loop()
        shared = cls._by_loop.get(id(loop))
        if shared is None:
            return
        shared.users -= 1
        if shared.users <= 0:
            cls._by_loop.pop(id(loop), None)
            await shared.session.close()


class AsyncGeminiBatchHook(BaseHook):
    conn_name_attr = "gemini_conn_id"
    default_conn_name = "gemini_default"
    conn_type = "gemini"
    hook_name = "Gemini Batch (async)"

    def __init__(self, gemini_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gemini_conn_id = gemini_conn_id
        self._settings: GeminiSettings | None = None
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"AsyncGeminiBatchHook(gemini_conn_id={self.gemini_conn_id!r})"

    async def settings(self) -> GeminiSettings:
        if self._settings is None:
            try:
                conn = await aget_connection(self, self.gemini_conn_id)
            except CONNECTION_NOT_FOUND:
                conn = None
            self._settings = resolve_settings(conn, self.gemini_conn_id, os.environ)
        return self._settings

    def _secret(self) -> str | None:
        return self._settings.api_key if self._settings else None

    async def _request(self, method: str, path: str, what: str, body: dict | None = None) -> dict:
        s = await self.settings()
        if self._session is None:
            self._session = _SharedSession.acquire()
        url = s.url(path)
        try:
            for _hop in range(6):
                # aiohttp would follow a redirect with our headers, key included: never let it.
                async with self._session.request(
                    method, url, json=body, headers={"x-goog-api-key": s.api_key}, allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=s.timeout_seconds),
                ) as reply:
                    raw = await reply.read()
                    status, headers = reply.status, reply.headers
                if status in (301, 302, 303, 307, 308):
                    from urllib.parse import urljoin

                    location = headers.get("Location")
                    target = urljoin(url, location or "")
                    if not location or origin(target) != origin(url):
                        raise redirect_error(status, location, what, url, s.api_key)
                    url = target
                    continue
                if status != 200:
                    raise error_from_status(status, raw, what, s.api_key, key_origin(s), headers)
                break
            else:
                raise redirect_error(status, headers.get("Location"), what + " (too many redirects)", url, s.api_key)
        except GeminiBatchError:
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise transport_error(exc, what, s.api_key, s.base_url) from None
        if len(raw) > _PARSE_IN_THREAD_BYTES:
            return await asyncio.to_thread(json_object, raw, what, url, s.api_key)
        return json_object(raw, what, url, s.api_key)

    async def get_job_raw(self, name: str) -> dict:
        """One GET of the raw batch resource (the SDK's BatchJob drops batchStats and the job error)."""
        what = f"Getting {name}"
        raw = await self._request("GET", check_job_name(name), what)
        return check_job_reply(raw, name, what, (await self.settings()).url(name))

    async def cancel_job(self, name: str) -> None:
        await self._request("POST", f"{check_job_name(name)}:cancel", f"Cancelling {name}", body={})

    async def close(self) -> None:
        if self._session is not None:
            self._session = None
            await _SharedSession.release()
