"""What the submit and housekeeping operators (and the sensor) share: durations, the cleanup option, and
the in-worker wait driver (which lives in ..waits, shared with the sensor)."""

from __future__ import annotations

from collections.abc import Iterable

from ..exceptions import GeminiRequestError
from ..waits import as_seconds as _seconds  # noqa: F401 -- the operators use these names
from ..waits import poll_until_done  # noqa: F401

CLEANUP_CHOICES = {"input_file", "result_file", "job"}


def _cleanup_set(cleanup: Iterable[str] | str | None) -> set[str]:
    chosen = {cleanup} if isinstance(cleanup, str) else set(cleanup or ())
    unknown = chosen - CLEANUP_CHOICES
    if unknown:
        raise GeminiRequestError(f"unknown cleanup option(s) {sorted(unknown)}; choose from {sorted(CLEANUP_CHOICES)}",
                                 location="cleanup")
    return chosen
