"""The pure cores behind what a user sees (issue 18): failure naming, progress lines, prices, the
rendered schema, the results link, the task state store's deadline."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from airflow_provider_gemini_batch.core.pricing import estimate_cost_usd, usage_summary
from airflow_provider_gemini_batch.core.progress_log import ProgressLog, duration, iso_utc
from airflow_provider_gemini_batch.failure_report import describe_failures, sample_failures
from airflow_provider_gemini_batch.links import results_url
from airflow_provider_gemini_batch.rendered import schemas_as_json


def err(key, code=400, status="INVALID_ARGUMENT", message="bad"):
    return {"key": key, "status": "error", "error": {"code": code, "status": status, "message": message}}


# ---------------------------------------------------------------------- failure naming
def test_sample_stops_reading_once_full():
    read = []

    def records():
        for i in range(1000):
            read.append(i)
            yield err(f"k{i}") if i % 2 else {"key": f"k{i}", "status": "ok"}

    sample = sample_failures(records(), limit=3)
    assert [e["key"] for e in sample] == ["k1", "k3", "k5"]
    assert len(read) == 6  # not the whole file


def test_invalid_output_counts_as_a_failure_with_its_validation_error():
    sample = sample_failures([{"key": "a", "status": "invalid_output", "validation_error": "not JSON"}])
    assert sample == [{"key": "a", "code": None, "status": "INVALID_OUTPUT", "message": "not JSON"}]


def test_description_names_keys_codes_messages_and_where_with_correct_plurals():
    one = describe_failures([{"key": "q7", "code": 429, "status": "RESOURCE_EXHAUSTED", "message": "slow down"}],
                            1, "s3://b/r.jsonl")
    assert one == "the failed request: 'q7' (429 RESOURCE_EXHAUSTED: slow down). Each with its full error in s3://b/r.jsonl"
    two = describe_failures(sample_failures([err("a"), err("b", 500, "INTERNAL", "boom")]), 2, None)
    assert two == ("the 2 failed requests: 'a' (400 INVALID_ARGUMENT: bad); 'b' (500 INTERNAL: boom). "
                   "Set results_path to keep every result with its error")
    many = describe_failures(sample_failures([err(f"k{i}") for i in range(9)], limit=2), 9, "/r.jsonl")
    assert many.startswith("the first 2 of 9 failed requests: 'k0' (") and many.endswith("All of them in /r.jsonl")


def test_long_messages_and_keys_are_clipped_in_the_sentence_only():
    sample = sample_failures([err("k" * 500, message="m" * 1000)])
    text = describe_failures(sample, 1, "/r.jsonl")
    assert len(sample[0]["message"]) == 160 and sample[0]["message"].endswith("…")
    assert len(text) < 400


def test_no_sample_still_says_where():
    assert describe_failures([], 3, "/r.jsonl") == "every failed request and its error is in /r.jsonl"


# ---------------------------------------------------------------------- progress lines
def counts(s=0, f=0, p=10):
    return {"requests": s + f + p, "succeeded": s, "failed": f, "pending": p}


def test_a_day_long_unchanged_wait_logs_a_bounded_number_of_lines():
    start = 1_800_000_000.0
    progress = ProgressLog("batches/abc", deadline=start + 48 * 3600, started=start)
    lines = [line for i in range(2880)  # 24 h at the default 30 s poll
             if (line := progress.line("JOB_STATE_RUNNING", counts(), start + 30 * i))]
    assert len(lines) <= 24 * 6 + 1  # the first line and one heartbeat per 10 minutes, not 2,880
    assert len(lines) >= 24 * 6 - 1
    assert lines[0].startswith("Waiting for batches/abc: RUNNING: 0 succeeded, 0 failed, 10 pending of 10 requests")
    assert all("batches/abc" not in line for line in lines[1:])  # the job name once
    assert lines[1] == ("RUNNING: 0 succeeded, 0 failed, 10 pending of 10 requests "
                        f"(no change; waited 10m 00s; deadline {iso_utc(start + 48 * 3600)}, in 1d 23h)")


def test_changes_are_logged_at_once_and_singular_counts_read_right():
    progress = ProgressLog("batches/x", started=0.0)
    assert progress.line("JOB_STATE_PENDING", counts(p=1), 0.0).endswith("PENDING: 0 succeeded, 0 failed, 1 pending of 1 request")
    assert progress.line("JOB_STATE_PENDING", counts(p=1), 30.0) is None
    assert progress.line("JOB_STATE_RUNNING", counts(p=1), 60.0) == "RUNNING: 0 succeeded, 0 failed, 1 pending of 1 request (after 1m 00s)"
    assert progress.line("JOB_STATE_RUNNING", counts(s=1, p=0), 90.0).startswith("RUNNING: 1 succeeded")
    assert progress.line("JOB_STATE_RUNNING", counts(s=1, p=0), 690.0).endswith("(no change; waited 11m 30s; no deadline)")


def test_durations_and_iso_deadline():
    assert [duration(s) for s in (5, 65, 3725, 90000)] == ["5s", "1m 05s", "1h 02m", "1d 01h"]
    assert iso_utc(0) == "1970-01-01T00:00:00Z" and iso_utc(None) is None


# ---------------------------------------------------------------------- cost and tokens
def test_unknown_tokens_and_cost_are_none_not_free():
    assert usage_summary("gemini-2.5-flash", {}) == {"tokens": None, "estimated_cost_usd": None}
    assert usage_summary("gemini-embedding-001", None) == {"tokens": None, "estimated_cost_usd": None}
    assert estimate_cost_usd("no-such-model", {"promptTokenCount": 10}) is None


def test_embeddings_are_priced_from_the_usage_the_api_reports():
    from airflow_provider_gemini_batch.core.results import to_record

    record = to_record("e1", {"response": {"embedding": {"values": [0.1, 0.2]},
                                           "usageMetadata": {"promptTokenCount": 2_000_000}}})
    assert record["embedding"] == [0.1, 0.2] and record["usage"] == {"promptTokenCount": 2_000_000}
    assert estimate_cost_usd("gemini-embedding-001", record["usage"]) == pytest.approx(0.15)
    assert estimate_cost_usd("models/gemini-embedding-001", {"totalTokenCount": 1_000_000}) == pytest.approx(0.075)
    assert estimate_cost_usd("gemini-2.5-flash", {"promptTokenCount": 1_000_000, "candidatesTokenCount": 1_000_000}) \
        == pytest.approx(1.40)


# ---------------------------------------------------------------------- rendered schema, results link
class Recipe(BaseModel):
    recipe_name: str


def test_python_schemas_in_requests_become_the_json_schema_sent():
    requests = [{"key": "a", "request": {"generationConfig": {"responseMimeType": "application/json",
                                                              "responseSchema": list[Recipe]}}},
                {"key": "b", "request": {"config": {"response_schema": {"type": "string"}}}}, "plain prompt"]
    out = schemas_as_json(requests)
    assert out[0]["request"]["generationConfig"]["responseJsonSchema"]["items"] == {"$ref": "#/$defs/Recipe"}
    assert "responseSchema" not in out[0]["request"]["generationConfig"]
    assert out[1] is requests[1] and out[2] == "plain prompt"  # a JSON schema already: untouched
    assert requests[0]["request"]["generationConfig"]["responseSchema"] == list[Recipe]  # caller's data kept
    unchanged = [{"key": "x"}]
    assert schemas_as_json(unchanged) is unchanged


@pytest.mark.parametrize("path,url", [
    ("gs://bkt/out/r.jsonl", "https://console.cloud.google.com/storage/browser/_details/bkt/out/r.jsonl"),
    ("s3://bkt/out/r.jsonl", "https://s3.console.aws.amazon.com/s3/object/bkt?prefix=out/r.jsonl"),
    ("/data/run 1/r.jsonl", "file:///data/run%201/r.jsonl"),
    ("memory://x/r.jsonl", ""),
    (None, ""),
])
def test_results_link(path, url):
    assert results_url(path) == url


def test_task_state_store_keeps_the_deadline_also_as_iso_utc():
    from airflow_provider_gemini_batch.operators.batch import STORE_KEY, _store_set

    class Store(dict):  # the two calls the operator makes on context["task_state_store"]
        def set(self, key, value):
            self[key] = value

    store = Store()
    _store_set(store, {"job_name": "batches/1", "deadline": 1_800_000_000.5})
    assert store[STORE_KEY] == {"job_name": "batches/1", "deadline": 1_800_000_000.5,
                                "deadline_utc": "2027-01-15T08:00:00Z"}
