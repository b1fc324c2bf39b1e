"""The pure wait policy both drivers follow (issue 13, rule 5): decisions from state, error, time, deadline."""

import re

import pytest

from airflow_provider_gemini_batch.core.retry_policy import next_delay, retry_hint
from airflow_provider_gemini_batch.core.states import JobSnapshot
from airflow_provider_gemini_batch.core.waiting import (
    CANCEL_THEN_EMIT,
    EMIT,
    WAIT,
    PollError,
    WaitConfig,
    WaitProgress,
    after_cancel,
    after_poll,
)

JOB = "batches/abc"


def snap(state, done=False):
    return JobSnapshot(name=JOB, state=state, done=done)


def cfg(**kw):
    return WaitConfig(**{"job_name": JOB, "poll_interval": 30.0, "deadline": 1000.0, "retry_max_wait_seconds": 60.0,
                         **kw})


def test_waiting_job_sleeps_the_poll_interval_capped_by_the_deadline():
    assert after_poll(cfg(), WaitProgress(), snap("JOB_STATE_RUNNING"), 100.0) == after_poll(
        cfg(), WaitProgress(), snap("JOB_STATE_RUNNING"), 100.0)
    d = after_poll(cfg(), WaitProgress(), snap("JOB_STATE_RUNNING"), 100.0)
    assert (d.action, d.delay) == (WAIT, 30.0)
    d = after_poll(cfg(), WaitProgress(), snap("JOB_STATE_RUNNING"), 990.0)
    assert (d.action, d.delay) == (WAIT, 10.0)  # the next poll lands on the deadline


def test_a_finished_job_is_never_a_timeout_even_past_the_deadline():
    d = after_poll(cfg(), WaitProgress(), snap("JOB_STATE_SUCCEEDED"), 5000.0)
    assert d.action == EMIT and d.event["status"] == "terminal" and d.event["state"] == "JOB_STATE_SUCCEEDED"


def test_still_running_at_the_deadline_cancels_then_the_poll_after_decides():
    progress = WaitProgress()
    d = after_poll(cfg(), progress, snap("JOB_STATE_RUNNING"), 1000.0)
    assert d.action == CANCEL_THEN_EMIT
    # It finished between the last poll and the cancel (the cancel said FAILED_PRECONDITION): results, not timeout.
    d = after_cancel(cfg(), progress, "HTTP 400 FAILED_PRECONDITION", snap("JOB_STATE_SUCCEEDED"), 1001.0)
    assert d.event["status"] == "terminal" and d.event["state"] == "JOB_STATE_SUCCEEDED"
    d = after_cancel(cfg(), progress, None, snap("JOB_STATE_CANCELLED"), 1001.0)
    assert d.event["status"] == "timeout" and "the remote job was cancelled" in d.event["reason"]


def test_no_cancel_on_timeout_emits_and_says_the_job_was_left_running():
    d = after_poll(cfg(cancel_on_timeout=False), WaitProgress(), snap("JOB_STATE_PENDING"), 1000.0)
    assert d.action == EMIT and d.event["status"] == "timeout" and "left running" in d.event["reason"]


def test_unknown_state_done_ends_the_wait_quoting_it_but_running_unknown_waits():
    d = after_poll(cfg(), WaitProgress(), snap("JOB_STATE_ARCHIVED", done=True), 100.0)
    assert d.action == EMIT and d.event["status"] == "error" and "'JOB_STATE_ARCHIVED'" in d.event["reason"]
    assert after_poll(cfg(), WaitProgress(), snap("JOB_STATE_WARMING_UP"), 100.0).action == WAIT


def test_transient_errors_are_tolerated_by_time_until_the_deadline_not_by_count():
    progress = WaitProgress()
    for i in range(500):  # a sustained 429: hundreds of failed polls, still waiting while time remains
        d = after_poll(cfg(), progress, PollError("HTTP 429", True), 100.0 + i)
        assert d.action == WAIT
    assert progress.errors == 500
    d = after_poll(cfg(), progress, PollError("HTTP 429", True), 1000.0)
    assert d.action == CANCEL_THEN_EMIT  # at the deadline: timeout (after cancel and one more poll)
    d = after_cancel(cfg(), progress, None, PollError("HTTP 429", True), 1000.5)
    assert d.event["status"] == "timeout" and "the poll after the cancel failed" in d.event["reason"]


def test_an_explicit_tolerance_and_no_deadline_both_bound_errors_by_time():
    progress = WaitProgress()
    c = cfg(error_tolerance_seconds=60.0)
    assert after_poll(c, progress, PollError("503", True), 100.0).action == WAIT
    assert after_poll(c, progress, PollError("503", True), 159.0).action == WAIT
    d = after_poll(c, progress, PollError("503", True), 161.0)
    assert d.action == EMIT and "gave up after polls failed for 61s (3 in a row" in d.event["reason"]
    # A good poll resets the clock.
    progress = WaitProgress()
    after_poll(c, progress, PollError("503", True), 100.0)
    after_poll(c, progress, snap("JOB_STATE_RUNNING"), 150.0)
    assert after_poll(c, progress, PollError("503", True), 200.0).action == WAIT


def test_permanent_errors_end_at_once():
    d = after_poll(cfg(), WaitProgress(), PollError("HTTP 404 NOT_FOUND", False), 100.0)
    assert d.action == EMIT and d.event["status"] == "error" and "404" in d.event["reason"]


