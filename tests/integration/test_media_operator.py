"""GeminiBatchMediaOperator.execute() for real against the emulator (only the task instance is a
stand-in): bad media refused before anything billable, with a typed error naming the file and the fix
while the emulator has created no job and received no upload; and a retry that reattaches."""

from __future__ import annotations

import hashlib
import os
import sys
from functools import partial

import pytest

from airflow_provider_gemini_batch.exceptions import GeminiMediaError
from airflow_provider_gemini_batch.operators.media import GeminiBatchMediaOperator
from tests.conftest import SENTINEL_KEY

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "example_dags"))
from _media_samples import pdf, png  # noqa: E402

from tests.standins import TaskInstanceStandIn as _TaskInstance

TaskInstanceStandIn = partial(_TaskInstance, dag_id="media", task_id="media")


def run_media(tmp_path, source, prompt_override=None, **kwargs):
    op = GeminiBatchMediaOperator(task_id="media", model="gemini-2.5-flash", source=source,
                                  prompt=prompt_override or "Describe {name}.",
                                  results_path=str(tmp_path / "out" / "results.jsonl"), deferrable=False,
                                  poll_interval=0.1, **kwargs)
    return op.execute({"ti": TaskInstanceStandIn()})


def refused(emu, *fragments, call):
    with pytest.raises(GeminiMediaError) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert SENTINEL_KEY not in message
    stats = emu.stats()
    assert stats["jobs_created"] == 0, "a job was created"
    assert stats["calls"].get("files.upload", 0) == 0, "something was uploaded"
    return info.value


