"""What counts as transient, and the backoff used by the sync hook, the async hook and the trigger."""

from __future__ import annotations

from typing import Any

from tenacity import wait_exponential_jitter

TRANSIENT_HTTP_CODES = frozenset({408, 429, 500, 502, 503, 504})


def is_transient_code(code: int | None) -> bool:
    return code in TRANSIENT_HTTP_CODES


def backoff(max_wait_seconds: float, initial: float = 0.5) -> wait_exponential_jitter:
    """Exponential backoff with jitter, so a fleet of tasks does not retry in lockstep."""
    return wait_exponential_jitter(initial=initial, max=max_wait_seconds, jitter=initial)


def backoff_delay(attempt: int, max_wait_seconds: float, initial: float = 0.5) -> float:
    """Seconds to wait before try number attempt + 1, for loops that count their own failures."""
    from types import SimpleNamespace

    return backoff(max_wait_seconds, initial)(SimpleNamespace(attempt_number=attempt))


def redact(text: Any, secret: str | None) -> str:
    text = str(text)
    if secret and len(secret) >= 4:
        text = text.replace(secret, "***")
    return text