def test_retry_after_wins_over_the_backoff_but_not_over_the_deadline():
    d = after_poll(cfg(retry_max_wait_seconds=1.0), WaitProgress(), PollError("429", True, retry_after=5.0), 100.0)
    assert d.delay == 5.0
    d = after_poll(cfg(), WaitProgress(), PollError("429", True, retry_after=50.0), 990.0)
    assert d.delay == 10.0


def test_pending_past_max_pending_time_is_cancelled_and_reported_stuck():
    progress = WaitProgress()
    c = cfg(pending_deadline=200.0)
    assert after_poll(c, progress, snap("JOB_STATE_PENDING"), 150.0).action == WAIT
    assert after_poll(c, progress, snap("JOB_STATE_RUNNING"), 250.0).action == WAIT  # running is not stuck
    assert after_poll(c, progress, snap("JOB_STATE_PENDING"), 250.0).action == CANCEL_THEN_EMIT
    d = after_cancel(c, progress, None, snap("JOB_STATE_CANCELLED"), 251.0)
    assert d.event["status"] == "stuck_pending" and "max_pending_time" in d.event["reason"]


@pytest.mark.parametrize("headers,body,expected", [
    ({"Retry-After": "5"}, None, 5.0),
    ({"retry-after": "0.5"}, None, 0.5),
    ({}, {"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]}}, 7.0),
    ({}, {"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                 "retryDelay": {"seconds": 3, "nanos": 500000000}}]}}, 3.5),
    ({"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}, None, 10.0),
    ({}, {"error": {"message": "no hint"}}, None),
    ({"Retry-After": "soon"}, None, None),
])
def test_retry_hints(headers, body, expected):
    from email.utils import parsedate_to_datetime

    now = parsedate_to_datetime("Wed, 21 Oct 2015 07:28:00 GMT").timestamp()
    assert retry_hint(headers, body, now=now) == expected


def test_one_backoff_grows_caps_and_obeys_hints_and_deadlines():
    assert 0.5 <= next_delay(1, 60, 0.5) <= 1.0
    assert 4.0 <= next_delay(4, 60, 0.5) <= 4.5
    assert next_delay(30, 60, 0.5) == 60
    assert next_delay(1, 1, 0.5, hint=30) == 30  # the server's advice beats our cap
    assert next_delay(1, 60, 0.5, hint=30, remaining=2) == 2  # the deadline beats everything


# ---------------------------------------------------------------------- the event contract
@pytest.mark.parametrize("event,message", [
    (None, "no event (None)"),
    ("terminal", "of type str, not a dict"),
    ({"version": 2, "status": "terminal", "job_name": "batches/a", "reason": "r", "state": "JOB_STATE_SUCCEEDED"},
     "version 2; this provider reads version 1"),
    ({"version": 1, "status": "done", "job_name": "batches/a", "reason": "r"}, "status 'done' is not one of"),
    ({"version": 1, "status": "terminal", "job_name": "a", "reason": "r", "state": "JOB_STATE_SUCCEEDED"},
     "job_name 'a' is not 'batches/<id>'"),
    ({"version": 1, "status": "terminal", "job_name": "batches/a", "reason": "r"}, "a terminal event has no state"),
    ({"version": 1, "status": "terminal", "job_name": "batches/a", "reason": "r", "state": "JOB_STATE_SUCCEEDED",
      "counts": {"requests": "ten"}}, "counts is not a mapping of integers"),
])
def test_execute_complete_refuses_a_missing_or_malformed_event_loudly(event, message):
    from airflow_provider_gemini_batch.exceptions import GeminiEventError
    from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator
    from airflow_provider_gemini_batch.sensors.batch import GeminiBatchJobSensor

    op = GeminiBatchSubmitOperator(task_id="t", model="gemini-2.5-flash", requests=["a"])
    with pytest.raises(GeminiEventError, match=re.escape(message)):
        op.execute_complete({}, event)
    with pytest.raises(GeminiEventError, match=re.escape(message)):  # the sensor reads the same contract
        GeminiBatchJobSensor(task_id="s", job_name="batches/a").execute_complete({}, event)


def test_events_both_drivers_build_pass_the_contract():
    from airflow_provider_gemini_batch.core.events import EVENT_VERSION, validate_event

    d = after_poll(cfg(), WaitProgress(), snap("JOB_STATE_SUCCEEDED"), 1.0)
    assert d.event["version"] == EVENT_VERSION and validate_event(d.event) is d.event


def test_a_user_display_name_is_only_a_readable_prefix():
    from airflow_provider_gemini_batch.operators.batch import base_display_name, parse_display_name

    run1 = base_display_name("d", "t", "scheduled__2026-01-01", -1, prefix="nightly summaries")
    run2 = base_display_name("d", "t", "scheduled__2026-01-02", -1, prefix="nightly summaries")
    mapped = [base_display_name("d", "t", "scheduled__2026-01-01", i, prefix="nightly summaries") for i in range(3)]
    assert run1.startswith("nightly-summaries-") and run1 != run2 and len(set(mapped + [run1])) == 4
    assert parse_display_name(run2 + "-s2", run1) is None  # another run's job is never "ours"
    assert base_display_name("d", "t", "r", -1, prefix="x" * 500).endswith(base_display_name("d", "t", "r", -1)[-12:])