@pytest.fixture
def good(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        (folder / f"photo-{i}.png").write_bytes(png(f"p{i}", 64))  # 12 KB: would be uploaded
    return folder


def test_a_path_that_does_not_exist(gemini_conn, tmp_path, good):
    missing = str(good / "photo-9.png")
    error = refused(gemini_conn, missing, "does not exist",
                    call=lambda: run_media(tmp_path, [str(good / "photo-0.png"), missing], inline_max_bytes=0))
    assert error.path == missing


def test_a_glob_that_matches_nothing(gemini_conn, tmp_path, good):
    refused(gemini_conn, f"{good}/*.pdf", "matches no files", call=lambda: run_media(tmp_path, f"{good}/*.pdf"))


def test_a_directory_where_a_file_should_be_readable(gemini_conn, tmp_path, good):
    locked = good / "locked.png"
    locked.write_bytes(png("locked"))
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root reads anything: make it unreadable another way
        locked.unlink()
        locked.mkdir()
        (locked / "x").mkdir()
        source = [str(good / "photo-0.png"), str(locked)]
        refused(gemini_conn, "matches no files", str(locked), call=lambda: run_media(tmp_path, source))
    else:
        refused(gemini_conn, str(locked), "cannot be read", call=lambda: run_media(tmp_path, str(good)))


def test_an_undetectable_mime_type_names_the_file_and_the_override(gemini_conn, tmp_path, good):
    blob = good / "recording.qqq"
    blob.write_bytes(b"\x00\x01\x02 no magic number here")
    refused(gemini_conn, str(blob), "cannot tell the MIME type", "mime_type=",
            call=lambda: run_media(tmp_path, str(good)))


def test_an_unsupported_mime_type(gemini_conn, tmp_path, good):
    gif = good / "anim.gif"
    gif.write_bytes(b"GIF89a" + b"\x00" * 100)
    refused(gemini_conn, str(gif), "image/gif", "not one Gemini accepts", call=lambda: run_media(tmp_path, str(good)))


def test_a_pdf_over_its_50_mb_limit_is_refused_without_reading_it(gemini_conn, tmp_path, good):
    big = good / "scan.pdf"
    with open(big, "wb") as fh:  # sparse: 50 MB + 1 byte that cost nothing to make
        fh.write(pdf("1", "x", "1"))
        fh.truncate(50 * 1024 * 1024 + 1)
    refused(gemini_conn, str(big), "over the 50 MB per-file limit for application/pdf",
            call=lambda: run_media(tmp_path, str(good)))


def test_a_video_over_the_2_gb_file_limit(gemini_conn, tmp_path, good):
    big = good / "film.mp4"
    with open(big, "wb") as fh:
        fh.write(b"\x00\x00\x00\x18ftypmp42")
        fh.truncate(2 * 1024 ** 3 + 1)
    refused(gemini_conn, str(big), "over the 2 GB per-file limit for video/mp4",
            call=lambda: run_media(tmp_path, str(good)))


def test_an_empty_file(gemini_conn, tmp_path, good):
    (good / "empty.png").write_bytes(b"")
    refused(gemini_conn, str(good / "empty.png"), "empty", call=lambda: run_media(tmp_path, str(good),
                                                                                  mime_type={"*.png": "image/png"}))


def test_a_bad_prompt_template_field(gemini_conn, tmp_path, good):
    with pytest.raises(GeminiMediaError) as info:
        run_media(tmp_path, str(good), inline_max_bytes=10**9, prompt_override="Describe {filename}.")
    assert "{filename}" in str(info.value) and "{name}" in str(info.value)
    assert gemini_conn.stats()["jobs_created"] == 0


def test_one_file_larger_than_the_whole_storage_quota(gemini_conn, tmp_path, good):
    refused(gemini_conn, str(good / "photo-0.png"), "cannot fit", "storage_quota_bytes",
            call=lambda: run_media(tmp_path, str(good), inline_max_bytes=0, storage_quota_bytes=5000))


def test_the_mime_override_makes_an_unknown_extension_acceptable(gemini_conn, tmp_path, good):
    (good / "voice.xyz").write_bytes(b"\x00\x01 raw audio")
    summary = run_media(tmp_path, str(good), mime_type={"*.xyz": "audio/wav"})
    assert summary["results"]["records"] == 4 and summary["results"]["ok"] == 4


def test_a_retry_reattaches_reusing_the_uploads_never_uploading_or_submitting_again(gemini_conn, tmp_path, good):
    """Try 1 uploads and submits, then its worker is lost while waiting; try 2 of the same task instance
    finds the same files by sha256, builds the same requests, and reattaches to the same job."""
    from airflow.sdk.exceptions import TaskDeferred

    (good / "dup.png").write_bytes((good / "photo-0.png").read_bytes())
    kwargs = dict(model="gemini-2.5-flash", source=str(good), prompt="Describe {name}.", inline_max_bytes=0,
                  results_path=str(tmp_path / "out" / "results.jsonl"), poll_interval=0.1)
    first = GeminiBatchMediaOperator(task_id="media", deferrable=True, **kwargs)
    with pytest.raises(TaskDeferred):
        first.execute({"ti": TaskInstanceStandIn()})
    after_first = gemini_conn.admin("GET", "media")
    retry = TaskInstanceStandIn()
    retry.try_number = 2
    summary = GeminiBatchMediaOperator(task_id="media", deferrable=False, **kwargs).execute({"ti": retry})
    ledger = gemini_conn.admin("GET", "media")
    assert ledger["by_sha256"] == after_first["by_sha256"]  # nothing uploaded again, media or requests
    assert all(count == 1 for count in ledger["by_sha256"].values())
    assert gemini_conn.stats()["jobs_created"] == 1 and summary["jobs"] == [retry.pushed["job_name"]]
    assert summary["results"]["records"] == 4 and summary["results"]["ok"] == 4
    assert summary["media"]["uploaded"] == 3 and summary["media"]["deleted"] == 3
    assert gemini_conn.stats()["files"] == 2  # left: the requests JSONL and the result file (cleanup= is off)

    third = TaskInstanceStandIn()  # the task cleared after it succeeded: nothing is uploaded or submitted again
    third.try_number = 3
    again = GeminiBatchMediaOperator(task_id="media", deferrable=False, **kwargs).execute({"ti": third})
    assert again["results"] == summary["results"] and again["jobs"] == summary["jobs"]
    assert gemini_conn.admin("GET", "media")["by_sha256"] == after_first["by_sha256"]
    assert gemini_conn.stats()["jobs_created"] == 1


def test_the_wait_is_capped_before_the_media_expire_and_says_so(gemini_conn, tmp_path, good):
    """The job may not outlive its uploaded files: with an expiry margin of 48 h less 3 s, a job that never
    leaves PENDING is given up (and cancelled) after about 3 s, and the error says why."""
    from datetime import timedelta

    from airflow_provider_gemini_batch.exceptions import GeminiJobTimeoutError
    from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook

    with pytest.raises(GeminiJobTimeoutError) as info:
        run_media(tmp_path, str(good), inline_max_bytes=0, prompt_override="Describe {name}. EMULATOR:STUCK_PENDING",
                  expiry_margin=timedelta(hours=48) - timedelta(seconds=3))
    message = str(info.value)
    assert "capped so that the job could not outlive its media" in message and "expire at" in message
    assert "files/" in message and "Retry the task" in message
    (job,) = GeminiBatchHook().find_jobs()
    assert job.state == "JOB_STATE_CANCELLED"


def test_an_upload_failing_part_way_keeps_a_record_so_the_retry_reuses_and_later_deletes(gemini_conn, tmp_path, good):
    """Two uploads land, the third keeps failing (500 past the retry budget): the task fails with nothing
    submitted. The retry reuses the two by sha256, uploads the rest, and deletes all four at the end."""
    from airflow_provider_gemini_batch.exceptions import GeminiTransientError

    (good / "photo-3.png").write_bytes(png("p3", 64))
    kwargs = dict(model="gemini-2.5-flash", source=str(good), prompt="Describe {name}.", inline_max_bytes=0,
                  results_path=str(tmp_path / "out" / "results.jsonl"), poll_interval=0.1, deferrable=False,
                  upload_concurrency=1)
    previous = gemini_conn.configure(stall_seconds=0)["stall_seconds"]  # "stall_after" = let one through
    try:
        gemini_conn.script_faults("files.upload", "stall_after", "stall_after", *["500"] * 10)
        with pytest.raises(GeminiTransientError, match="gave up after 5 attempts"):
            GeminiBatchMediaOperator(task_id="media", **kwargs).execute({"ti": TaskInstanceStandIn()})
    finally:
        gemini_conn.configure(stall_seconds=previous)
    assert gemini_conn.stats()["jobs_created"] == 0
    assert gemini_conn.admin("GET", "media")["uploads"] == 2  # (the next upload, if started, met 500s too)
    _drain_upload_faults(gemini_conn)
    retry = TaskInstanceStandIn()
    retry.try_number = 2
    summary = GeminiBatchMediaOperator(task_id="media", **kwargs).execute({"ti": retry})
    ledger = gemini_conn.admin("GET", "media")["by_sha256"]
    media_digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in good.glob("*.png")}
    assert {d: ledger[d] for d in media_digests} == {d: 1 for d in media_digests}  # none uploaded twice
    assert summary["results"]["ok"] == 4 and summary["media"]["uploaded"] == 4 and summary["media"]["deleted"] == 4
    from airflow_provider_gemini_batch.core.media import sha256_hex_of_api
    from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook

    assert not [f for f in GeminiBatchHook().iter_files() if sha256_hex_of_api(f.get("sha256Hash")) in media_digests]


