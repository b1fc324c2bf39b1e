"""GeminiBatchHook against the emulator over real HTTP: every job and file call, retries, typed errors."""

import io
import json
import logging
import time

import pytest

from airflow_provider_gemini_batch.exceptions import (
    GeminiConnectionError,
    GeminiInvalidRequestError,
    GeminiModelError,
    GeminiNotFoundError,
    GeminiRequestError,
    GeminiTransientError,
    GeminiUnreachableError,
)
from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook
from tests.conftest import SENTINEL_KEY

REQ = {"contents": [{"parts": [{"text": "hello"}], "role": "user"}]}


def inline(n=2):
    return [{"request": REQ, "metadata": {"key": f"k{i}"}} for i in range(n)]


def wait_terminal(hook, name, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        snap = hook.get_snapshot(name)
        if snap.is_terminal:
            return snap
        time.sleep(0.1)
    raise AssertionError("not terminal")


def test_test_connection_ok_and_wrong_key(gemini_conn, monkeypatch, tmp_path):
    ok, message = GeminiBatchHook().test_connection()
    assert ok and "accepted" in message
    from airflow_provider_gemini_batch.emulator import EmulatorProcess
    with EmulatorProcess(api_key="right-key", state_dir=str(tmp_path / "s")) as strict:
        monkeypatch.setenv("AIRFLOW_CONN_STRICT", json.dumps({"conn_type": "gemini", "host": strict.base_url,
                                                              "password": SENTINEL_KEY}))
        ok, message = GeminiBatchHook("strict").test_connection()
    assert not ok and "API key not valid" in message and SENTINEL_KEY not in message


def test_unreachable_host_and_missing_connection(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DEAD", json.dumps({"conn_type": "gemini", "host": "http://127.0.0.1:9",
                                                        "password": SENTINEL_KEY, "extra": {"max_retries": 1,
                                                        "retry_max_wait_seconds": 0.05}}))
    ok, message = GeminiBatchHook("dead").test_connection()
    assert not ok and "cannot reach http://127.0.0.1:9" in message and SENTINEL_KEY not in message
    with pytest.raises(GeminiUnreachableError, match="gave up after 2 attempts"):
        GeminiBatchHook("dead").get_job_raw("batches/x")
    with pytest.raises(GeminiConnectionError, match="'nowhere' is not defined"):
        GeminiBatchHook("nowhere").get_job_raw("batches/x")


