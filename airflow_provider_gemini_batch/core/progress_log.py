"""When a wait logs a progress line, and what the line says. Pure: no Airflow, no clock of its own.

One line per poll was about 2,880 lines for a 24-hour job at the default 30 s poll, nearly all of
them the same. A line is now logged when the state or the counts change, plus a heartbeat (every
10 minutes by default) that says how long the wait has taken and when the deadline is. The job
name is said once, on the first line: the task log belongs to one job already.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

DEFAULT_HEARTBEAT_SECONDS = 600.0


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def duration(seconds: float) -> str:
    """45s, 12m 05s, 3h 07m, 2d 01h: two units, enough to read at a glance."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def iso_utc(epoch: float | None) -> str | None:
    """ISO 8601 UTC to the second, e.g. 2026-11-28T14:00:00Z; None stays None."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def short_state(state: str | None) -> str:
    return (state or "UNKNOWN").removeprefix("JOB_STATE_")


def describe_counts(counts: dict[str, Any]) -> str:
    requests = int(counts.get("requests") or 0)
    parts = [f"{int(counts.get('succeeded') or 0)} succeeded", f"{int(counts.get('failed') or 0)} failed",
             f"{int(counts.get('pending') or 0)} pending"]
    return f"{', '.join(parts)} of {plural(requests, 'request')}"


@dataclass
class ProgressLog:
    """Feed it every snapshot (state + counts) with the time it was taken; it answers the line to log,
    or None. `started` is when the wait began (this driver's start: a restarted triggerer starts over)."""

    job_name: str
    deadline: float | None = None
    heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS
    started: float = field(default_factory=time.time)
    _last_seen: tuple | None = field(default=None, repr=False)
    _last_logged_at: float | None = field(default=None, repr=False)

    def line(self, state: str | None, counts: dict[str, Any], now: float) -> str | None:
        seen = (state, *(int(counts.get(k) or 0) for k in ("requests", "succeeded", "failed", "pending")))
        first = self._last_seen is None
        changed = seen != self._last_seen
        due = self._last_logged_at is not None and now - self._last_logged_at >= self.heartbeat_seconds
        if not (changed or due):
            return None
        self._last_seen = seen
        self._last_logged_at = now
        text = f"{short_state(state)}: {describe_counts(counts)}"
        if first:
            text = f"Waiting for {self.job_name}: {text}"
        if due and not changed:
            text += f" (no change; waited {duration(now - self.started)}{self._deadline_text(now)})"
        elif not first:
            text += f" (after {duration(now - self.started)})"
        elif self.deadline is not None:
            text += f" (deadline {iso_utc(self.deadline)})"
        return text

    def snapshot_line(self, snapshot: Any, now: float | None = None) -> str | None:
        """The same, from a states.JobSnapshot."""
        return self.line(snapshot.state, snapshot.counts(), time.time() if now is None else now)

    def _deadline_text(self, now: float) -> str:
        if self.deadline is None:
            return "; no deadline"
        left = self.deadline - now
        when = iso_utc(self.deadline)
        return f"; deadline {when}, in {duration(left)}" if left > 0 else f"; deadline {when} has passed"