def _drain_upload_faults(emu):
    """Whatever 500s are still scripted (the worker may or may not have started one more upload) are
    used up by bare upload starts, which create no file."""
    import httpx

    for _ in range(12):
        reply = httpx.post(f"{emu.base_url}/upload/v1beta/files", json={"file": {}}, headers={
            "x-goog-api-key": SENTINEL_KEY, "X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start"})
        if reply.status_code == 200:
            return
    raise AssertionError("the scripted upload faults did not run out")


def test_jsonl_lines_naming_files_get_them_checked_deduplicated_and_attached(gemini_conn, tmp_path, good):
    import json

    invoice = tmp_path / "in" / "bill.dat"
    invoice.write_bytes(pdf("7", "x", "7", padding=4000))
    lines = [
        {"key": "pair", "request": {"contents": [{"role": "user", "parts": [
            {"file": str(good / "photo-0.png")}, {"file": f"file://{good}/photo-1.png"}, {"text": "Compare them."}]}]}},
        {"key": "again", "request": {"contents": [{"parts": [{"file": str(good / "photo-0.png")}, "Describe."]}]}},
        {"key": "bill", "request": {"contents": [{"parts": [
            {"file": str(invoice), "mime_type": "application/pdf"}, {"text": "Total?"}]}]}},
        {"key": "plain", "request": {"contents": [{"parts": [{"text": "No media here."}]}]}},
    ]
    requests_file = tmp_path / "requests.jsonl"
    requests_file.write_text("".join(json.dumps(line) + "\n" for line in lines))
    op = GeminiBatchMediaOperator(task_id="media", model="gemini-2.5-flash", requests_file=str(requests_file),
                                  results_path=str(tmp_path / "out" / "results.jsonl"), deferrable=False,
                                  poll_interval=0.1, inline_max_bytes=0)
    summary = op.execute({"ti": TaskInstanceStandIn()})
    rows = {r["key"]: r for r in map(json.loads, open(summary["results"]["path"]))}
    assert set(rows) == {"pair", "again", "bill", "plain"} and all(r["status"] == "ok" for r in rows.values())

    def digest(path):
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]

    assert f"[media sha256 {digest(good / 'photo-0.png')}, {digest(good / 'photo-1.png')}]" in rows["pair"]["text"]
    assert f"[media sha256 {digest(good / 'photo-0.png')}]" in rows["again"]["text"]
    assert f"[media sha256 {digest(invoice)}]" in rows["bill"]["text"]  # typed by the line's mime_type
    assert "[media" not in rows["plain"]["text"]
    ledger = gemini_conn.admin("GET", "media")["by_sha256"]
    for path in (good / "photo-0.png", good / "photo-1.png", invoice):
        assert ledger[hashlib.sha256(path.read_bytes()).hexdigest()] == 1  # photo-0: two lines, one upload
    assert summary["media"] == {"files": 3, "requests": 4, "distinct": 3, "uploaded": 3, "deleted": 3, "inline": 0}


