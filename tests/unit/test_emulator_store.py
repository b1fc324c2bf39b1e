"""The emulator's store on its own (no HTTP): one lock discipline, and job records that survive a restart.

The REST, SDK and restart tests cover the wire; these pin two internal promises the wire cannot show
reliably: a job crossing its expiry is finalised exactly once however many callers reach it at that
moment, and a typed job record round-trips through the state directory.
"""

from __future__ import annotations

import json
import threading
import time

from airflow_provider_gemini_batch.emulator import fake_model
from airflow_provider_gemini_batch.emulator.config import EmulatorConfig
from airflow_provider_gemini_batch.emulator.records import JobRecord, JobSource, Timings
from airflow_provider_gemini_batch.emulator.store import GENERATE, Store

THREADS = 16


def _request(text: str) -> dict:
    return {"request": {"contents": [{"parts": [{"text": text}]}]}, "metadata": {"key": text[:8]}}


class _SlowFinaliseStore(Store):
    """Counts finalisations per job and holds each one open for a moment, so that a caller who checks
    "not finalised yet" outside the lock is sure to be overtaken by the others (the old EXPIRED path)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.finalised: list[tuple[str, str, float]] = []
        self._count_lock = threading.Lock()

    def _finalize(self, job, state, now, **kwargs):
        with self._count_lock:
            self.finalised.append((job.id, state, now))
        time.sleep(0.02)
        super()._finalize(job, state, now, **kwargs)


def test_a_job_crossing_its_expiry_is_finalised_once_by_concurrent_readers(tmp_path):
    store = _SlowFinaliseStore(tmp_path, config=EmulatorConfig(pending_seconds=0, running_seconds=0))
    job = store.create_job(GENERATE, "models/gemini-2.5-flash", f"expire me {fake_model.EXPIRE_JOB}",
                           JobSource(requests=[_request("hello")]), Timings(0.0, 0.0), "http://emulator")
    start = threading.Barrier(THREADS)
    seen: list[tuple[str, float]] = []
    errors: list[BaseException] = []

    def reader(i: int) -> None:
        try:
            start.wait(timeout=10)
            # Each reader arrives with its own clock reading, as concurrent GETs do.
            advanced = store.advance(job, time.time() + i * 0.001)
            seen.append((advanced.state, advanced.final.end_time))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert errors == []
    assert [f[:2] for f in store.finalised] == [(job.id, "EXPIRED")], store.finalised
    end_time = store.finalised[0][2]
    assert seen == [("EXPIRED", end_time)] * THREADS
    saved = json.loads((tmp_path / "jobs" / f"{job.id}.json").read_text())
    assert saved["final"]["state"] == "EXPIRED" and saved["final"]["end_time"] == end_time
    # Later reads render the one outcome; nothing finalises again.
    resource = store.job_resource(job.id, time.time() + 60)
    assert resource["metadata"]["state"] == "BATCH_STATE_EXPIRED" and resource["done"] is True
    assert len(store.finalised) == 1


def test_job_records_round_trip_through_the_state_directory(tmp_path):
    config = EmulatorConfig(pending_seconds=0, running_seconds=0)
    first = Store(tmp_path, config=config)
    job = first.create_job(GENERATE, "models/gemini-2.5-flash", "round trip",
                           JobSource(requests=[_request("one"), _request(f"two {fake_model.FAIL_REQUEST}")]),
                           Timings(0.0, 0.0), "http://emulator")
    before = first.job_resource(job.id, time.time())
    assert before["metadata"]["state"] == "BATCH_STATE_SUCCEEDED"
    assert before["metadata"]["batchStats"] == {"requestCount": "2", "successfulRequestCount": "1",
                                                "failedRequestCount": "1"}

    second = Store(tmp_path, config=config)  # a restarted emulator on the same state directory
    reloaded = second.get_job(job.id)
    assert isinstance(reloaded, JobRecord)
    assert reloaded == first.get_job(job.id)
    assert second.job_resource(job.id, time.time() + 5) == before
    assert second.jobs_created == 1


def test_a_job_saved_before_records_were_typed_still_loads(tmp_path):
    # The flat dict the store wrote before JobRecord existed (no "state" key, no realistic-only keys).
    legacy = {"id": "abc123def456", "kind": "generate", "model": "models/gemini-2.5-flash",
              "display_name": "old", "create_time": 1_700_000_000.0, "pending_seconds": 1.0,
              "running_seconds": 2.0, "source": {"file_id": "f1"}, "request_count": 3, "marker": None,
              "cancel_time": None, "forced_state": None, "base_url": "http://x",
              "final": {"state": "SUCCEEDED", "end_time": 1_700_000_010.0,
                        "stats": {"requestCount": 3, "successfulRequestCount": 3, "failedRequestCount": 0},
                        "output": {"responsesFile": "files/batch-abc123def456"}, "error": None}}
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "abc123def456.json").write_text(json.dumps(legacy))
    store = Store(tmp_path, config=EmulatorConfig())
    resource = store.job_resource("abc123def456", time.time())
    assert resource["metadata"]["state"] == "BATCH_STATE_SUCCEEDED"
    assert resource["metadata"]["inputConfig"] == {"fileName": "files/f1"}
    assert resource["response"]["responsesFile"] == "files/batch-abc123def456"
    assert resource["metadata"]["endTime"] == "2023-11-14T22:13:30.000000Z"
    assert JobRecord.from_json(legacy).to_json() == {**legacy, "state": "SUCCEEDED"}