def test_empty_key_names_the_connection(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_EMPTY", json.dumps({"conn_type": "gemini", "host": "http://127.0.0.1:9"}))
    with pytest.raises(GeminiConnectionError, match="'empty' has no API key"):
        GeminiBatchHook("empty").get_job_raw("batches/x")


def test_create_get_list_cancel_delete(gemini_conn):
    hook = GeminiBatchHook()
    op = hook.create_batch("gemini-2.5-flash", requests=inline(3), display_name="hook-inline")
    assert op["name"].startswith("batches/")
    job = hook.get_job(op["name"])  # the SDK's BatchJob
    assert job.display_name == "hook-inline"
    snap = wait_terminal(hook, op["name"])
    assert snap.state == "JOB_STATE_SUCCEEDED" and snap.counts()["succeeded"] == 3
    other = hook.create_batch("gemini-2.5-flash", requests=inline(1), display_name="hook-other")
    assert [j.name for j in hook.find_jobs(display_name_prefix="hook-")] == [other["name"], op["name"]]
    assert [j.name for j in hook.find_jobs(states=["BATCH_STATE_SUCCEEDED"])] == [op["name"]]
    hook.cancel_job(other["name"])
    assert hook.get_snapshot(other["name"]).state == "JOB_STATE_CANCELLED"
    hook.cancel_job(other["name"])  # cancelling a cancelled job again is success (a retried cancel)
    with pytest.raises(GeminiInvalidRequestError, match="terminal"):
        hook.cancel_job(op["name"])  # but a finished job cannot be cancelled
    assert hook.delete_job(op["name"]) is True
    assert hook.delete_job(op["name"]) is False  # already gone: fine by default
    with pytest.raises(GeminiNotFoundError):
        hook.delete_job(op["name"], missing_ok=False)


def test_embeddings_batch_inline_and_file(gemini_conn):
    hook = GeminiBatchHook()
    reqs = [{"request": {"content": {"parts": [{"text": "t"}]}, "outputDimensionality": 4}, "metadata": {"key": "e"}}]
    snap = wait_terminal(hook, hook.create_batch("gemini-embedding-001", embeddings=True, requests=reqs)["name"])
    assert snap.state == "JOB_STATE_SUCCEEDED"
    data = b'{"key": "f", "request": {"content": {"parts": [{"text": "t"}]}}}\n'
    meta = hook.upload_file([data], display_name="emb", mime_type="application/jsonl")
    snap = wait_terminal(hook, hook.create_batch("gemini-embedding-001", embeddings=True, file_name=meta["name"])["name"])
    out = io.BytesIO()
    hook.download_file(snap.responses_file, out)
    assert json.loads(out.getvalue())["key"] == "f"


def test_model_checks_before_anything_billable(gemini_conn):
    hook = GeminiBatchHook()
    with pytest.raises(GeminiModelError, match="unknown model models/gemini-9-ultra"):
        hook.check_model("gemini-9-ultra", embeddings=False)
    with pytest.raises(GeminiModelError, match="is an embeddings model"):
        hook.check_model("gemini-embedding-001", embeddings=False)
    with pytest.raises(GeminiModelError, match="not an embeddings model"):
        hook.check_model("gemini-2.5-flash", embeddings=True)
    assert gemini_conn.stats()["jobs_created"] == 0


def test_bad_names_fail_before_any_call(gemini_conn):
    hook = GeminiBatchHook()
    with pytest.raises(GeminiRequestError, match="expected 'batches/<id>'"):
        hook.get_snapshot("123456")
    with pytest.raises(GeminiRequestError, match="expected 'files/<id>'"):
        hook.download_file("batch-1", io.BytesIO())
    assert sum(gemini_conn.stats()["calls"].values()) == 0


def test_lost_create_reply_is_not_duplicated(gemini_conn):
    gemini_conn.script_faults("batches.create", "drop_after")
    op = GeminiBatchHook().create_batch("gemini-2.5-flash", requests=inline(1), display_name="lost-reply")
    stats = gemini_conn.stats()
    assert stats["jobs_created"] == 1 and stats["calls"]["batches.create"] == 1
    assert op["name"] == stats["jobs"][0]["name"]


def test_create_rejected_with_5xx_is_retried_once_nothing_exists(gemini_conn):
    gemini_conn.script_faults("batches.create", "503", "429")
    GeminiBatchHook().create_batch("gemini-2.5-flash", requests=inline(1), display_name="retried")
    stats = gemini_conn.stats()
    assert stats["jobs_created"] == 1 and stats["calls"]["batches.create"] == 3


def test_transient_faults_are_retried_then_give_up(gemini_conn):
    hook = GeminiBatchHook()
    name = hook.create_batch("gemini-2.5-flash", requests=inline(1))["name"]
    gemini_conn.script_faults("batches.get", "429", "500", "503", "drop")
    assert hook.get_snapshot(name).name == name
    gemini_conn.script_faults("batches.get", *["503"] * 5)
    with pytest.raises(GeminiTransientError, match="gave up after 5 attempts"):
        hook.get_snapshot(name)


def test_client_errors_are_never_retried(gemini_conn):
    hook = GeminiBatchHook()
    with pytest.raises(GeminiNotFoundError):
        hook.get_snapshot("batches/does-not-exist")
    assert gemini_conn.stats()["calls"]["batches.get"] == 1


def test_upload_resumes_a_dropped_chunk_and_round_trips(gemini_conn, tmp_path):
    hook = GeminiBatchHook()
    src = tmp_path / "big.jsonl"
    line = json.dumps({"key": "k", "request": REQ}).encode() + b"\n"
    src.write_bytes(line * (20 * 1024 * 1024 // len(line)))  # ~20 MiB: three 8 MiB chunks
    gemini_conn.script_faults("files.upload.chunk", "drop_after")
    meta = hook.upload_file(src)
    assert int(meta["sizeBytes"]) == src.stat().st_size and meta["mimeType"] == "application/jsonl"
    calls = gemini_conn.stats()["calls"]
    assert calls["files.upload"] == 1  # one session, resumed, not restarted
    out = tmp_path / "back.jsonl"
    # the emulator lets any file be downloaded, so the round trip proves the bytes arrived intact
    assert hook.download_file(meta["name"], out) == src.stat().st_size
    assert out.read_bytes() == src.read_bytes()


def test_download_retries_a_cut_transfer(gemini_conn, tmp_path):
    hook = GeminiBatchHook()
    meta = hook.upload_file(io.BytesIO(b"x" * 3_000_000), mime_type="application/jsonl")
    gemini_conn.script_faults("files.download", "drop")
    out = tmp_path / "o.bin"
    assert hook.download_file(meta["name"], out) == 3_000_000 and out.stat().st_size == 3_000_000
    assert gemini_conn.stats()["calls"]["files.download"] == 2


def test_files_get_list_delete(gemini_conn):
    hook = GeminiBatchHook()
    meta = hook.upload_file(io.BytesIO(b"{}\n"), display_name="tiny", mime_type="application/jsonl")
    assert hook.get_file(meta["name"])["displayName"] == "tiny"
    assert meta["name"] in {f["name"] for f in hook.iter_files(page_size=1)}
    assert hook.delete_file(meta["name"]) is True and hook.delete_file(meta["name"]) is False


def test_key_never_in_logs_reprs_or_errors(gemini_conn, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    hook = GeminiBatchHook()
    texts = [repr(hook), repr(hook.settings), str(hook.settings)]
    gemini_conn.script_faults("batches.get", "503")
    name = hook.create_batch("gemini-2.5-flash", requests=inline(1))["name"]
    hook.get_snapshot(name)
    with pytest.raises(GeminiNotFoundError, match="Getting batches/missing failed: HTTP 404 NOT_FOUND") as missing:
        hook.get_snapshot("batches/missing")
    with pytest.raises(GeminiModelError, match="model: unknown model models/nope-model") as unknown:
        hook.check_model("nope-model", False)
    for raised in (missing.value, unknown.value):  # both raised (so their text is really checked below)
        texts += [str(raised), repr(raised)]
    texts.append(caplog.text)
    assert all(SENTINEL_KEY not in t for t in texts)
    assert "503" in caplog.text  # the retry was logged, without the key


def test_lost_reply_to_the_final_chunk_returns_the_file_once(gemini_conn):
    hook = GeminiBatchHook()
    gemini_conn.script_faults("files.upload.chunk", "drop_after")  # the only chunk is also the last
    meta = hook.upload_file(io.BytesIO(b'{"a": 1}\n' * 10), mime_type="application/jsonl")
    assert meta["name"].startswith("files/") and gemini_conn.stats()["files"] == 1


def test_results_download_cut_mid_stream_starts_over(gemini_conn, tmp_path):
    from airflow_provider_gemini_batch.results_writer import write_results

    hook = GeminiBatchHook()
    meta = hook.upload_file(io.BytesIO(b"".join(json.dumps({"key": f"k{i}", "request": REQ}).encode() + b"\n"
                                                for i in range(50))), mime_type="application/jsonl")
    name = hook.create_batch("gemini-2.5-flash", file_name=meta["name"])["name"]
    wait_terminal(hook, name)
    gemini_conn.script_faults("files.download", "drop")
    summary = write_results(hook, name, tmp_path / "r.jsonl")
    assert summary["records"] == 50 and summary["duplicate_keys"] == 0 and summary["missing"] == 0
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 50


def test_file_over_two_gigabytes_is_refused_before_the_upload(gemini_conn, tmp_path):
    from airflow_provider_gemini_batch.exceptions import GeminiBatchTooLargeError

    big = tmp_path / "sparse.jsonl"
    with open(big, "wb") as fh:
        fh.truncate(2 * 1024 ** 3 + 1)  # sparse: no disk, no time
    with pytest.raises(GeminiBatchTooLargeError, match="over the 2 GB"):
        GeminiBatchHook().upload_file(big)
    assert gemini_conn.stats()["calls"].get("files.upload", 0) == 0