def test_a_jsonl_line_naming_a_missing_file_is_refused_before_billing(gemini_conn, tmp_path, good):
    import json

    requests_file = tmp_path / "requests.jsonl"
    requests_file.write_text(json.dumps({"key": "k", "request": {"contents": [{"parts": [
        {"file": str(good / "nope.png")}, {"text": "?"}]}]}}) + "\n")
    refused(gemini_conn, str(good / "nope.png"), "does not exist", call=lambda: GeminiBatchMediaOperator(
        task_id="media", model="gemini-2.5-flash", requests_file=str(requests_file), deferrable=False,
        results_path=str(tmp_path / "out" / "r.jsonl")).execute({"ti": TaskInstanceStandIn()}))


def test_a_bad_request_anywhere_in_a_requests_file_is_refused_before_any_upload(gemini_conn, tmp_path, good):
    import json

    from airflow_provider_gemini_batch.exceptions import GeminiRequestError

    requests_file = tmp_path / "requests.jsonl"
    requests_file.write_text(
        json.dumps({"key": "a", "request": {"contents": [{"parts": [{"file": str(good / "photo-0.png")}]}]}}) + "\n"
        + json.dumps({"key": "b", "request": {"contents": [{"parts": [{"file": str(good / "photo-1.png")}]}],
                                              "generation_config": {"temprature": 0.2}}}) + "\n")
    with pytest.raises(GeminiRequestError) as info:
        GeminiBatchMediaOperator(task_id="media", model="gemini-2.5-flash", requests_file=str(requests_file),
                                 deferrable=False, inline_max_bytes=0,
                                 results_path=str(tmp_path / "out" / "r.jsonl")).execute({"ti": TaskInstanceStandIn()})
    assert type(info.value) is GeminiRequestError  # a request error, not a media one: the file is fine
    message = str(info.value)
    assert f"{requests_file} line 2" in message and "'temprature'" in message and "temperature" in message
    assert gemini_conn.stats()["calls"].get("files.upload", 0) == 0 and gemini_conn.stats()["jobs_created"] == 0
