"""Parse batch results into one flat record per request. Pure: no Airflow, no HTTP.

A record: {"key", "status": "ok"|"error", "text"?, "response"?|"embedding"?, "error"?, "usage"?}.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

USAGE_FIELDS = ("promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount", "cachedContentTokenCount",
                "totalTokenCount")


def _text(response: dict) -> str | None:
    candidates = response.get("candidates") or []
    if not candidates:
        return None
    parts = ((candidates[0] or {}).get("content") or {}).get("parts") or []
    texts = [p["text"] for p in parts
             if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")]
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


UNPARSEABLE = "UNPARSEABLE"
UNKEYED = "UNKEYED"
NAMED = 20  # keys (or line numbers) named per kind of problem in the summary
UNKEYED_INLINE = ("inline response #{index} came back without metadata.key, so it cannot be joined to its request: "
                  "the API does not promise inline responses in request order, and a position is never used as a "
                  "key. Use file input (input_mode='file', the default for keyed requests): every result line of a "
                  "file job carries its key")


def _unparseable(lineno: int, raw: bytes) -> dict:
    """A result line we cannot read. The key is recovered when the line is JSON once bad bytes are
    replaced (so the failure is named by its key); its content is not trusted either way."""
    try:
        raw.decode("utf-8")
        why = "is not valid JSON"
    except UnicodeDecodeError as exc:
        why = f"is not valid UTF-8 (byte {exc.start})"
    key = None
    try:
        item = json.loads(raw.decode("utf-8", "replace"))
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            key = item["key"]
            why += "; its key was recovered but its content is not trusted"
    except ValueError:
        pass
    return {"key": key, "status": "error", "line": lineno, "unparseable": True,
            "error": {"code": None, "message": f"result line {lineno} {why}", "status": UNPARSEABLE}}


def iter_file_records(lines: Iterable[bytes]) -> Iterator[dict]:
    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)  # bytes: invalid UTF-8 raises UnicodeDecodeError, a ValueError
        except ValueError:
            yield _unparseable(lineno, raw)
            continue
        if not isinstance(item, dict):
            record = _unparseable(lineno, raw)
            record["error"]["message"] = f"result line {lineno} is JSON but not an object"
            yield record
            continue
        key = item.get("key")
        yield to_record(key if isinstance(key, str) else None, item)


def iter_inline_records(items: Iterable[dict]) -> Iterator[dict]:
    """Inline results are joined to requests by metadata.key only, never by position: the API does not
    keep inline order (googleapis/python-genai #1909). A response without the key is kept, answer
    included, as an unkeyed error record, and its request counts as failed."""
    for index, item in enumerate(items):
        key = (item.get("metadata") or {}).get("key") if isinstance(item, dict) else None
        if isinstance(key, str):
            yield to_record(key, item)
            continue
        record = to_record(None, item if isinstance(item, dict) else {})
        record.update(status="error", position=index,
                      error={"code": None, "message": UNKEYED_INLINE.format(index=index), "status": UNKEYED})
        yield record


def key_digest(key: str) -> int:
    """Keys are remembered as 64-bit digests (about 70 bytes each in a set, whatever the key's length);
    a false duplicate needs a collision, odds about 1 in 10^5 at ten million keys."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")


class KeyDigests:
    """The submitted keys as a sorted array of 64-bit digests: 8 bytes a key, looked up by bisection."""

    def __init__(self, keys: Iterable[str]):
        self._digests = array("Q", sorted({key_digest(k) for k in keys}))

    def __len__(self) -> int:
        return len(self._digests)

    def __contains__(self, key: str) -> bool:
        return self.has(key_digest(key))

    def has(self, digest: int) -> bool:
        i = bisect_left(self._digests, digest)
        return i < len(self._digests) and self._digests[i] == digest


def _name(names: list, value: Any) -> None:
    if len(names) < NAMED:
        names.append(value)


@dataclass
class ResultTally:
    """Counts while records stream past, and per submitted key whether it got exactly one usable record.

    `expected` (the submitted keys, when known) lets a record whose key was never submitted be told
    apart as foreign. Memory: three sets of 64-bit digests (seen, seen twice, not ok), the last two
    small unless the job went badly."""

    expected: KeyDigests | None = None
    written: int = 0
    ok: int = 0
    errors: int = 0
    invalid_output: int = 0
    duplicate_keys: int = 0
    unkeyed: int = 0
    unparseable: int = 0
    foreign: int = 0
    tokens: dict = field(default_factory=lambda: {k: 0 for k in USAGE_FIELDS})
    names: dict = field(default_factory=lambda: {"duplicated_keys": [], "foreign_keys": [], "unparseable_lines": [],
                                                 "unkeyed_positions": [], "failed_keys": []})
    _seen: set = field(default_factory=set, repr=False)
    _twice: set = field(default_factory=set, repr=False)
    _not_ok: set = field(default_factory=set, repr=False)

    def add(self, record: dict) -> None:
        self.written += 1
        status = record["status"]
        if status == "ok":
            self.ok += 1
        elif status == "invalid_output":
            self.invalid_output += 1
        else:
            self.errors += 1
        for name, value in (record.get("usage") or {}).items():
            self.tokens[name] = self.tokens.get(name, 0) + int(value or 0)
        key = record.get("key")
        if record.get("unparseable"):
            self.unparseable += 1
            _name(self.names["unparseable_lines"], record.get("line"))
        if key is None:
            if not record.get("unparseable"):
                self.unkeyed += 1
                if "position" in record:
                    _name(self.names["unkeyed_positions"], record["position"])
            return
        key = str(key)
        digest = key_digest(key)  # once per record: hashing is most of the cost at a million records
        if self.expected is not None and not self.expected.has(digest):
            self.foreign += 1
            _name(self.names["foreign_keys"], key)
            return
        if digest in self._seen:
            self.duplicate_keys += 1
            if digest not in self._twice:
                _name(self.names["duplicated_keys"], key)
            self._twice.add(digest)
        else:
            self._seen.add(digest)
        if status != "ok":
            self._not_ok.add(digest)
            _name(self.names["failed_keys"], key)

    def has_key(self, key: str) -> bool:
        return key_digest(key) in self._seen

    def usable(self, key: str) -> bool:
        """Exactly one record for this key, and it is ok."""
        digest = key_digest(key)
        return digest in self._seen and digest not in self._twice and digest not in self._not_ok

    def summary(self, submitted: int | None = None, submitted_keys: Iterable[str] | None = None) -> dict:
        """The counts, and the verdict from what was written: every submitted request without exactly one
        `ok` record is failed. With the submitted keys (streamed again), missing ones are named; without
        them (a pre-uploaded input) the count comes from `submitted` and foreign keys cannot be told apart."""
        out: dict[str, Any] = {
            "records": self.written, "ok": self.ok, "errors": self.errors, "invalid_output": self.invalid_output,
            "duplicate_keys": self.duplicate_keys, "unkeyed": self.unkeyed, "unparseable": self.unparseable,
            "foreign": self.foreign, "tokens": {k: v for k, v in self.tokens.items() if v}}
        missing_keys: list[str] = []
        if submitted_keys is not None:
            total = usable = missing = 0
            seen, bad = self._seen, self._twice | self._not_ok
            for key in submitted_keys:
                total += 1
                digest = key_digest(key)
                if digest not in seen:
                    missing += 1
                    _name(missing_keys, key)
                elif digest not in bad:
                    usable += 1
            out["missing_keys"] = missing_keys
        else:
            total = submitted if submitted is not None else len(self._seen)
            usable = min(total, len(self._seen - self._twice - self._not_ok))
            missing = max(0, total - len(self._seen))
        out.update(submitted=total, succeeded=usable, failed=total - usable, missing=missing,
                   **{k: v for k, v in self.names.items() if v})
        return out


def describe_problems(summary: dict, *, record_problems: bool = True) -> str:
    """One line naming what is wrong with a written result set (empty when nothing is).
    `record_problems=False` leaves out error records and invalid outputs: for a caller that names those
    one by one with their errors, this line names only what has no record to quote."""
    parts = []
    for count, label, names in (
            ("missing", "missing", "missing_keys"), ("duplicate_keys", "duplicate records", "duplicated_keys"),
            ("unparseable", "unparseable lines", "unparseable_lines"), ("unkeyed", "unkeyed records", None),
            ("foreign", "records for keys never submitted", "foreign_keys"),
            ("errors", "error records", "failed_keys"), ("invalid_output", "invalid outputs", None)):
        n = summary.get(count) or 0
        if n and (record_problems or count not in ("errors", "invalid_output")):
            named = summary.get(names) if names else None
            parts.append(f"{n} {label}" + (f" ({', '.join(map(str, named[:5]))}{', ...' if n > 5 else ''})"
                                           if named else ""))
    if summary.get("unkeyed"):
        parts.append("inline responses without metadata.key are never matched by position: use file input "
                     "(input_mode='file')")
    return "; ".join(parts)
