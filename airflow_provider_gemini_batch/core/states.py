"""The one place that maps Gemini batch states to what the provider does about them.

Pure: no Airflow, no HTTP. Accepts the wire spelling (BATCH_STATE_*), the SDK's (JOB_STATE_*),
an SDK enum member, or a bare suffix.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any


class Outcome(str, enum.Enum):
    WAITING = "waiting"          # keep polling
    SUCCEEDED = "succeeded"      # results are ready; judge per-request failures
    PARTIAL = "partial"          # results are ready, some requests failed; judge them
    FAILED = "failed"            # the whole job failed; its error says why
    CANCELLED = "cancelled"
    EXPIRED = "expired"          # 48 h passed; no results: resubmit or split


STATE_OUTCOMES: dict[str, Outcome] = {
    "JOB_STATE_UNSPECIFIED": Outcome.WAITING,
    "JOB_STATE_QUEUED": Outcome.WAITING,
    "JOB_STATE_PENDING": Outcome.WAITING,
    "JOB_STATE_RUNNING": Outcome.WAITING,
    "JOB_STATE_PAUSED": Outcome.WAITING,
    "JOB_STATE_UPDATING": Outcome.WAITING,
    "JOB_STATE_CANCELLING": Outcome.WAITING,
    "JOB_STATE_SUCCEEDED": Outcome.SUCCEEDED,
    "JOB_STATE_PARTIALLY_SUCCEEDED": Outcome.PARTIAL,
    "JOB_STATE_FAILED": Outcome.FAILED,
    "JOB_STATE_CANCELLED": Outcome.CANCELLED,
    "JOB_STATE_EXPIRED": Outcome.EXPIRED,
}
# The outcomes whose job has results to write (and which a clear re-delivers instead of billing again).
RESULT_OUTCOMES = frozenset({Outcome.SUCCEEDED, Outcome.PARTIAL})


def normalize_state(state: Any) -> str:
    """'BATCH_STATE_RUNNING', JobState.JOB_STATE_RUNNING, 'RUNNING' -> 'JOB_STATE_RUNNING'."""
    text = str(getattr(state, "value", state) or "JOB_STATE_UNSPECIFIED").strip().upper()
    for prefix in ("BATCH_STATE_", "JOB_STATE_"):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    return f"JOB_STATE_{text}"


def is_known_state(state: Any) -> bool:
    return normalize_state(state) in STATE_OUTCOMES


def outcome_of(state: Any) -> Outcome:
    """Unknown future states keep us waiting rather than failing a job that may still succeed."""
    return STATE_OUTCOMES.get(normalize_state(state), Outcome.WAITING)


def has_results(state: Any) -> bool:
    """SUCCEEDED or PARTIALLY_SUCCEEDED: there are results to write and to deliver again."""
    return outcome_of(state) in RESULT_OUTCOMES


def is_pending(state: Any) -> bool:
    """Accepted but not started (max_pending_time watches this one state, not QUEUED or RUNNING)."""
    return normalize_state(state) == "JOB_STATE_PENDING"


def parse_time(value: Any) -> float | None:
    """RFC 3339 (as the API writes createTime, with up to nanoseconds) to epoch seconds; None if absent."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # exactly six fraction digits: Python 3.10's fromisoformat takes only 3 or 6 (not 1, not 9)
        tz = rest.lstrip("0123456789")  # the leading digits are the fraction; the zone follows
        digits = rest[:len(rest) - len(tz)]
        text = f"{head}.{digits[:6].ljust(6, '0')}{tz}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _count(value: Any) -> int:
    # int64 travels as a JSON string, and zero counts are left out altogether.
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class JobSnapshot:
    """What one poll of the raw batch resource tells us."""

    name: str
    state: str
    display_name: str = ""
    model: str = ""
    request_count: int = 0
    succeeded_count: int = 0
    failed_count: int = 0
    pending_count: int = 0
    error: dict | None = None
    done: bool = False
    responses_file: str | None = None
    create_time: str | None = None

    @property
    def outcome(self) -> Outcome:
        return outcome_of(self.state)

    @property
    def is_terminal(self) -> bool:
        return self.outcome is not Outcome.WAITING

    @property
    def has_results(self) -> bool:
        return self.outcome in RESULT_OUTCOMES

    def counts(self) -> dict[str, int]:
        return {"requests": self.request_count, "succeeded": self.succeeded_count,
                "failed": self.failed_count, "pending": self.pending_count}

    def error_message(self) -> str:
        if not self.error:
            return ""
        return f"{self.error.get('message', '')} (code {self.error.get('code', '?')})".strip()

    def describe(self) -> str:
        c = self.counts()
        return (f"{self.name} {self.state}: {c['succeeded']} succeeded, {c['failed']} failed, "
                f"{c['pending']} pending of {c['requests']}")


def parse_job(resource: dict) -> JobSnapshot:
    """A JobSnapshot from the raw Operation JSON (metadata.batchStats, which the SDK drops)."""
    meta = resource.get("metadata") or {}
    stats = meta.get("batchStats") or {}
    output = meta.get("output") or (resource.get("response") or {})
    return JobSnapshot(
        name=resource.get("name", ""),
        state=normalize_state(meta.get("state")),
        display_name=meta.get("displayName", ""),
        model=meta.get("model", ""),
        request_count=_count(stats.get("requestCount")),
        succeeded_count=_count(stats.get("successfulRequestCount")),
        failed_count=_count(stats.get("failedRequestCount")),
        pending_count=_count(stats.get("pendingRequestCount")),
        error=resource.get("error"),
        done=bool(resource.get("done", False)),
        responses_file=output.get("responsesFile"),
        create_time=meta.get("createTime"),
    )


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str


def judge_failures(failed: int, total: int, max_failed_requests: int | None,
                   max_failed_ratio: float | None) -> Verdict:
    """Per-request failures against the user's threshold. No threshold set: any failure fails."""
    if failed <= 0:
        return Verdict(True, "no request failed")
    ratio = failed / total if total else 1.0
    within_count = max_failed_requests is not None and failed <= max_failed_requests
    within_ratio = max_failed_ratio is not None and ratio <= max_failed_ratio
    if max_failed_requests is None and max_failed_ratio is None:
        return Verdict(False, f"{failed} of {total} requests failed and no failure threshold is set "
                              "(set max_failed_requests or max_failed_ratio to accept some)")
    if (max_failed_requests is None or within_count) and (max_failed_ratio is None or within_ratio):
        return Verdict(True, f"{failed} of {total} requests failed ({ratio:.1%}), within the threshold")
    limits = []
    if max_failed_requests is not None:
        limits.append(f"max_failed_requests={max_failed_requests}")
    if max_failed_ratio is not None:
        limits.append(f"max_failed_ratio={max_failed_ratio}")
    return Verdict(False, f"{failed} of {total} requests failed ({ratio:.1%}), over {' and '.join(limits)}")
