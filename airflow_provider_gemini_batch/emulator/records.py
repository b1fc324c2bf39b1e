"""Typed batch-job records: what the store keeps per job, how it persists, how it looks on the wire.

Pure (no HTTP, no locks, no clock reads): the store decides *when* a job moves (``Store.advance``);
a record only knows its own fields, its JSON form on disk, and the REST resource it renders as.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

GENERATE, EMBED = "generate", "embed"
PENDING, RUNNING = "PENDING", "RUNNING"
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"}

_TYPE_PREFIX = "type.googleapis.com/google.ai.generativelanguage.v1main."


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Timings:
    pending_seconds: float
    running_seconds: float


@dataclass
class JobSource:
    """Exactly one of: the inline requests (already checked at create) or an uploaded file's id."""

    requests: list[dict] | None = None
    file_id: str | None = None

    def to_json(self) -> dict:
        return {"file_id": self.file_id} if self.file_id is not None else {"requests": self.requests}

    @classmethod
    def from_json(cls, raw: dict) -> JobSource:
        return cls(requests=raw.get("requests"), file_id=raw.get("file_id"))


@dataclass
class JobOutcome:
    """A terminal job's fixed answer: written once, by the finaliser, under the store's lock."""

    state: str
    end_time: float
    stats: dict
    output: dict | None = None
    error: dict | None = None

    def to_json(self) -> dict:
        return {"state": self.state, "end_time": self.end_time, "stats": self.stats,
                "output": self.output, "error": self.error}

    @classmethod
    def from_json(cls, raw: dict | None) -> JobOutcome | None:
        if not raw:
            return None
        return cls(raw["state"], raw["end_time"], raw["stats"], raw.get("output"), raw.get("error"))


@dataclass
class JobRecord:
    id: str
    kind: str  # GENERATE or EMBED
    model: str  # "models/<id>"
    display_name: str
    create_time: float
    timings: Timings
    source: JobSource
    request_count: int
    marker: str | None  # a fake_model job marker (EMULATOR:FAIL_JOB, ...) found in the input
    base_url: str  # where the result file's downloadUri points
    # The state as of the last Store.advance(); only the store moves it.
    state: str = PENDING
    cancel_time: float | None = None
    forced_state: str | None = None  # set by the admin API (POST /_emulator/jobs/{id}/state)
    final: JobOutcome | None = None
    # Realistic profile only: enqueued-token estimate, expiry time, and whether it stays PENDING until then.
    tokens: int | None = None
    expire_time: float | None = None
    stuck: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # unknown keys of a saved job, kept on re-save

    # ------------------------------------------------------------ persistence
    # The JSON layout is the one the store has always written (flat, snake_case), so that a state
    # directory written before records were typed still loads.
    _OPTIONAL = ("tokens", "expire_time", "stuck")

    def to_json(self) -> dict:
        out = {
            **self.extra,
            "id": self.id, "kind": self.kind, "model": self.model, "display_name": self.display_name,
            "create_time": self.create_time,
            "pending_seconds": self.timings.pending_seconds, "running_seconds": self.timings.running_seconds,
            "source": self.source.to_json(), "request_count": self.request_count, "marker": self.marker,
            "cancel_time": self.cancel_time, "forced_state": self.forced_state,
            "final": self.final.to_json() if self.final else None, "base_url": self.base_url,
            "state": self.state,
        }
        for key in self._OPTIONAL:
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    @classmethod
    def from_json(cls, raw: dict) -> JobRecord:
        known = {"id", "kind", "model", "display_name", "create_time", "pending_seconds", "running_seconds",
                 "source", "request_count", "marker", "cancel_time", "forced_state", "final", "base_url",
                 "state", *cls._OPTIONAL}
        final = JobOutcome.from_json(raw.get("final"))
        return cls(
            id=raw["id"], kind=raw["kind"], model=raw["model"], display_name=raw["display_name"],
            create_time=raw["create_time"], timings=Timings(raw["pending_seconds"], raw["running_seconds"]),
            source=JobSource.from_json(raw["source"]), request_count=raw["request_count"],
            marker=raw.get("marker"), base_url=raw.get("base_url", ""),
            state=final.state if final else raw.get("state", PENDING),
            cancel_time=raw.get("cancel_time"), forced_state=raw.get("forced_state"), final=final,
            tokens=raw.get("tokens"), expire_time=raw.get("expire_time"), stuck=raw.get("stuck"),
            extra={k: v for k, v in raw.items() if k not in known},
        )

    # ------------------------------------------------------------ derived, side-effect free
    @property
    def from_file(self) -> bool:
        return self.source.file_id is not None

    def is_stuck(self, stuck_marker: str) -> bool:
        return bool(self.stuck) or self.marker == stuck_marker

    def progress_stats(self, now: float) -> dict:
        """Counts while RUNNING: a share of the requests done, in proportion to the running time."""
        total = self.request_count
        run_start = self.create_time + self.timings.pending_seconds
        frac = 0.0
        if self.timings.running_seconds > 0 and now > run_start:
            frac = min(0.99, (now - run_start) / self.timings.running_seconds)
        done = int(total * frac)
        return {"requestCount": total, "successfulRequestCount": done, "failedRequestCount": 0,
                "pendingRequestCount": total - done}

    def stats(self, now: float) -> dict:
        if self.final:
            return self.final.stats
        if self.state == PENDING:
            return {"requestCount": self.request_count, "pendingRequestCount": self.request_count}
        return self.progress_stats(now)

    # ------------------------------------------------------------ wire
    def to_resource(self, now: float) -> dict:
        """The batch Operation as the real service shapes it (see SPEC.md), as of the last advance."""
        kind = "EmbedContentBatch" if self.kind == EMBED else "GenerateContentBatch"
        final = self.final
        metadata: dict = {
            "@type": _TYPE_PREFIX + kind,
            "model": self.model,
            "displayName": self.display_name,
            "state": f"BATCH_STATE_{self.state}",
            "createTime": rfc3339(self.create_time),
            "updateTime": rfc3339(final.end_time if final else now),
            "batchStats": _counts(self.stats(now)),
        }
        if self.from_file:
            key = "file_name" if self.kind == EMBED else "fileName"
            metadata["inputConfig"] = {key: f"files/{self.source.file_id}"}
        result: dict = {"name": f"batches/{self.id}", "metadata": metadata}
        if final:
            metadata["endTime"] = rfc3339(final.end_time)
            result["done"] = True
            if final.output:
                metadata["output"] = final.output
                result["response"] = {"@type": _TYPE_PREFIX + kind + "Output", **final.output}
            if final.error:
                result["error"] = final.error
        return result


def _counts(stats: dict) -> dict:
    # int64 travels as a JSON string, and the real API leaves out every zero count.
    return {k: str(v) for k, v in stats.items() if v}
