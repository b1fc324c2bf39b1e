"""Results integrity at the hook/writer level, against the emulator (and the fault proxy in front of
it): atomic replacement on local paths and object storage, a file-size limit hit in a real process,
a short body with a Content-Length, the submitted-keys manifest, and GeminiBatchGetResultsOperator."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from airflow_provider_gemini_batch.exceptions import GeminiRequestError, GeminiResultsIncompleteError
from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook
from airflow_provider_gemini_batch.results_writer import write_results
from airflow_provider_gemini_batch.submitted_keys import load_manifest, manifest_path, write_manifest
from tests.conftest import ROOT, proxied_connection
from tests.fault_proxy import ShortBody, Truncate

DOWNLOAD = r"/files/[^/]+:download"


def finished_file_job(hook: GeminiBatchHook, n: int, marker: dict | None = None) -> str:
    marker = marker or {}
    body = b"".join(json.dumps({"key": f"k{i}", "request": {"contents": [{"parts": [
        {"text": f"question {i}{marker.get(i, '')}"}]}]}}).encode() + b"\n" for i in range(n))
    meta = hook.upload_file(io.BytesIO(body), mime_type="application/jsonl")
    name = hook.create_batch("gemini-2.5-flash", file_name=meta["name"])["name"]
    deadline = time.time() + 20
    while not hook.get_snapshot(name).is_terminal:
        assert time.time() < deadline, "job did not finish"
        time.sleep(0.1)
    return name


@pytest.fixture
def proxied(emu, monkeypatch):
    with proxied_connection(emu, monkeypatch) as proxy:
        yield proxy


def test_a_body_cut_short_of_its_content_length_is_retried(proxied, emu, tmp_path):
    hook = GeminiBatchHook()
    name = finished_file_job(hook, 30)
    proxied.script("GET", DOWNLOAD, ShortBody(at=0.4), times=2)
    summary = write_results(hook, name, tmp_path / "r.jsonl", [f"k{i}" for i in range(30)])
    assert summary["records"] == 30 and summary["failed"] == 0 and summary["succeeded"] == 30
    assert [s[2] for s in proxied.seen if ":download" in s[1]] == ["ShortBody", "ShortBody", 200]


def test_object_storage_results_are_replaced_whole_or_not_at_all(proxied, emu, tmp_path):
    hook = GeminiBatchHook()
    name = finished_file_job(hook, 12)
    uri = f"file://{tmp_path}/bucket/results.jsonl"
    write_results(hook, name, uri)
    first = (tmp_path / "bucket" / "results.jsonl").read_bytes()
    assert len(first.splitlines()) == 12
    (tmp_path / "bucket" / "results.jsonl").write_bytes(b'{"key":"previous"}\n')
    proxied.script("GET", DOWNLOAD, Truncate(at=0.3), times=None)
    with pytest.raises(GeminiResultsIncompleteError, match="could not be downloaded whole") as caught:
        write_results(hook, name, uri)
    assert name in str(caught.value) and uri in str(caught.value)
    assert (tmp_path / "bucket" / "results.jsonl").read_bytes() == b'{"key":"previous"}\n'
    assert sorted(p.name for p in (tmp_path / "bucket").iterdir()) == ["results.jsonl"]  # no temporaries


_UNDER_A_FILE_SIZE_LIMIT = textwrap.dedent("""
    import json, resource, signal, sys
    sys.path.insert(0, sys.argv[3])
    from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook
    from airflow_provider_gemini_batch.results_writer import write_results
    hook = GeminiBatchHook()
    hook.get_job_raw(sys.argv[1])  # warm up (imports, connection) before the limit
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG instead of a signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    try:
        write_results(hook, sys.argv[1], sys.argv[2])
        print(json.dumps({"raised": None}))
    except Exception as exc:
        print(json.dumps({"raised": type(exc).__name__, "message": str(exc),
                          "path": getattr(exc, "path", None), "job": getattr(exc, "job_name", None)}))
""")


def test_a_file_size_limit_leaves_the_previous_results_and_no_partial_file(gemini_conn, tmp_path):
    """ENOSPC's sibling EFBIG from a real kernel limit (RLIMIT_FSIZE) in a real process, no mock: the
    write fails part-way, the error is typed and names the path and the job."""
    hook = GeminiBatchHook()
    name = finished_file_job(hook, 60)  # about 40 KB of records, far over the 4 KiB limit
    target = tmp_path / "out" / "results.jsonl"
    target.parent.mkdir()
    target.write_bytes(b'{"key":"previous","status":"ok"}\n')
    done = subprocess.run([sys.executable, "-c", _UNDER_A_FILE_SIZE_LIMIT, name, str(target), str(ROOT)],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["raised"] == "GeminiResultsWriteError", (outcome, done.stderr[-2000:])
    assert "file size limit" in outcome["message"] and "untouched" in outcome["message"]
    assert outcome["path"] == str(target) and outcome["job"] == name and name in outcome["message"]
    assert target.read_bytes() == b'{"key":"previous","status":"ok"}\n'
    assert sorted(p.name for p in target.parent.iterdir()) == ["results.jsonl"]


def test_the_manifest_names_missing_keys_and_is_ignored_for_another_input(gemini_conn, tmp_path):
    hook = GeminiBatchHook()
    name = finished_file_job(hook, 5, {1: " EMULATOR:DROP_RESULT"})
    results = tmp_path / "results.jsonl"
    write_manifest(results, [f"k{i}" for i in range(5)], "abcdef0123456789")
    assert manifest_path(results).name == ".results.jsonl.submitted-keys"
    submitted = load_manifest(results, "abcdef0123")
    summary = write_results(hook, name, results, submitted)
    assert summary["missing_keys"] == ["k1"] and summary["submitted"] == 5 and summary["failed"] == 1
    assert load_manifest(results, "0000000000") is None  # another input's manifest is never used
    # No manifest at all: counted from batchStats' requestCount, keys not named.
    manifest_path(results).unlink()
    summary = write_results(hook, name, results, load_manifest(results, None))
    assert summary["keys_unknown"] and summary["submitted"] == 5 and summary["missing"] == 1
    assert summary["failed"] == 1 and "missing_keys" not in summary


def test_get_results_operator_refuses_a_directory_and_replaces_atomically(gemini_conn, tmp_path):
    from airflow_provider_gemini_batch.operators.batch import GeminiBatchGetResultsOperator

    hook = GeminiBatchHook()
    name = finished_file_job(hook, 4)
    with pytest.raises(GeminiRequestError, match="is an existing directory"):
        GeminiBatchGetResultsOperator(task_id="get", job_name=name, results_path=str(tmp_path)).execute({})
    keys = tmp_path / "keys.jsonl"
    keys.write_text("".join(json.dumps({"key": f"k{i}", "request": {"contents": [{"parts": [{"text": "x"}]}]}})
                            + "\n" for i in range(5)))  # one more key than the job had
    with pytest.raises(GeminiRequestError, match="is the input file"):
        GeminiBatchGetResultsOperator(task_id="get", job_name=name, results_path=str(keys),
                                      expected_keys_file=str(keys)).execute({})
    out = tmp_path / "got.jsonl"
    summary = GeminiBatchGetResultsOperator(task_id="get", job_name=name, results_path=str(out),
                                            expected_keys_file=str(keys)).execute({})
    assert summary["missing_keys"] == ["k4"] and summary["failed"] == 1 and len(out.read_text().splitlines()) == 4
