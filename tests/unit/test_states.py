import pytest
from google.genai import types

from airflow_provider_gemini_batch.core.states import (
    STATE_OUTCOMES,
    Outcome,
    judge_failures,
    normalize_state,
    outcome_of,
    parse_job,
    parse_time,
)


@pytest.mark.parametrize("state", list(types.JobState))
def test_every_sdk_state_is_mapped(state):
    assert normalize_state(state) in STATE_OUTCOMES


@pytest.mark.parametrize("spelling", ["BATCH_STATE_RUNNING", "JOB_STATE_RUNNING", "running", types.JobState.JOB_STATE_RUNNING])
def test_spellings_normalise(spelling):
    assert normalize_state(spelling) == "JOB_STATE_RUNNING"


@pytest.mark.parametrize("state,outcome", [
    ("BATCH_STATE_SUCCEEDED", Outcome.SUCCEEDED), ("JOB_STATE_PARTIALLY_SUCCEEDED", Outcome.PARTIAL),
    ("BATCH_STATE_FAILED", Outcome.FAILED), ("BATCH_STATE_CANCELLED", Outcome.CANCELLED),
    ("BATCH_STATE_EXPIRED", Outcome.EXPIRED), ("BATCH_STATE_PENDING", Outcome.WAITING),
    ("JOB_STATE_CANCELLING", Outcome.WAITING), ("BATCH_STATE_SOMETHING_NEW", Outcome.WAITING)])
def test_outcomes(state, outcome):
    assert outcome_of(state) is outcome


def test_parse_job_treats_missing_counts_and_done_as_zero_and_false():
    # The shape python-genai #1323 shows: zero counts and `done` left out while running.
    snap = parse_job({"name": "batches/x", "metadata": {
        "state": "BATCH_STATE_RUNNING",
        "batchStats": {"requestCount": "4", "successfulRequestCount": "1", "pendingRequestCount": "3"}}})
    assert snap.counts() == {"requests": 4, "succeeded": 1, "failed": 0, "pending": 3}
    assert snap.done is False and not snap.is_terminal


def test_parse_job_reads_output_from_metadata_or_response():
    meta_only = parse_job({"name": "batches/x", "done": True, "metadata": {
        "state": "BATCH_STATE_SUCCEEDED", "output": {"responsesFile": "files/batch-x"}}})
    response_only = parse_job({"name": "batches/x", "done": True, "metadata": {"state": "BATCH_STATE_SUCCEEDED"},
                               "response": {"responsesFile": "files/batch-y"}})
    assert meta_only.responses_file == "files/batch-x"
    assert response_only.responses_file == "files/batch-y"


@pytest.mark.parametrize("failed,total,max_n,max_ratio,ok", [
    (0, 10, None, None, True),
    (1, 10, None, None, False),
    (1, 10, 1, None, True),
    (2, 10, 1, None, False),
    (2, 10, None, 0.2, True),
    (3, 10, None, 0.2, False),
    (2, 10, 5, 0.1, False),  # both limits must hold
])
def test_judge_failures(failed, total, max_n, max_ratio, ok):
    assert judge_failures(failed, total, max_n, max_ratio).ok is ok


def test_display_names_stay_short_and_parse_back():
    from airflow_provider_gemini_batch.operators.batch import (
        DISPLAY_NAME_LIMIT,
        base_display_name,
        display_name_for,
        parse_display_name,
    )

    base = base_display_name("d" * 200, "t" * 200, "manual__2026-11-26T05:10:27.030899+00:00", 12345)
    name = display_name_for(base, 99, "0123456789abcdef")
    assert len(name) <= DISPLAY_NAME_LIMIT
    assert parse_display_name(name, base) == (99, "0123456789")
    assert parse_display_name(display_name_for(base, 1, None), base) == (1, None)
    assert parse_display_name(base + "-other", base) is None
    assert base_display_name("d", "t", "r1", -1) != base_display_name("d", "t", "r2", -1)


@pytest.mark.parametrize("text, expected", [
    ("2026-11-26T09:00:01Z", 1795683601.0),
    ("2026-11-26T09:00:01.5Z", 1795683601.5),            # one digit: Python 3.10's fromisoformat refuses it as is
    ("2026-11-26T09:00:01.123Z", 1795683601.123),
    ("2026-11-26T09:00:01.123456789Z", 1795683601.123456),  # nanoseconds, as the API writes them
    ("2026-11-26T11:00:01.5+02:00", 1795683601.5),
    ("not a time", None),
    (None, None),
])
def test_create_times_parse_with_any_number_of_fraction_digits(text, expected):
    parsed = parse_time(text)
    assert parsed == expected if expected is None else abs(parsed - expected) < 1e-6
