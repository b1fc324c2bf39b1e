"""How the real service shapes a batch Operation on the wire (see SPEC.md)."""

from __future__ import annotations

from .store import EMBED, Store, rfc3339

_TYPE_PREFIX = "type.googleapis.com/google.ai.generativelanguage.v1main."


def _counts(stats: dict) -> dict:
    # int64 travels as a JSON string, and the real API leaves out every zero count.
    return {k: str(v) for k, v in stats.items() if v}


def operation(store: Store, job: dict, now: float) -> dict:
    state = store.state(job, now)
    kind = "EmbedContentBatch" if job["kind"] == EMBED else "GenerateContentBatch"
    final = job["final"]
    metadata = {
        "@type": _TYPE_PREFIX + kind,
        "model": job["model"],
        "displayName": job["display_name"],
        "state": f"BATCH_STATE_{state}",
        "createTime": rfc3339(job["create_time"]),
        "updateTime": rfc3339(final["end_time"] if final else now),
        "batchStats": _counts(store.stats(job, now)),
    }
    if "file_id" in job["source"]:
        key = "file_name" if job["kind"] == EMBED else "fileName"
        metadata["inputConfig"] = {key: f"files/{job['source']['file_id']}"}
    result: dict = {"name": f"batches/{job['id']}", "metadata": metadata}
    if final:
        metadata["endTime"] = rfc3339(final["end_time"])
        result["done"] = True
        if final["output"]:
            metadata["output"] = final["output"]
            result["response"] = {"@type": _TYPE_PREFIX + kind + "Output", **final["output"]}
        if final["error"]:
            result["error"] = final["error"]
    return result
