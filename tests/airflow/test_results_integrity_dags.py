"""Issue 13 rules 1-3 and issue 14 section 2, as a user meets them: real DAG runs (dag.test()) through
the fault proxy in front of the emulator. Each test asserts the task state, the records at results_path,
that previous results survive, the jobs created (emulator admin) and the error text."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from airflow_provider_gemini_batch.exceptions import (
    GeminiPartialFailureError,
    GeminiRequestError,
    GeminiResultsIncompleteError,
    GeminiResultsWriteError,
)
from tests.conftest import DAGS_FOLDER, proxied_connection
from tests.fault_proxy import EditJson, EditLines, Truncate, shuffled

pytestmark = pytest.mark.usefixtures("airflow_db")
DOWNLOAD = r"/files/[^/]+:download"
BATCH_GET = r"^/v1beta/batches/[^/:?]+(\?|$)"
FILE_GET = r"^/v1beta/files/batch-[^/:?]+(\?|$)"


@pytest.fixture(scope="module")
def dags(tmp_path_factory):
    root = tmp_path_factory.mktemp("integrity")
    os.environ["GB_INTEGRITY_DIR"] = str(root)
    spec = importlib.util.spec_from_file_location("gemini_results_integrity",
                                                  DAGS_FOLDER / "gemini_results_integrity.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.root = root
    return module


@pytest.fixture
def proxy(emu, monkeypatch):
    """The default connection goes through a fault proxy in front of the emulator."""
    with proxied_connection(emu, monkeypatch) as p:
        yield p


def run(dag, capfd):
    """dag.test(), and everything the task logged (Airflow's task logs go to the process's stdout)."""
    capfd.readouterr()
    dr = dag.test()
    captured = capfd.readouterr()
    return dr, {ti.task_id: ti for ti in dr.get_task_instances()}, captured.out + captured.err


def results_at(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def out(dags, dag_id: str) -> Path:
    return dags.root / dag_id / "results.jsonl"


def leftovers(directory: Path) -> list[str]:
    """Temporaries beside the results: none may survive a failed or finished write."""
    return sorted(p.name for p in directory.glob(".*tmp-*")) + sorted(p.name for p in directory.glob(".*probe*"))


def summary_of(ti) -> dict:
    return ti.xcom_pull(task_ids=ti.task_id, key="return_value")


# ---------------------------------------------------------------------------------------------- rule 1
def test_a_clean_close_truncation_is_retried_and_then_succeeds(proxy, dags, emu, capfd):
    proxy.script("GET", DOWNLOAD, Truncate(at=0.5), times=2)  # no Content-Length: only sizeBytes tells
    dr, tis, log = run(dags.ten, capfd)
    assert dr.state == "success"
    records = results_at(out(dags, "gbi_ten"))
    assert sorted(r["key"] for r in records) == [f"k{i}" for i in range(10)]
    assert all(r["status"] == "ok" for r in records)
    assert "the transfer ended early" in log and emu.stats()["jobs_created"] == 1
    assert leftovers(out(dags, "gbi_ten").parent) == []


def test_every_download_cut_fails_and_the_previous_results_are_untouched(proxy, dags, emu, capfd, task_errors):
    dr, _, _ = run(dags.ten, capfd)  # the morning run: 10 records
    assert dr.state == "success"
    before = out(dags, "gbi_ten").read_bytes()
    assert len(before.splitlines()) == 10
    proxy.script("GET", DOWNLOAD, Truncate(at=0.5), times=None)  # the same day's re-run: every attempt cut
    dr, tis, log = run(dags.ten, capfd)
    assert dr.state == "failed" and tis["submit"].state == "failed"
    assert out(dags, "gbi_ten").read_bytes() == before  # not a 0-byte file, not a partial one
    assert leftovers(out(dags, "gbi_ten").parent) == []
    assert "GeminiResultsIncompleteError" in log and "could not be downloaded whole" in log
    assert "was left as it was" in log
    assert emu.stats()["jobs_created"] == 2  # one per run, none extra for the cut downloads
    job = emu.stats()["jobs"][0]["name"]  # newest first: the re-run's
    error = task_errors.expect("submit", GeminiResultsIncompleteError, f"The results of {job} could not be downloaded whole",
                               "(the transfer ended early)", f"results_path '{out(dags, 'gbi_ten')}' was left as it was",
                               "retry the task to download again")
    assert error.job_name == job and error.path == str(out(dags, "gbi_ten"))


def test_fewer_result_lines_than_submitted_fail_naming_the_missing_key(proxy, dags, emu, capfd, task_errors):
    dr, tis, log = run(dags.one_dropped, capfd)  # the result file itself lacks k4's line
    assert dr.state == "failed"
    records = results_at(out(dags, "gbi_one_dropped"))
    assert sorted(r["key"] for r in records) == [f"k{i}" for i in range(10) if i != 4]  # written, nothing lost
    assert "1 of 10 requests failed" in log and "1 missing (k4)" in log
    assert "transient failure" not in log  # the download matched sizeBytes: the file itself is short
    task_errors.expect("submit", GeminiPartialFailureError, "1 of 10 requests failed", "1 missing (k4)",
                       "set max_failed_requests or max_failed_ratio", str(out(dags, "gbi_one_dropped")))
    assert emu.stats()["jobs_created"] == 1


def test_lines_dropped_in_transit_with_no_size_to_check_are_still_caught(proxy, dags, emu, capfd):
    # Another fault of the same kind: the proxy drops two lines and hides the file's sizeBytes.
    proxy.script("GET", FILE_GET, EditJson(edit=lambda d: {k: v for k, v in d.items() if k != "sizeBytes"}),
                 times=None)
    proxy.script("GET", DOWNLOAD, EditLines(edit=lambda lines: lines[2:]), times=None)
    dr, tis, log = run(dags.ten_tolerant, capfd)  # two failures tolerated: 2 missing is within
    assert dr.state == "success"
    results = summary_of(tis["submit"])["results"]
    assert results["missing"] == 2 and results["failed"] == 2 and results["succeeded"] == 8
    assert len(results_at(out(dags, "gbi_ten_tolerant"))) == 8
    assert "gave 8 records for 10 requests" in log  # retried as a short download before being judged


def test_a_succeeded_job_with_no_output_fails_and_writes_nothing(proxy, dags, emu, capfd, task_errors):
    def no_output(body):
        (body.get("metadata") or {}).pop("output", None)
        body.pop("response", None)
        return body

    proxy.script("GET", BATCH_GET, EditJson(edit=no_output), times=None)
    out(dags, "gbi_ten").parent.mkdir(parents=True, exist_ok=True)
    out(dags, "gbi_ten").write_bytes(b'{"key":"earlier","status":"ok"}\n')
    dr, tis, log = run(dags.ten, capfd)
    assert dr.state == "failed"
    assert out(dags, "gbi_ten").read_bytes() == b'{"key":"earlier","status":"ok"}\n'  # no empty file over it
    assert "ended JOB_STATE_SUCCEEDED but its results hold no records for its 10 requests" in log
    error = task_errors.expect("submit", GeminiResultsIncompleteError,
                               "ended JOB_STATE_SUCCEEDED but its results hold no records for its 10 requests",
                               f"results_path '{out(dags, 'gbi_ten')}' was left as it was", "Retry the task")
    assert error.job_name == emu.stats()["jobs"][0]["name"]
    assert emu.stats()["jobs_created"] == 1


def _garble(lines):
    """Line 3 is no longer JSON, line 6 no longer UTF-8; both keep their length (sizeBytes still agrees)."""
    lines = list(lines)
    lines[2] = b"#" + lines[2][1:]
    at = lines[5].index(b"question")
    lines[5] = lines[5][:at] + b"\xff\xfe" + lines[5][at + 2:]
    return lines


def test_non_json_and_non_utf8_lines_count_as_failed_and_are_named(proxy, dags, emu, capfd, task_errors):
    proxy.script("GET", DOWNLOAD, EditLines(edit=_garble), times=None)
    dr, tis, log = run(dags.ten, capfd)
    assert dr.state == "failed"
    records = results_at(out(dags, "gbi_ten"))
    assert len(records) == 10  # every line is written, the unreadable ones as error records
    bad = [r for r in records if r.get("unparseable")]
    assert [r["error"]["status"] for r in bad] == ["UNPARSEABLE", "UNPARSEABLE"]
    assert "is not valid JSON" in bad[0]["error"]["message"] and bad[0]["key"] is None
    assert "is not valid UTF-8" in bad[1]["error"]["message"] and bad[1]["key"]  # key recovered, not trusted
    assert "2 of 10 requests failed" in log and "2 unparseable lines (3, 6)" in log
    task_errors.expect("submit", GeminiPartialFailureError, "2 of 10 requests failed", "2 unparseable lines (3, 6)",
                       "result line 3 is not valid JSON", "result line 6 is not valid UTF-8")


def test_an_error_line_fails_even_when_batch_stats_call_it_a_success(proxy, dags, emu, capfd, task_errors):
    def all_succeeded(body):
        stats = (body.get("metadata") or {}).get("batchStats")
        if stats and stats.get("failedRequestCount"):
            stats["successfulRequestCount"] = stats["requestCount"]
            stats.pop("failedRequestCount")
        return body

    proxy.script("GET", BATCH_GET, EditJson(edit=all_succeeded), times=None)
    dr, tis, log = run(dags.one_failing, capfd)
    assert dr.state == "failed"
    records = {r["key"]: r for r in results_at(out(dags, "gbi_one_failing"))}
    assert records["k3"]["status"] == "error" and len(records) == 10
    # the task's error (left in XCom before raising) names the request and its error, once
    error = tis["submit"].xcom_pull(task_ids="submit", key="return_value")["error"]
    assert error.startswith("GeminiPartialFailureError: ") and "1 of 10 requests failed" in error
    assert error == f"GeminiPartialFailureError: {task_errors.expect('submit', GeminiPartialFailureError)}"
    assert "the failed request: 'k3' (400 INVALID_ARGUMENT: " in error and error.count("'k3'") == 1


def test_foreign_and_duplicate_records_are_named(proxy, dags, emu, capfd):
    def foreign_and_twice(lines):
        lines = list(lines)
        lines[0] = lines[0].replace(b'"key": "k', b'"key": "x', 1).replace(b'"key":"k', b'"key":"x', 1)
        return lines + [lines[1]]

    proxy.script("GET", FILE_GET, EditJson(edit=lambda d: {k: v for k, v in d.items() if k != "sizeBytes"}),
                 times=None)
    proxy.script("GET", DOWNLOAD, EditLines(edit=foreign_and_twice), times=None)
    dr, tis, log = run(dags.ten_tolerant, capfd)
    assert dr.state == "success"  # 2 failed (one answered for a foreign key, one twice): within max 2
    results = summary_of(tis["submit"])["results"]
    assert results["foreign"] == 1 and results["foreign_keys"][0].startswith("x")
    assert results["duplicate_keys"] == 1 and len(results["duplicated_keys"]) == 1
    assert results["failed"] == 2 and results["records"] == 11


def test_input_removed_while_the_job_ran(proxy, dags, emu, capfd):
    source = dags.root / "inputs" / "input.jsonl"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text("".join(json.dumps({"key": f"f{i}", "request": {"contents": [{"parts": [
        {"text": f"q{i}{' EMULATOR:DROP_RESULT' if i == 2 else ''}"}]}]}}) + "\n" for i in range(6)))
    emu.configure(pending_seconds=1.0)

    def remove_once_submitted():
        for _ in range(200):
            if emu.stats()["jobs"]:
                source.unlink()
                return
            time.sleep(0.05)

    thread = threading.Thread(target=remove_once_submitted)
    thread.start()
    try:
        dr, tis, log = run(dags.from_file, capfd)
    finally:
        thread.join()
    assert not source.exists()
    assert dr.state == "success"  # one missing result, within max_failed_requests=1
    results = summary_of(tis["submit"])["results"]
    assert results["missing_keys"] == ["f2"] and results["submitted"] == 6  # named from the manifest
    assert len(results_at(out(dags, "gbi_from_file"))) == 5
    assert "FileNotFoundError" not in log and emu.stats()["jobs_created"] == 1


# ---------------------------------------------------------------------------------------------- rule 2
@pytest.fixture
def tiny_disk(dags):
    """A 16 KiB tmpfs where the results go; skipped where mounting is not allowed (the subprocess
    RLIMIT_FSIZE test in tests/integration/test_results_integrity.py covers that case)."""
    where = dags.root / "tiny"
    where.mkdir(exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(where)],
                             capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], capture_output=True)


def test_a_full_disk_leaves_no_partial_file_and_the_previous_results(proxy, dags, emu, tiny_disk, capfd, task_errors):
    previous = tiny_disk / "results.jsonl"
    previous.write_bytes(b'{"key":"yesterday","status":"ok"}\n')
    dr, tis, log = run(dags.full_disk, capfd)
    assert dr.state == "failed"
    assert previous.read_bytes() == b'{"key":"yesterday","status":"ok"}\n'
    assert leftovers(tiny_disk) == []
    assert "GeminiResultsWriteError" in log and "the disk is full" in log
    assert str(previous) in log and emu.stats()["jobs"][0]["name"] in log  # names the path and the job
    error = task_errors.expect("submit", GeminiResultsWriteError, f"Writing results to '{previous}'", "the disk is full",
                               "is untouched and no partial file was left", "free space there or choose another results_path")
    assert (error.path, error.job_name, error.errno_code) == (str(previous), emu.stats()["jobs"][0]["name"], 28)
    assert emu.stats()["jobs_created"] == 1


@pytest.fixture
def small_mount(dags):
    """A tmpfs the test may remount read-only; skipped where mounting is not allowed."""
    where = dags.root / "ro"
    where.mkdir(exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], capture_output=True)


def test_a_location_turned_read_only_during_the_wait_is_a_typed_error(proxy, dags, emu, small_mount, capfd, task_errors):
    """Permission-like failures at write time (root ignores file modes, so a read-only remount stands in)."""
    previous = small_mount / "results.jsonl"
    previous.write_bytes(b'{"key":"yesterday","status":"ok"}\n')
    emu.configure(pending_seconds=1.0)

    def remount_once_submitted():
        for _ in range(200):
            if emu.stats()["jobs"]:
                subprocess.run(["mount", "-o", "remount,ro", str(small_mount)], check=True)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=remount_once_submitted)
    thread.start()
    try:
        dr, tis, log = run(dags.read_only, capfd)
    finally:
        thread.join()
    assert dr.state == "failed"
    assert previous.read_bytes() == b'{"key":"yesterday","status":"ok"}\n' and leftovers(small_mount) == []
    assert "GeminiResultsWriteError" in log and "the filesystem is read-only" in log
    assert str(previous) in log and emu.stats()["jobs"][0]["name"] in log
    error = task_errors.expect("submit", GeminiResultsWriteError, f"Writing results to '{previous}'",
                               "the filesystem is read-only", "choose a writable results_path")
    assert (error.path, error.job_name, error.errno_code) == (str(previous), emu.stats()["jobs"][0]["name"], 30)
    assert emu.stats()["jobs_created"] == 1


# ---------------------------------------------------------------------------------------------- rule 3
def _nothing_billed(emu):
    stats = emu.stats()
    assert stats["jobs_created"] == 0 and stats["calls"].get("files.upload", 0) == 0
    assert stats["calls"].get("batches.create", 0) == 0


def test_results_path_equal_to_the_input_is_refused_before_billing(proxy, dags, emu, capfd, task_errors):
    same = dags.root / "inputs" / "same.jsonl"
    same.parent.mkdir(parents=True, exist_ok=True)
    content = json.dumps({"key": "a", "request": {"contents": [{"parts": [{"text": "hi"}]}]}}) + "\n"
    same.write_text(content)
    dr, tis, log = run(dags.results_is_input, capfd)
    assert dr.state == "failed" and same.read_text() == content
    assert "is the input file" in log and "would destroy the input" in log
    error = task_errors.expect("submit", GeminiRequestError, f"results_path: '{same}' is the input file",
                               "would destroy the input", "choose another results_path")
    assert error.location == "results_path"
    _nothing_billed(emu)


def test_results_path_naming_a_directory_is_refused_before_billing(proxy, dags, emu, capfd, task_errors):
    (dags.root / "a-directory").mkdir(exist_ok=True)
    dr, tis, log = run(dags.results_is_dir, capfd)
    assert dr.state == "failed" and (dags.root / "a-directory").is_dir()
    assert "is an existing directory; results_path names the file to write" in log
    error = task_errors.expect("submit", GeminiRequestError, f"results_path: '{dags.root / 'a-directory'}' is an existing",
                               f"e.g. {dags.root / 'a-directory' / 'results.jsonl'}")
    assert error.location == "results_path"
    _nothing_billed(emu)


def test_an_unknown_scheme_is_refused_before_billing(proxy, dags, emu, capfd, task_errors):
    dr, tis, log = run(dags.unknown_scheme, capfd)
    assert dr.state == "failed" and "'nosuch://bucket/results.jsonl' cannot be opened" in log
    error = task_errors.expect("submit", GeminiRequestError, "results_path: 'nosuch://bucket/results.jsonl' cannot be",
                               "Unsupported filesystem: 'nosuch'", "use a local path or an object storage URI")
    assert error.location == "results_path"
    _nothing_billed(emu)


# ---------------------------------------------------------------------------------- issue 14, section 2
def _strip_and_reverse_inline(body):
    output = (body.get("metadata") or {}).get("output") or {}
    items = (output.get("inlinedResponses") or {}).get("inlinedResponses")
    if items:
        for item in items:
            item.pop("metadata", None)
        items.reverse()
    return body


def test_inline_responses_without_keys_are_never_matched_by_position(proxy, dags, emu, capfd, task_errors):
    proxy.script("GET", BATCH_GET, EditJson(edit=_strip_and_reverse_inline), times=None)
    dr, tis, log = run(dags.inline_keyed, capfd)
    assert dr.state == "failed"
    records = results_at(out(dags, "gbi_inline_keyed"))
    assert len(records) == 6 and all(r["key"] is None for r in records)  # no answer under a wrong key
    assert all(r["error"]["status"] == "UNKEYED" and r["text"] for r in records)  # answers kept
    assert "6 unkeyed records" in log and "use file input (input_mode='file')" in log
    task_errors.expect("submit", GeminiPartialFailureError, "6 of 6 requests failed", "6 unkeyed records",
                       "never matched by position: use file input (input_mode='file')")
    assert emu.stats()["calls"].get("files.upload", 0) == 0  # it really went inline


def test_keyed_requests_go_as_a_file_and_survive_reordering(proxy, dags, emu, capfd):
    proxy.script("GET", BATCH_GET, EditJson(edit=_strip_and_reverse_inline), times=None)  # would hurt inline
    proxy.script("GET", DOWNLOAD, EditLines(edit=shuffled(7)), times=None)
    dr, tis, log = run(dags.auto_keyed, capfd)
    assert dr.state == "success"
    records = results_at(out(dags, "gbi_auto_keyed"))
    assert sorted(r["key"] for r in records) == [f"k{i}" for i in range(6)]
    for r in records:  # the fake model's answer quotes its prompt: each answer is under its own key
        assert f"question {r['key'][1:]}" in r["text"], r
    assert emu.stats()["calls"]["files.upload"] == 1


@pytest.mark.parametrize("n", [2000, pytest.param(20000, marks=pytest.mark.slow)])
def test_many_keyed_requests_each_answer_under_its_own_key_whatever_the_order(proxy, dags, emu, capfd, n):
    source = dags.root / "inputs" / f"many-{n}.jsonl"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text("".join(json.dumps({"key": f"row-{i:05d}", "request": {"contents": [{"parts": [
        {"text": f"prompt number {i}"}]}]}}) + "\n" for i in range(n)))
    proxy.script("GET", DOWNLOAD, EditLines(edit=shuffled(3)), times=None)  # result lines in any order
    dr, tis, log = run(getattr(dags, f"many_{n // 1000}k"), capfd)
    assert dr.state == "success"
    records = results_at(out(dags, f"gbi_many_{n}"))
    assert len(records) == n and len({r["key"] for r in records}) == n
    for r in records:  # the fake model's answer quotes its prompt: every answer sits under its own key
        assert r["status"] == "ok" and r["text"].endswith(f"to: prompt number {int(r['key'][4:])}"), r
    summary = summary_of(tis["submit"])["results"]
    assert summary["submitted"] == n and summary["succeeded"] == n and summary["failed"] == 0
    assert emu.stats()["jobs_created"] == 1
