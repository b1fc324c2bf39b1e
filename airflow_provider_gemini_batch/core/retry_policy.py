"""What counts as transient, and the one backoff used by the sync hook, the async hook, the trigger and
the in-worker wait. Pure: no I/O.

A server that says how long to wait (`Retry-After`, or google.rpc.RetryInfo `retryDelay` in the error
body) is obeyed rather than guessed at; otherwise exponential backoff with jitter, so a fleet of tasks
does not retry in lockstep. Every delay is capped by whatever deadline the caller has.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

TRANSIENT_HTTP_CODES = frozenset({408, 429, 500, 502, 503, 504})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def is_transient_code(code: int | None) -> bool:
    return code in TRANSIENT_HTTP_CODES


def next_delay(attempt: int, max_wait_seconds: float, initial: float = 0.5, hint: float | None = None,
               remaining: float | None = None) -> float:
    """Seconds to wait before try number attempt + 1 (attempt counts from 1).

    `hint` is the server's own advice (Retry-After / RetryInfo) and wins over the exponential guess, even
    when it is longer than `max_wait_seconds`: asking again sooner than told only earns another 429.
    `remaining` (seconds to the caller's deadline) caps everything."""
    if hint is not None and hint >= 0:
        delay = hint
    else:
        exp = initial * (2 ** max(0, attempt - 1))
        delay = min(max_wait_seconds, exp + random.uniform(0, initial))
    if remaining is not None:
        delay = min(delay, max(0.0, remaining))
    return max(0.0, delay)


def backoff_delay(attempt: int, max_wait_seconds: float, initial: float = 0.5) -> float:
    """Kept for callers that count their own failures and have no server hint."""
    return next_delay(attempt, max_wait_seconds, initial)


def retry_hint(headers: Mapping[str, str] | None, body: Any = None, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: `Retry-After` (seconds or an HTTP date), else the error body's
    google.rpc.RetryInfo `retryDelay` ("5s", "0.5s"). None when it said nothing usable."""
    value = None
    for name, v in (headers or {}).items():
        if name.lower() == "retry-after":
            value = v
            break
    if value is not None:
        value = str(value).strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=timezone.utc)
                base = now if now is not None else datetime.now(timezone.utc).timestamp()
                return max(0.0, when.timestamp() - base)
    err = body.get("error") if isinstance(body, dict) else None
    for detail in (err or {}).get("details") or [] if isinstance(err, dict) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = detail.get("retryDelay")
            if isinstance(delay, dict):  # the proto form {"seconds": 5, "nanos": 0}
                return float(delay.get("seconds", 0)) + float(delay.get("nanos", 0)) / 1e9
            match = _DURATION.match(str(delay or ""))
            if match:
                return float(match.group(1))
    return None
