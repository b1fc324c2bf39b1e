"""The realistic profile's project limits: live batch jobs, enqueued tokens per model, File API storage.

Pure bookkeeping (no HTTP): the store asks `check_create` / `check_storage` under its lock and the app
turns a `QuotaExceeded` into the real service's 429. Where each limit was reported: docs/emulator.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from .records import JobRecord

# The real service words every quota refusal alike, whichever limit was hit, and sends no Retry-After:
# python-genai #1446 and #1172 (file storage), js-genai #1264 and python-genai #1901 (batch create).
RESOURCE_EXHAUSTED_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. "
    "For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
)

CONCURRENT_JOBS, ENQUEUED_TOKENS, FILE_STORAGE = "concurrent_jobs", "enqueued_tokens", "file_storage"


class QuotaExceeded(Exception):
    """A create or upload the project's limits refuse; `limit` says which (the real API does not)."""

    def __init__(self, limit: str, detail: str):
        super().__init__(RESOURCE_EXHAUSTED_MESSAGE)
        self.limit, self.detail = limit, detail


def estimate_tokens(texts: Iterable[str], chars_per_token: float) -> int:
    """Tokens as the budget counts them: characters of request text over chars_per_token, at least 1 a request."""
    chars = sum(len(t) for t in texts)
    return max(1, math.ceil(chars / max(chars_per_token, 1e-9)))


def check_create(live_jobs: Sequence[JobRecord], model: str, tokens: int, max_jobs: int, budget: int) -> None:
    """Raise QuotaExceeded if one more job of `tokens` on `model` would break a limit.

    A job bigger than the whole budget is refused for ever, as the real service does: the caller
    must split it (the provider's sharding does)."""
    if len(live_jobs) >= max_jobs:
        raise QuotaExceeded(CONCURRENT_JOBS, f"{len(live_jobs)} live batch jobs, limit {max_jobs}")
    enqueued = sum(j.tokens or 0 for j in live_jobs if j.model == model)
    if enqueued + tokens > budget:
        raise QuotaExceeded(ENQUEUED_TOKENS,
                            f"{model}: {enqueued} tokens enqueued + {tokens} new > budget {budget}")


def check_storage(used_bytes: int, new_bytes: int, quota: int) -> None:
    if used_bytes + new_bytes > quota:
        raise QuotaExceeded(FILE_STORAGE, f"{used_bytes} bytes stored + {new_bytes} new > quota {quota}")
