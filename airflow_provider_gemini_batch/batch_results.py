"""Parse batch results into one flat record per request. Pure: no Airflow, no HTTP.

A record: {"key", "status": "ok"|"error", "text"?, "response"?|"embedding"?, "error"?, "usage"?}.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

USAGE_FIELDS = ("promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount", "cachedContentTokenCount",
                "totalTokenCount")


def _text(response: dict) -> str | None:
    candidates = response.get("candidates") or []
    if not candidates:
        return None
    parts = ((candidates[0] or {}).get("content") or {}).get("parts") or []
    texts = [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")]
    return "".join(texts) if texts else None


def to_record(key: str | None, item: dict) -> dict:
    """One result item ({"response"} or {"error"}, from a file line or an inline list) as a record."""
    record: dict[str, Any] = {"key": key}
    if item.get("error") is not None or item.get("response") is None:
        err = item.get("error") or {"message": "the result has neither a response nor an error"}
        record["status"] = "error"
        record["error"] = {"code": err.get("code"), "message": err.get("message"), "status": err.get("status")}
        return record
    response = item["response"]
    record["status"] = "ok"
    usage = response.get("usageMetadata")  # embedding results may carry it too: they are priced from it
    if "embedding" in response:
        record["embedding"] = (response["embedding"] or {}).get("values")
    else:
        text = _text(response)
        if text is not None:
            record["text"] = text
        record["response"] = response
    if usage:
        record["usage"] = {k: usage[k] for k in USAGE_FIELDS if k in usage}
    return record


def iter_file_records(lines: Iterable[bytes]) -> Iterator[dict]:
    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except ValueError:
            yield {"key": None, "status": "error",
                   "error": {"code": None, "message": f"result line {lineno} is not valid JSON", "status": None}}
            continue
        yield to_record(item.get("key"), item)


def iter_inline_records(items: Iterable[dict]) -> Iterator[dict]:
    for index, item in enumerate(items):
        key = (item.get("metadata") or {}).get("key")
        yield to_record(key if key is not None else f"#{index}", item)


def key_digest(key: str) -> int:
    """Keys are remembered as 64-bit digests (about 70 bytes each in a set, whatever the key's length);
    a false duplicate needs a collision, odds about 1 in 10^5 at ten million keys."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")


@dataclass
class ResultTally:
    """Counts while records stream past: ok/error, token totals, duplicate and unkeyed records."""

    written: int = 0
    ok: int = 0
    errors: int = 0
    invalid_output: int = 0
    duplicate_keys: int = 0
    unkeyed: int = 0
    tokens: dict = field(default_factory=lambda: {k: 0 for k in USAGE_FIELDS})
    _seen: set = field(default_factory=set, repr=False)

    def add(self, record: dict) -> None:
        self.written += 1
        if record["status"] == "ok":
            self.ok += 1
        elif record["status"] == "invalid_output":
            self.invalid_output += 1
        else:
            self.errors += 1
        key = record.get("key")
        if key is None:
            self.unkeyed += 1
        else:
            digest = key_digest(str(key))
            if digest in self._seen:
                self.duplicate_keys += 1
            else:
                self._seen.add(digest)
        for name, value in (record.get("usage") or {}).items():
            self.tokens[name] = self.tokens.get(name, 0) + int(value or 0)

    def has_key(self, key: str) -> bool:
        return key_digest(key) in self._seen

    def summary(self, expected: int | None = None) -> dict:
        out = {"records": self.written, "ok": self.ok, "errors": self.errors, "invalid_output": self.invalid_output,
               "duplicate_keys": self.duplicate_keys, "unkeyed": self.unkeyed,
               "tokens": {k: v for k, v in self.tokens.items() if v}}
        if expected is not None:
            out["missing"] = max(0, expected - (self.written - self.duplicate_keys))
        return out
