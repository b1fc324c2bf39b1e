"""The pure core of the results verdict, and the storage helpers on a real local filesystem."""

from __future__ import annotations

import json
import os

import pytest

from airflow_provider_gemini_batch.core.results import (
    KeyDigests,
    ResultTally,
    describe_problems,
    iter_file_records,
    iter_inline_records,
)
from airflow_provider_gemini_batch.exceptions import GeminiRequestError, GeminiResultsWriteError
from airflow_provider_gemini_batch.storage import atomic_writer, check_results_location, storage_error

OK = {"candidates": [{"content": {"parts": [{"text": "fine"}]}}]}


def line(key, item=None):
    return json.dumps({"key": key, **(item or {"response": OK})}).encode()


def tally_of(lines, expected=None):
    tally = ResultTally(expected=KeyDigests(expected) if expected is not None else None)
    for record in iter_file_records(lines):
        tally.add(record)
    return tally


def test_each_submitted_request_needs_exactly_one_ok_record():
    lines = [line("a"), line("b", {"error": {"code": 500, "message": "x"}}), line("c"), line("c"), line("zz"),
             b"[1, 2]", b'{"key": "d", "response": {"candidates": []}, "x": "\xff"}']
    submitted = ["a", "b", "c", "d", "e"]
    summary = tally_of(lines, submitted).summary(submitted_keys=submitted)
    # a ok; b error line; c twice; d unreadable (key recovered); e missing; zz foreign; [1,2] not an object
    assert (summary["submitted"], summary["succeeded"], summary["failed"]) == (5, 1, 4)
    assert summary["missing_keys"] == ["e"] and summary["duplicated_keys"] == ["c"]
    assert summary["foreign"] == 1 and summary["foreign_keys"] == ["zz"]
    assert summary["unparseable"] == 2 and summary["unparseable_lines"] == [6, 7]
    problems = describe_problems(summary)
    assert "1 missing (e)" in problems and "1 duplicate records (c)" in problems
    assert "1 records for keys never submitted (zz)" in problems and "2 unparseable lines (6, 7)" in problems


def test_without_the_submitted_keys_the_count_still_decides():
    summary = tally_of([line("a"), line("b")]).summary(submitted=3)
    assert (summary["submitted"], summary["succeeded"], summary["failed"], summary["missing"]) == (3, 2, 1, 1)
    assert "missing_keys" not in summary


def test_an_inline_response_is_never_keyed_by_position():
    records = list(iter_inline_records([{"response": OK}, {"response": OK, "metadata": {"key": "k1"}}]))
    assert records[0]["key"] is None and records[0]["position"] == 0 and records[0]["error"]["status"] == "UNKEYED"
    tally = ResultTally(expected=KeyDigests(["k0", "k1"]))
    for record in records:
        tally.add(record)
    summary = tally.summary(submitted_keys=["k0", "k1"])
    assert summary["unkeyed"] == 1 and summary["failed"] == 1 and summary["missing_keys"] == ["k0"]
    assert "use file input (input_mode='file')" in describe_problems(summary)


def test_key_digests_are_a_compact_exact_set():
    keys = KeyDigests(f"k{i}" for i in range(1000))
    assert len(keys) == 1000 and "k999" in keys and "k1000" not in keys


def test_atomic_writer_publishes_only_a_complete_file(tmp_path):
    target = tmp_path / "r.jsonl"
    target.write_bytes(b"old\n")
    with pytest.raises(RuntimeError):
        with atomic_writer(target, "batches/j") as out:
            out.write(b"half")
            raise RuntimeError("cut")
    assert target.read_bytes() == b"old\n" and os.listdir(tmp_path) == ["r.jsonl"]
    with atomic_writer(target, "batches/j") as out:
        out.write(b"new\n")
    assert target.read_bytes() == b"new\n" and os.listdir(tmp_path) == ["r.jsonl"]


def test_storage_errors_are_typed_and_name_path_and_job():
    error = storage_error(OSError(28, "No space left on device"), "/data/r.jsonl", "batches/j", "Writing results to")
    assert isinstance(error, GeminiResultsWriteError) and error.path == "/data/r.jsonl" and error.errno_code == 28
    assert "the disk is full" in str(error) and "batches/j" in str(error) and "/data/r.jsonl" in str(error)


@pytest.mark.parametrize("path,message", [
    ("{tmp}", "is an existing directory"),
    ("{tmp}/", "names a directory"),
    ("{tmp}/in.jsonl", "is the input file"),
    ("file://{tmp}/in.jsonl", "is the input file"),
    ("nosuch://bucket/r.jsonl", "cannot be opened"),
    ("/proc/no-such-dir/r.jsonl", "is not writable"),
])
def test_results_locations_that_must_fail_later_are_refused_now(tmp_path, path, message):
    (tmp_path / "in.jsonl").write_text("{}\n")
    with pytest.raises(GeminiRequestError, match=message) as caught:
        check_results_location(path.format(tmp=tmp_path), input_file=str(tmp_path / "in.jsonl"))
    assert caught.value.location == "results_path"
    assert sorted(os.listdir(tmp_path)) == ["in.jsonl"]  # no probe left behind
