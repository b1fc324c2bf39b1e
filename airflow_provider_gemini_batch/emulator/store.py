"""Jobs and files, kept on disk under the state directory so that a restarted emulator resumes.

Job state is derived from the clock (create time + configured durations), so thousands of jobs
cost nothing while they wait: `Store.advance(job, now)` moves a job to where its timeline says it
is, and produces its results once (a file in a worker thread) when it first falls due. Reading a
job's fields never moves it. Every mutation of a job, a file, an upload session or a counter
happens under `Store.lock`.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import fake_model, media, quota
from .config import EmulatorConfig
from .records import EMBED, GENERATE, PENDING, RUNNING, TERMINAL, JobOutcome, JobRecord, JobSource, Timings, rfc3339
from .wire_schema import WireError, check_embed_request, check_generate_request, texts_of

__all__ = ["EMBED", "GENERATE", "JobRecord", "JobSource", "NotFound", "Precondition", "Store", "Timings", "rfc3339"]

# Output lines are written in reversed blocks of this many, so that clients cannot rely on order.
SHUFFLE_BLOCK = 64


def new_id(n: int = 12) -> str:
    return secrets.token_hex(n // 2 + 1)[:n]


class NotFound(Exception):
    pass


class Precondition(Exception):
    pass


class Store:
    def __init__(self, state_dir: Path, object_error_details: bool = False, config: EmulatorConfig | None = None):
        # The live config object (the admin API changes it at run time); the realistic profile reads it.
        self.config = config or EmulatorConfig(object_error_details=object_error_details)
        self.root = state_dir
        self.jobs_dir = state_dir / "jobs"
        self.files_dir = state_dir / "files"
        self.uploads_dir = state_dir / "uploads"
        for d in (self.jobs_dir, self.files_dir, self.uploads_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.object_error_details = object_error_details
        self.lock = threading.RLock()
        # One lock for every mutation of jobs, files, upload sessions and counters: request handlers
        # and the worker threads that process file jobs both take it. Re-entrant, because advance()
        # finalises and processing registers files while holding it.
        self.jobs: dict[str, JobRecord] = {}
        self.files: dict[str, dict] = {}
        self.uploads: dict[str, dict] = {}
        self.finished_uploads: dict[str, str] = {}  # upload id -> file id, for queries after a lost final reply
        self.jobs_created = 0
        # Realistic-profile accounting, reported by the admin API: the most jobs live at once,
        # creates per display name (a retried create shows up here), and refusals per limit.
        self.peak_live_jobs = 0
        self.created_by_display_name: Counter = Counter()
        self.quota_refusals: Counter = Counter()
        self.unpaged_list_calls = 0
        self._rng = random.Random(self.config.seed)
        self._processing: set[str] = set()
        self.media_ledger = media.MediaLedger()
        self._load()

    # ---------------------------------------------------------------- persistence
    def _load(self) -> None:
        for path in self.jobs_dir.glob("*.json"):
            job = JobRecord.from_json(json.loads(path.read_text()))
            self.jobs[job.id] = job
        for path in self.files_dir.glob("*.json"):
            meta = json.loads(path.read_text())
            self.files[meta["id"]] = meta
        counter = self.root / "jobs_created"
        self.jobs_created = int(counter.read_text()) if counter.exists() else len(self.jobs)
        counters = self.root / "counters.json"
        if counters.exists():
            saved = json.loads(counters.read_text())
            self.peak_live_jobs = saved["peak_live_jobs"]
            self.created_by_display_name = Counter(saved["created_by_display_name"])

    def _save_counters(self) -> None:
        (self.root / "jobs_created").write_text(str(self.jobs_created))
        tmp = self.root / "counters.json.tmp"
        tmp.write_text(json.dumps({"peak_live_jobs": self.peak_live_jobs,
                                   "created_by_display_name": self.created_by_display_name}))
        tmp.replace(self.root / "counters.json")

    def _save_job(self, job: JobRecord) -> None:
        tmp = self.jobs_dir / f"{job.id}.json.tmp"
        tmp.write_text(json.dumps(job.to_json()))
        tmp.replace(self.jobs_dir / f"{job.id}.json")

    def _save_file(self, meta: dict) -> None:
        tmp = self.files_dir / f"{meta['id']}.json.tmp"
        tmp.write_text(json.dumps(meta))
        tmp.replace(self.files_dir / f"{meta['id']}.json")

    def reset(self) -> None:
        with self.lock:
            for d in (self.jobs_dir, self.files_dir, self.uploads_dir):
                for p in d.iterdir():
                    p.unlink()
            self.jobs.clear()
            self.files.clear()
            self.uploads.clear()
            self.finished_uploads.clear()
            self.jobs_created = 0
            self.media_ledger.clear()
            self.peak_live_jobs = 0
            self.created_by_display_name.clear()
            self.quota_refusals.clear()
            self.unpaged_list_calls = 0
            self._rng = random.Random(self.config.seed)
            self._save_counters()

    def admin_stats(self, now: float) -> dict:
        """What the realistic-profile tests read from GET /_emulator/stats."""
        with self.lock:
            return {
                "live_jobs": sum(self.is_live(j, now) for j in self.jobs.values()),
                "peak_live_jobs": self.peak_live_jobs,
                "jobs_created_by_display_name": dict(self.created_by_display_name),
                "quota_refusals": dict(self.quota_refusals),
                "unpaged_list_calls": self.unpaged_list_calls,
                "enqueued_tokens": dict(sum((Counter({j.model: j.tokens or 0})
                                             for j in self.jobs.values() if self.is_live(j, now)), Counter())),
                "file_storage_bytes": self.storage_used(),
            }

    # ---------------------------------------------------------------- files
    def file_data_path(self, file_id: str) -> Path:
        return self.files_dir / f"{file_id}.data"

    def storage_used(self) -> int:
        """Bytes the project's files hold, counting uploads in progress at their declared size."""
        return (sum(int(m["sizeBytes"]) for m in self.files.values())
                + sum(u["size"] or u["received"] for u in self.uploads.values()))

    def start_upload(self, display_name: str | None, mime_type: str | None, size: int | None) -> str:
        upload_id = new_id(24)
        with self.lock:
            if self.config.realistic:
                self.sweep_files(time.time())
                try:
                    quota.check_storage(self.storage_used(), size or 0, self.config.file_storage_bytes)
                except quota.QuotaExceeded as exc:
                    self.quota_refusals[exc.limit] += 1
                    raise
            self.uploads[upload_id] = {
                "display_name": display_name, "mime_type": mime_type, "size": size, "received": 0,
            }
        (self.uploads_dir / upload_id).write_bytes(b"")
        return upload_id

    def upload_path(self, upload_id: str) -> Path:
        if upload_id not in self.uploads:
            raise NotFound(f"Upload session {upload_id} not found.")
        return self.uploads_dir / upload_id

    def add_received(self, upload_id: str, n_bytes: int) -> int:
        """Count bytes of a chunk as they land; returns the session's total so far."""
        with self.lock:
            session = self.uploads[upload_id]
            session["received"] += n_bytes
            return session["received"]

    def finish_upload(self, upload_id: str, base_url: str) -> dict:
        with self.lock:
            session = self.uploads.pop(upload_id)
        part = self.uploads_dir / upload_id
        if session["size"] is not None and part.stat().st_size != session["size"]:
            part.unlink()
            raise WireError(
                f"Upload size mismatch: declared {session['size']} bytes, received {part.stat().st_size}."
            )
        file_id = new_id(12)
        part.replace(self.file_data_path(file_id))
        with self.lock:
            self.finished_uploads[upload_id] = file_id
        return self._register_file(file_id, session["display_name"], session["mime_type"] or "application/octet-stream",
                                   source="UPLOADED", base_url=base_url)

    def _register_file(self, file_id: str, display_name: str | None, mime: str, source: str, base_url: str) -> dict:
        now = time.time()
        meta = {
            "id": file_id,
            "name": f"files/{file_id}",
            "mimeType": mime,
            "sizeBytes": str(self.file_data_path(file_id).stat().st_size),
            "createTime": rfc3339(now),
            "updateTime": rfc3339(now),
            "expirationTime": rfc3339(now + self._file_lifetime()),
            "uri": f"{base_url}/v1beta/files/{file_id}",
            "state": "ACTIVE",
            "source": source,
        }
        if display_name:
            meta["displayName"] = display_name
        if source == "GENERATED":
            meta["downloadUri"] = f"{base_url}/download/v1beta/files/{file_id}:download?alt=media"
        if source == "UPLOADED":
            media.on_uploaded(self, file_id, meta)  # sha256Hash, and the per-content upload ledger
        with self.lock:
            self.files[file_id] = meta
            self._save_file(meta)
        return meta

    def _file_lifetime(self) -> float:
        # Default profile: 48 real hours, as the guide says. Realistic: 48 emulated hours, time-scaled,
        # and then really gone (sweep_files), as users who reuse a file URI days later find out.
        return self.config.emulated_to_real(self.config.file_ttl_hours) if self.config.realistic else 48 * 3600

    def _expired(self, meta: dict, now: float) -> bool:
        if not self.config.realistic:
            return False
        expires = datetime.strptime(meta["expirationTime"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        return now >= expires.timestamp()

    def sweep_files(self, now: float) -> None:
        """Delete every expired file (realistic profile only)."""
        if not self.config.realistic:
            return
        with self.lock:
            for file_id in [i for i, m in self.files.items() if self._expired(m, now)]:
                self.delete_file(file_id)

    def get_file(self, file_id: str) -> dict:
        with self.lock:
            meta = self.files.get(file_id)
            if meta is not None and self._expired(meta, time.time()):
                self.delete_file(file_id)
                meta = None
            if meta is None:
                raise NotFound(f"File files/{file_id} not found.")
            return {k: v for k, v in meta.items() if k != "id"}

    def expire_file(self, file_id: str) -> dict:
        """Make a file look expired (its expirationTime in the past) without waiting 48 h."""
        with self.lock:
            meta = self.files.get(file_id)
            if meta is None:
                raise NotFound(f"File files/{file_id} not found.")
            meta["expirationTime"] = "2000-01-01T00:00:00.000000Z"
            return {k: v for k, v in meta.items() if k != "id"}

    def delete_file(self, file_id: str) -> None:
        with self.lock:
            if file_id not in self.files:
                raise NotFound(f"File files/{file_id} not found.")
            del self.files[file_id]
            (self.files_dir / f"{file_id}.json").unlink(missing_ok=True)
            self.file_data_path(file_id).unlink(missing_ok=True)

    # ---------------------------------------------------------------- jobs
    def create_job(self, kind: str, model: str, display_name: str, source: JobSource, timings: Timings,
                   base_url: str) -> JobRecord:
        """source: the inline requests (already checked) or an uploaded file's id."""
        # Scanning a file can take a while: done before the lock, on input nobody else writes.
        if source.file_id is not None:
            count, marker = self._scan_file(source.file_id)
        else:
            count = len(source.requests or [])
            marker = _job_marker(
                t for item in source.requests or [] for t in texts_of(item.get("request") or {})
            )
        marker = _job_marker([display_name]) or marker
        now = time.time()
        job = JobRecord(id=new_id(12), kind=kind, model=model, display_name=display_name, create_time=now,
                        timings=timings, source=source, request_count=count, marker=marker, base_url=base_url)
        cfg = self.config
        if cfg.realistic:
            job.tokens = self._estimate_tokens(source)
            job.expire_time = now + cfg.emulated_to_real(cfg.job_expiry_hours)
        with self.lock:
            if cfg.realistic:
                live = [j for j in self.jobs.values() if self.is_live(j, now)]
                try:
                    quota.check_create(live, job.model, job.tokens or 0, cfg.max_concurrent_jobs,
                                       cfg.token_budget(job.model))
                except quota.QuotaExceeded as exc:
                    self.quota_refusals[exc.limit] += 1
                    raise
                job.stuck = self._rng.random() < cfg.stuck_pending_share
                self.peak_live_jobs = max(self.peak_live_jobs, len(live) + 1)
            self.jobs[job.id] = job
            self.jobs_created += 1
            self.created_by_display_name[display_name] += 1
            self._save_counters()
            self._save_job(job)
        return job

    def _estimate_tokens(self, source: JobSource) -> int:
        if source.file_id is not None:
            texts: list[str] = []
            with open(self.file_data_path(source.file_id), "rb") as fh:
                for raw in fh:
                    try:
                        line = json.loads(raw)
                    except ValueError:
                        continue  # a bad line fails alone later; it costs no tokens
                    if isinstance(line, dict) and isinstance(line.get("request"), dict):
                        texts.extend(texts_of(line["request"]))
        else:
            texts = [t for item in source.requests or [] for t in texts_of(item.get("request") or {})]
        return quota.estimate_tokens(texts, self.config.chars_per_token)

    def _stuck(self, job: JobRecord) -> bool:
        return job.is_stuck(fake_model.STUCK_PENDING)

    def is_live(self, job: JobRecord, now: float) -> bool:
        """PENDING or RUNNING by the clock, without side effects: what the project's limits count.
        A job past its running time counts as finished even if nobody has polled it yet: the real
        service finishes jobs whether or not anyone looks."""
        if job.final:
            return False
        if job.forced_state in (PENDING, RUNNING):
            return True
        if self._stuck(job):
            return now < (job.expire_time if job.expire_time is not None else float("inf"))
        if job.forced_state == "SUCCEEDED":
            return False
        return now - job.create_time < job.timings.pending_seconds + job.timings.running_seconds

    def _scan_file(self, file_id: str) -> tuple[int, str | None]:
        self.sweep_files(time.time())
        if file_id not in self.files:
            raise NotFound(f"File files/{file_id} not found.")
        count, found = 0, set[str]()
        with open(self.file_data_path(file_id), "rb") as fh:
            for line in fh:
                if line.strip():
                    count += 1
                if b"EMULATOR:" in line:
                    found.update(m for m in fake_model.JOB_MARKERS if m.encode() in line)
        return count, _job_marker(found)

    def get_job(self, job_id: str) -> JobRecord:
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFound(f"Batch batches/{job_id} not found.")
        return job

    def job_resource(self, job_id: str, now: float) -> dict:
        """The job brought up to `now` and rendered, in one critical section: the state, the counts and
        the outcome in one reply always belong together, even while a worker thread finishes the job."""
        with self.lock:
            return self.resource(self.get_job(job_id), now)

    def resource(self, job: JobRecord, now: float) -> dict:
        with self.lock:
            return self.advance(job, now).to_resource(now)

    def delete_job(self, job_id: str) -> None:
        with self.lock:
            self.get_job(job_id)
            del self.jobs[job_id]
            (self.jobs_dir / f"{job_id}.json").unlink(missing_ok=True)

    def cancel_job(self, job_id: str, now: float) -> None:
        with self.lock:
            job = self.advance(self.get_job(job_id), now)
            if job.state in TERMINAL:
                raise Precondition(f"Batch batches/{job_id} is already in a terminal state and cannot be cancelled.")
            job.cancel_time = now
            self._finalize(job, "CANCELLED", now, stats=job.progress_stats(now), output=None, error=None)

    def force_state(self, job_id: str, state: str) -> None:
        with self.lock:
            job = self.get_job(job_id)
            job.forced_state = state
            job.final = None
            if state in ("FAILED", "EXPIRED", "CANCELLED"):
                now = time.time()
                error = ({"code": 13, "message": "Job forced to FAILED by the emulator admin API."}
                         if state == "FAILED" else None)
                self._finalize(job, state, now, stats=job.progress_stats(now), output=None, error=error)
            else:
                self._save_job(job)

    def _finalize(self, job: JobRecord, state: str, now: float, stats: dict, output: dict | None,
                  error: dict | None) -> None:
        """Fix the job's outcome. Callers hold self.lock and have checked job.final is unset, so a job is
        finalised once however many requests and worker threads reach it at the same moment."""
        job.final = JobOutcome(state, now, stats, output, error)
        job.state = state
        self._save_job(job)

    def advance(self, job: JobRecord, now: float) -> JobRecord:
        """Move the job along its timeline to `now` and return it.

        PENDING for pending_seconds, RUNNING for running_seconds, then terminal: the first advance
        past the running time produces the results (inline input at once; a file in a worker thread,
        RUNNING meanwhile). Forced states (admin API), the EMULATOR:* job markers and the realistic
        profile's stuck-PENDING share bend the timeline. All under self.lock: the finalisers here and
        in the worker thread check job.final and write it in one critical section."""
        with self.lock:
            if job.final:
                job.state = job.final.state
                return job
            forced = job.forced_state
            if forced in (PENDING, RUNNING):
                job.state = forced
                return job
            if self._stuck(job):
                # Realistic profile: a stuck job EXPIREs job_expiry_hours (emulated) after creation, as
                # users see after 48 hours of PENDING; the default profile keeps it PENDING for ever.
                if job.expire_time is not None and now >= job.expire_time:
                    self._finalize(job, "EXPIRED", now, stats=job.progress_stats(now), output=None, error=None)
                else:
                    job.state = PENDING
                return job
            elapsed = now - job.create_time
            if forced != "SUCCEEDED":
                if elapsed < job.timings.pending_seconds:
                    job.state = PENDING
                    return job
                if elapsed < job.timings.pending_seconds + job.timings.running_seconds:
                    job.state = RUNNING
                    return job
            if job.marker == fake_model.EXPIRE_JOB:
                self._finalize(job, "EXPIRED", now, stats=job.progress_stats(now), output=None, error=None)
                return job
            if job.id not in self._processing:
                self._processing.add(job.id)
                if job.from_file:
                    # A file can be gigabytes: work through it in a thread and say RUNNING meanwhile.
                    threading.Thread(target=self._process, args=(job,), daemon=True).start()
                else:
                    self._process(job)  # inline input is capped at 20 MB: done before answering
            if not job.final:
                job.state = RUNNING
            return job

    # ---------------------------------------------------------------- processing
    def _process(self, job: JobRecord) -> None:
        """Produce the job's results (outside the lock when in a worker thread), then finalise under it."""
        try:
            if job.from_file:
                stats, output = self._process_file(job)
            else:
                stats, output = self._process_inline(job)
            now = time.time()
            with self.lock:
                if job.final or self.jobs.get(job.id) is not job:
                    # Cancelled, deleted or reset meanwhile: drop the result file written for it, so that
                    # it does not count against the next test's File API storage (realistic profile).
                    out_id = (output.get("responsesFile") or "").removeprefix("files/")
                    if out_id in self.files:
                        self.delete_file(out_id)
                    elif out_id:
                        self.file_data_path(out_id).unlink(missing_ok=True)
                    return
                if job.marker == fake_model.FAIL_JOB:
                    error = {"code": 13,
                             "message": "Emulated internal failure of the whole batch (marker EMULATOR:FAIL_JOB)."}
                    self._finalize(job, "FAILED", now, stats=stats, output=None, error=error)
                else:
                    self._finalize(job, "SUCCEEDED", now, stats=stats, output=output, error=None)
        finally:
            with self.lock:
                self._processing.discard(job.id)

    def _answer(self, job: JobRecord, request: Any, where: str) -> dict:
        """{"response": ...} or {"error": ...} for one request."""
        try:
            if job.kind == EMBED:
                checked = check_embed_request(request, where)
                response = fake_model.embed(job.model, checked)
            else:
                checked = check_generate_request(request, where)
                digests, failure = media.check_and_digest(self, checked)  # fileData must name a live file
                if failure is not None:
                    return {"error": failure}
                response = fake_model.generate(job.model, checked, media=digests)
        except WireError as exc:
            return {"error": {"code": 400, "message": str(exc), "status": "INVALID_ARGUMENT"}}
        if fake_model.FAIL_REQUEST in "\n".join(texts_of(checked)):
            return {"error": fake_model.request_error(fake_model.FAIL_REQUEST, self.object_error_details)}
        return {"response": response}

    def _process_inline(self, job: JobRecord) -> tuple[dict, dict]:
        results = []
        ok = failed = 0
        for i, item in enumerate(job.source.requests or []):
            answer = self._answer(job, item.get("request"), f"requests[{i}].request")
            if "metadata" in item and not self.config.realistic:
                answer["metadata"] = item["metadata"]
            ok += "response" in answer
            failed += "error" in answer
            results.append(answer)
        if self.config.realistic:
            # As reported for large inline batches: answers out of request order, and no metadata
            # (our key) on any of them, so nothing the response carries ties it to its request.
            random.Random(job.id).shuffle(results)
        stats = {"requestCount": len(results), "successfulRequestCount": ok, "failedRequestCount": failed}
        return stats, {"inlinedResponses": {"inlinedResponses": results}}

    def _process_file(self, job: JobRecord) -> tuple[dict, dict]:
        out_id = f"batch-{job.id}"
        ok = failed = total = 0
        src = self.file_data_path(job.source.file_id or "")
        dst = self.file_data_path(out_id)
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            block: list[bytes] = []
            for lineno, raw in enumerate(fin, start=1):
                if not raw.strip():
                    continue
                total += 1
                answer = self._answer_line(job, raw, lineno)
                ok += "response" in answer
                failed += "error" in answer
                line = json.dumps(answer, separators=(",", ":")).encode() + b"\n"
                copies = 0 if fake_model.DROP_RESULT.encode() in raw else \
                    2 if fake_model.DUPLICATE_RESULT.encode() in raw else 1
                block.extend([line] * copies)
                if len(block) >= SHUFFLE_BLOCK:
                    fout.writelines(reversed(block))
                    block.clear()
            fout.writelines(reversed(block))
        self._register_file(out_id, f"Batch results of batches/{job.id}", "application/jsonl",
                            source="GENERATED", base_url=job.base_url)
        stats = {"requestCount": total, "successfulRequestCount": ok, "failedRequestCount": failed}
        return stats, {"responsesFile": f"files/{out_id}"}

    def _answer_line(self, job: JobRecord, raw: bytes, lineno: int) -> dict:
        try:
            obj = json.loads(raw)
        except ValueError:
            return {"error": {"code": 400, "message": f"Invalid JSON on line {lineno} of the input file.",
                              "status": "INVALID_ARGUMENT"}}
        if not isinstance(obj, dict) or "request" not in obj:
            return {"key": obj.get("key") if isinstance(obj, dict) else None,
                    "error": {"code": 400, "message": f"Line {lineno} has no 'request' object.",
                              "status": "INVALID_ARGUMENT"}}
        answer = {"key": obj.get("key")}
        answer.update(self._answer(job, obj["request"], f"line {lineno}.request"))
        return answer

    def iter_jobs_newest_first(self) -> Iterator[JobRecord]:
        with self.lock:  # a snapshot: a create or delete meanwhile does not disturb the caller's loop
            return iter(sorted(self.jobs.values(), key=lambda j: j.create_time, reverse=True))

    def file_ids_newest_first(self) -> list[str]:
        with self.lock:
            return sorted(self.files, key=lambda i: self.files[i]["createTime"], reverse=True)

    def note_unpaged_list(self) -> None:
        with self.lock:
            self.unpaged_list_calls += 1


def _job_marker(texts) -> str | None:
    for text in texts:
        for marker in fake_model.JOB_MARKERS:
            if marker in text:
                return marker
    return None
