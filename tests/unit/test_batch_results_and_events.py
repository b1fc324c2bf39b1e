import json
import re

import pytest

from airflow_provider_gemini_batch.core.events import STATUS_ERROR, STATUS_TERMINAL, STATUS_TIMEOUT, judge_event
from airflow_provider_gemini_batch.core.results import ResultTally, iter_file_records, iter_inline_records, to_record
from airflow_provider_gemini_batch.exceptions import (
    GeminiJobCancelledError,
    GeminiJobExpiredError,
    GeminiJobFailedError,
    GeminiJobTimeoutError,
    GeminiPartialFailureError,
    GeminiWaitError,
)

RESPONSE = {"candidates": [{"content": {"parts": [{"text": "Hello"}, {"text": " world"}]}}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}}


def test_records_for_each_result_form():
    ok = to_record("a", {"response": RESPONSE})
    assert ok["status"] == "ok" and ok["text"] == "Hello world" and ok["usage"]["totalTokenCount"] == 5
    err = to_record("b", {"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}})
    assert err == {"key": "b", "status": "error", "error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}
    emb = to_record("c", {"response": {"embedding": {"values": [0.1, 0.2]}}})
    assert emb == {"key": "c", "status": "ok", "embedding": [0.1, 0.2]}


def test_file_and_inline_records_and_tally():
    lines = [json.dumps({"key": k, "response": RESPONSE}).encode() for k in ("b", "a", "a")] + [b"garbage"]
    tally = ResultTally()
    for record in iter_file_records(lines):
        tally.add(record)
    summary = tally.summary(submitted_keys=["a", "b", "c"])
    assert summary["records"] == 4 and summary["ok"] == 3 and summary["errors"] == 1
    assert summary["duplicate_keys"] == 1 and summary["unparseable"] == 1 and summary["unparseable_lines"] == [4]
    assert summary["missing"] == 1 and summary["missing_keys"] == ["c"]
    # The verdict from what was written: only b has exactly one ok record; a is duplicated, c missing.
    assert (summary["submitted"], summary["succeeded"], summary["failed"]) == (3, 1, 2)
    assert summary["tokens"]["totalTokenCount"] == 15
    # Inline responses are joined by metadata.key only, never by position.
    inline = list(iter_inline_records([{"response": RESPONSE, "metadata": {"key": "x"}}, {"response": RESPONSE}]))
    assert [r["key"] for r in inline] == ["x", None]
    assert inline[1]["status"] == "error" and inline[1]["error"]["status"] == "UNKEYED"
    assert "input_mode='file'" in inline[1]["error"]["message"] and inline[1]["text"] == "Hello world"


def event(state, status=STATUS_TERMINAL, failed=0, total=10, error=None):
    return {"status": status, "job_name": "batches/j", "state": state, "reason": "r", "error": error,
            "counts": {"requests": total, "failed": failed, "succeeded": total - failed, "pending": 0}}


@pytest.mark.parametrize("ev,exc,message", [
    (event("JOB_STATE_FAILED", error={"code": 13, "message": "boom"}), GeminiJobFailedError,
     "batches/j ended JOB_STATE_FAILED: boom (code 13)"),
    (event("JOB_STATE_CANCELLED"), GeminiJobCancelledError,
     "batches/j was cancelled (JOB_STATE_CANCELLED); its results, if any, are partial"),
    (event("JOB_STATE_EXPIRED"), GeminiJobExpiredError, "batches/j EXPIRED: it was not finished within 48 hours"),
    (event(None, status=STATUS_TIMEOUT), GeminiJobTimeoutError, "batches/j: r"),
    (event(None, status=STATUS_ERROR), GeminiWaitError, "Waiting for batches/j failed: r"),
    (event("JOB_STATE_SUCCEEDED", failed=1), GeminiPartialFailureError,
     "batches/j ended JOB_STATE_SUCCEEDED, but 1 of 10 requests failed"),
])
def test_events_that_fail_the_task(ev, exc, message):
    with pytest.raises(exc, match=re.escape(message)) as raised:
        judge_event(ev, None, None)
    assert type(raised.value) is exc  # the class a user catches, not a parent or a sibling


def test_failed_job_error_is_in_the_message_and_expired_says_what_to_do():
    with pytest.raises(GeminiJobFailedError, match="boom"):
        judge_event(event("JOB_STATE_FAILED", error={"code": 13, "message": "boom"}), None, None)
    with pytest.raises(GeminiJobExpiredError, match="split"):
        judge_event(event("JOB_STATE_EXPIRED"), None, None)


def test_success_and_partial_within_threshold():
    assert judge_event(event("JOB_STATE_SUCCEEDED"), None, None)
    assert judge_event(event("JOB_STATE_PARTIALLY_SUCCEEDED", failed=1), 1, None)
