"""Fault injection and call accounting, as one ASGI middleware in front of the API.

Random faults follow the configured rates; scripted faults (POST /_emulator/faults) are consumed
first, in order, for the route they name, so a test can say "drop the reply to the next create".
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter, deque

ROUTES = [
    ("POST", re.compile(r"^/upload/v1(beta)?/files$"), "files.upload"),
    ("POST", re.compile(r"^/v1(beta)?/models/[^/]+:batchGenerateContent$"), "batches.create"),
    ("POST", re.compile(r"^/v1(beta)?/models/[^/]+:asyncBatchEmbedContent$"), "batches.createEmbeddings"),
    ("GET", re.compile(r"^/v1(beta)?/models/[^/:]+$"), "models.get"),
    ("GET", re.compile(r"^/v1(beta)?/batches$"), "batches.list"),
    ("GET", re.compile(r"^/v1(beta)?/batches/[^/:]+$"), "batches.get"),
    ("POST", re.compile(r"^/v1(beta)?/batches/[^/:]+:cancel$"), "batches.cancel"),
    ("DELETE", re.compile(r"^/v1(beta)?/batches/[^/:]+$"), "batches.delete"),
    ("GET", re.compile(r"^(/download)?/v1(beta)?/files/[^/:]+:download$"), "files.download"),
    ("GET", re.compile(r"^/v1(beta)?/files$"), "files.list"),
    ("GET", re.compile(r"^/v1(beta)?/files/[^/:]+$"), "files.get"),
    ("DELETE", re.compile(r"^/v1(beta)?/files/[^/:]+$"), "files.delete"),
]

FAULT_KINDS = {"429", "500", "503", "drop", "drop_after", "stall_after"}


def route_name(method: str, path: str, query: bytes) -> str:
    for m, pattern, name in ROUTES:
        if m == method and pattern.match(path):
            if name == "files.upload" and b"upload_id=" in query:
                return "files.upload.chunk"
            return name
    return "other"


_STATUS = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
_MESSAGE = {
    429: "Resource has been exhausted (e.g. check quota). [emulated]",
    500: "An internal error has occurred. [emulated]",
    503: "The service is currently unavailable. [emulated]",
}


class DroppedConnection(Exception):
    """Raised after a partial reply so the server closes the connection mid-response."""


class FaultInjector:
    def __init__(self, app, config):
        self.app = app
        self.config = config
        self.rng = random.Random(config.seed)
        self.scripted: dict[str, deque] = {}
        self.calls: Counter = Counter()
        self.faults_served: Counter = Counter()

    def script(self, route: str, faults: list[str]) -> None:
        unknown = [f for f in faults if f not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; use {sorted(FAULT_KINDS)}")
        self.scripted.setdefault(route, deque()).extend(faults)

    def _pick(self, route: str) -> str | None:
        queue = self.scripted.get(route)
        if queue:
            return queue.popleft()
        c = self.config
        roll = self.rng.random()
        for kind, rate in (("429", c.rate_429), ("500", c.rate_500), ("503", c.rate_503), ("drop_after", c.rate_drop)):
            if roll < rate:
                return kind
            roll -= rate
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/_emulator"):
            return await self.app(scope, receive, send)
        route = route_name(scope["method"], scope["path"], scope.get("query_string", b""))
        self.calls[route] += 1
        if self.config.latency_ms > 0:
            await asyncio.sleep(self.rng.uniform(0.5, 1.5) * self.config.latency_ms / 1000.0)
        fault = self._pick(route)
        if fault is None:
            return await self.app(scope, receive, send)
        self.faults_served[f"{route}:{fault}"] += 1
        if fault in ("429", "500", "503"):
            code = int(fault)
            body = json.dumps({"error": {"code": code, "message": _MESSAGE[code], "status": _STATUS[code]}}).encode()
            await send({"type": "http.response.start", "status": code,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        if fault == "stall_after":
            # The request takes effect now; the reply is held back for stall_seconds (a slow network,
            # or a window in which a test can kill the client between "created" and "told").
            held = []

            async def hold(message):
                held.append(message)
            await self.app(scope, receive, hold)
            await asyncio.sleep(self.config.stall_seconds)
            for message in held:
                await send(message)
            return
        if fault == "drop_after":
            # Let the request take effect, swallow the real reply.
            async def swallow(message):
                return None
            await self.app(scope, receive, swallow)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"name": ', "more_body": True})
        raise DroppedConnection(f"emulated dropped connection on {route}")
