"""A small scriptable HTTP proxy that sits between a client (our hook, the trigger, the SDK) and the
emulator and lies the way networks and real services do: it truncates, garbles, reorders, redirects,
refuses and throttles. The emulator's own fault middleware only fails in ways the emulator was written
to fail; this one rewrites what the emulator really answered, so the code under test meets faults it
was not designed around.

Use::

    with FaultProxy(emu.base_url) as proxy:          # proxy.base_url goes into the connection
        proxy.script("GET", r"/files/.*:download", Truncate(at=0.5), times=3)
        ...
        proxy.seen            # every (method, path, status) that went through
        proxy.sink.requests   # what reached the foreign origin used by Redirect(to_sink=True)

Rules are matched in order; each fires `times` times (None: forever) and is then dropped.
Everything runs on one background thread with its own event loop; the proxy stops itself when
the context exits (and every request loop here is bounded by the test that drives it).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}


@dataclass
class Reply:
    """What the upstream answered; an action may rewrite it."""

    status: int
    headers: dict[str, str]
    body: bytes


class Action:
    """Rewrite an upstream reply (or replace it: `forward` False means the request never reaches upstream)."""

    forward = True

    async def respond(self, request: web.Request, reply: Reply | None, proxy: FaultProxy) -> web.StreamResponse:
        raise NotImplementedError


@dataclass
class Truncate(Action):
    """Send only the first part of the body, then close cleanly, with no Content-Length: the client sees
    a complete-looking reply that is short. `at` is a fraction (<1) or a byte count."""

    at: float = 0.5

    async def respond(self, request, reply, proxy):
        cut = int(len(reply.body) * self.at) if self.at < 1 else int(self.at)
        response = web.StreamResponse(status=reply.status, headers=_plain(reply.headers))
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(reply.body[:cut])
        await response.write_eof()
        return response


@dataclass
class Replace(Action):
    """Answer with another body (an HTML proxy page, a JSON list, truncated JSON, ...)."""

    body: bytes = b"<html><body>502 Bad Gateway (proxy)</body></html>"
    status: int = 200
    content_type: str = "text/html"
    forward: bool = True  # by default the request still takes effect upstream (a garbled reply to a create)

    async def respond(self, request, reply, proxy):
        return web.Response(status=self.status, body=self.body, content_type=self.content_type)


HTML_PAGE = Replace()
JSON_LIST = Replace(body=b"[1, 2, 3]", content_type="application/json")
TRUNCATED_JSON = Replace(body=b'{"name": "batches/x", "metadata": {"state": "BATCH_ST', content_type="application/json")


@dataclass
class Status(Action):
    """Answer with an error status without forwarding (e.g. 429 with Retry-After or RetryInfo)."""

    status: int = 429
    retry_after: str | None = None
    retry_delay: str | None = None  # google.rpc.RetryInfo retryDelay, e.g. "5s"
    forward: bool = False

    async def respond(self, request, reply, proxy):
        names = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 403: "PERMISSION_DENIED"}
        error: dict[str, Any] = {"code": self.status, "message": f"[fault proxy] {self.status}",
                                 "status": names.get(self.status, "UNKNOWN")}
        if self.retry_delay:
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": self.retry_delay}]
        headers = {"Retry-After": self.retry_after} if self.retry_after else {}
        return web.json_response({"error": error}, status=self.status, headers=headers)


@dataclass
class Refuse(Action):
    """Close the connection without any reply (after forwarding, if `forward`)."""

    forward: bool = False

    async def respond(self, request, reply, proxy):
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise ConnectionResetError("fault proxy refused")


@dataclass
class Redirect(Action):
    """Answer 302 to another origin: the sink (a server that records what reaches it) by default."""

    status: int = 302
    location: str | None = None
    forward: bool = False

    async def respond(self, request, reply, proxy):
        target = self.location or (proxy.sink.base_url + request.path_qs)
        return web.Response(status=self.status, headers={"Location": target})


@dataclass
class EditJson(Action):
    """Rewrite the JSON body with a function (drop a field, change a state, ...)."""

    edit: Any = None

    async def respond(self, request, reply, proxy):
        data = json.loads(reply.body)
        data = self.edit(data)
        return web.Response(status=reply.status, body=json.dumps(data).encode(), content_type="application/json")


@dataclass
class EditLines(Action):
    """Rewrite a JSONL body line by line: `edit(list_of_lines) -> list_of_lines` (reorder, drop, garble).
    Sent with a correct Content-Length, so only the content lies."""

    edit: Any = None

    async def respond(self, request, reply, proxy):
        lines = reply.body.splitlines(keepends=True)
        body = b"".join(self.edit(lines))
        return web.Response(status=reply.status, body=body, headers=_plain(reply.headers))


def shuffled(seed: int = 0):
    def edit(lines):
        lines = list(lines)
        random.Random(seed).shuffle(lines)
        return lines
    return edit


@dataclass
class _Rule:
    method: str
    path: re.Pattern
    action: Action
    times: int | None
    fired: int = 0


class Sink:
    """A foreign origin that records every request (headers included) that reaches it."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.base_url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append({"method": request.method, "path": request.path_qs,
                              "headers": {k.lower(): v for k, v in request.headers.items()}})
        return web.json_response({"sink": True})


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.rules: list[_Rule] = []
        self.seen: list[tuple[str, str, int | str]] = []
        self.sink = Sink()
        self.base_url = ""
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    # ------------------------------------------------------------------ scripting
    def script(self, method: str, path_regex: str, action: Action, times: int | None = 1) -> FaultProxy:
        with self._lock:
            self.rules.append(_Rule(method.upper(), re.compile(path_regex), action, times))
        return self

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def fired(self) -> int:
        with self._lock:
            return sum(r.fired for r in self.rules)

    def _match(self, method: str, path: str) -> Action | None:
        with self._lock:
            for rule in self.rules:
                if rule.method in (method, "*") and rule.path.search(path):
                    rule.fired += 1
                    if rule.times is not None and rule.fired >= rule.times:
                        self.rules.remove(rule)
                    return rule.action
        return None

    # ------------------------------------------------------------------ serving
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        action = self._match(request.method, request.path_qs)
        reply = None
        if action is None or action.forward:
            reply = await self._forward(request)
        if action is None:
            self.seen.append((request.method, request.path_qs, reply.status))
            return web.Response(status=reply.status, body=reply.body, headers=_plain(reply.headers))
        self.seen.append((request.method, request.path_qs, type(action).__name__))
        return await action.respond(request, reply, self)

    async def _forward(self, request: web.Request) -> Reply:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self._session.request(request.method, self.upstream + request.path_qs, data=body,
                                         headers=headers, allow_redirects=False) as upstream:
            data = await upstream.read()
            return Reply(upstream.status, {k: v for k, v in upstream.headers.items()}, data)

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._session = ClientSession(timeout=ClientTimeout(total=120), auto_decompress=False)
        runners = []
        for handler, target in ((self._handle, "proxy"), (self.sink.handle, "sink")):
            app = web.Application(client_max_size=1024 ** 3)
            app.router.add_route("*", "/{tail:.*}", handler)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]
            url = f"http://127.0.0.1:{port}"
            if target == "proxy":
                self.base_url = url
            else:
                self.sink.base_url = url
            runners.append(runner)
        self._ready.set()
        await self._stop.wait()
        await self._session.close()
        for runner in runners:
            await runner.cleanup()

    def __enter__(self) -> FaultProxy:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fault proxy did not start")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread:
            self._thread.join(10)


def _plain(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _HOP}


@dataclass
class ShortBody(Action):
    """Declare the full Content-Length, send only the first part of the body, then close the connection:
    the transfer is cut and the client can tell from the length alone. `at` as for Truncate."""

    at: float = 0.5

    async def respond(self, request, reply, proxy):
        cut = int(len(reply.body) * self.at) if self.at < 1 else int(self.at)
        headers = {**_plain(reply.headers), "Content-Length": str(len(reply.body))}
        response = web.StreamResponse(status=reply.status, headers=headers)
        await response.prepare(request)
        await response.write(reply.body[:cut])
        if request.transport is not None:
            request.transport.close()
        return response
