"""Get-results, cancel, delete and list operators against the emulator (their execute() makes real calls)."""

import json
import time

import pytest

from airflow_provider_gemini_batch.exceptions import GeminiNotFoundError, GeminiRequestError
from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook
from airflow_provider_gemini_batch.operators.batch import (
    GeminiBatchCancelOperator,
    GeminiBatchDeleteOperator,
    GeminiBatchGetResultsOperator,
    GeminiBatchListJobsOperator,
)


def make_job(display_name="hk", texts=("a", "b"), wait=True):
    hook = GeminiBatchHook()
    requests = [{"request": {"contents": [{"parts": [{"text": t}]}]}, "metadata": {"key": f"k{i}"}}
                for i, t in enumerate(texts)]
    name = hook.create_batch("gemini-2.5-flash", requests=requests, display_name=display_name)["name"]
    while wait and not hook.get_snapshot(name).is_terminal:
        time.sleep(0.1)
    return name


def test_get_results_inline_to_a_file_uri_with_expected_keys(gemini_conn, tmp_path):
    name = make_job(texts=("a", "EMULATOR:FAIL_REQUEST"))
    expected = tmp_path / "input.jsonl"
    expected.write_text("".join(json.dumps({"key": k, "request": {"contents": [{"parts": [{"text": "x"}]}]}}) + "\n"
                                for k in ("k0", "k1", "k2")))
    out = f"file://{tmp_path}/out/results.jsonl"
    summary = GeminiBatchGetResultsOperator(task_id="r", job_name=name, results_path=out,
                                            expected_keys_file=str(expected)).execute({})
    assert summary["records"] == 2 and summary["ok"] == 1 and summary["errors"] == 1
    assert summary["missing"] == 1 and summary["missing_keys"] == ["k2"]
    records = [json.loads(l) for l in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert {r["key"]: r["status"] for r in records} == {"k0": "ok", "k1": "error"}


def test_cancel_operator(gemini_conn):
    running = make_job("EMULATOR:STUCK_PENDING", wait=False)
    assert GeminiBatchCancelOperator(task_id="c", job_name=running).execute({})["cancelled"] is True
    again = GeminiBatchCancelOperator(task_id="c", job_name=running).execute({})
    assert again == {"job_name": running, "state": "JOB_STATE_CANCELLED", "cancelled": False}
    with pytest.raises(GeminiRequestError, match=f"{running} is already JOB_STATE_CANCELLED") as raised:
        GeminiBatchCancelOperator(task_id="c", job_name=running, fail_if_finished=True).execute({})
    assert type(raised.value) is GeminiRequestError


def test_delete_operator_twice(gemini_conn):
    name = make_job()
    assert GeminiBatchDeleteOperator(task_id="d", job_name=name).execute({})["deleted"] is True
    assert GeminiBatchDeleteOperator(task_id="d", job_name=name).execute({})["deleted"] is False
    with pytest.raises(GeminiNotFoundError):
        GeminiBatchDeleteOperator(task_id="d", job_name=name, missing_ok=False).execute({})


def test_list_operator_by_prefix_and_state(gemini_conn):
    done = make_job("nightly-1")
    stuck = make_job("nightly-2 EMULATOR:STUCK_PENDING", wait=False)
    make_job("other", wait=False)
    listed = GeminiBatchListJobsOperator(task_id="l", display_name_prefix="nightly-").execute({})
    assert [j["job_name"] for j in listed] == [stuck, done]
    waiting = GeminiBatchListJobsOperator(task_id="l", display_name_prefix="nightly-",
                                          states=["PENDING"]).execute({})
    assert [j["job_name"] for j in waiting] == [stuck] and waiting[0]["counts"]["requests"] == 2


def test_unknown_cleanup_option_is_refused():
    with pytest.raises(GeminiRequestError, match="unknown cleanup option") as raised:
        GeminiBatchGetResultsOperator(task_id="r", job_name="batches/x", results_path="/tmp/x", cleanup=["everything"])
    assert type(raised.value) is GeminiRequestError and "'everything'" in str(raised.value)
