"""The submission ledger's decisions, row by row, over plain data: no emulator, no Airflow.

The behaviour these rows pin is the one tests/integration/test_identity.py, test_changed_input_policy.py
and tests/airflow/test_identity_dags.py drive end to end; here every branch is one row."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_provider_gemini_batch.core import submission_ledger as ledger
from airflow_provider_gemini_batch.core.states import JobSnapshot
from airflow_provider_gemini_batch.core.submission_ledger import Action
from airflow_provider_gemini_batch.exceptions import (
    GeminiJobStuckPendingError,
    GeminiRequestError,
    GeminiSubmissionGoneError,
)

BASE = ledger.base_display_name("dag", "task", "manual__2026-11-26", -1)
OTHER_RUN = ledger.base_display_name("dag", "task", "manual__2026-11-27", -1)
FP_OLD = "aaaaaaaaaa" + "0" * 54
FP_NEW = "bbbbbbbbbb" + "0" * 54


def job(state: str, submission: int = 1, fingerprint: str | None = FP_OLD, name: str = "batches/1",
        base: str = BASE, created: str | None = "2026-11-26T10:00:00Z") -> JobSnapshot:
    return JobSnapshot(name=name, state=f"JOB_STATE_{state}", create_time=created,
                       display_name=ledger.display_name_for(base, submission, fingerprint))


# ---------------------------------------------------------------------- the display-name codec
@pytest.mark.parametrize("submission,fingerprint,suffix,parsed", [
    (1, None, "", (1, None)),
    (1, FP_OLD, "-faaaaaaaaaa", (1, "aaaaaaaaaa")),
    (2, FP_OLD, "-s2-faaaaaaaaaa", (2, "aaaaaaaaaa")),
    (17, None, "-s17", (17, None)),
])
def test_display_names_round_trip(submission, fingerprint, suffix, parsed):
    name = ledger.display_name_for(BASE, submission, fingerprint)
    assert name == BASE + suffix
    assert ledger.parse_display_name(name, BASE) == parsed
    assert ledger.submission_of(name, BASE) == parsed[0]
    assert ledger.fingerprint_in(name, BASE) == parsed[1]


@pytest.mark.parametrize("name", [OTHER_RUN, OTHER_RUN + "-s2", BASE + "-other", BASE + "-fXYZ", "", "airflow-x"])
def test_names_of_other_task_instances_are_not_ours(name):
    assert ledger.parse_display_name(name, BASE) is None
    assert ledger.fingerprint_in(name, BASE) is None


@pytest.mark.parametrize("display_name,submission", [(None, 1), ("", 1), (OTHER_RUN + "-s5", 1), (BASE + "-s3", 3)])
def test_submission_of_defaults_to_the_first(display_name, submission):
    assert ledger.submission_of(display_name, BASE) == submission


# ---------------------------------------------------------------------- the state-store record
@pytest.mark.parametrize("value,record", [
    ({"job_name": "batches/1"}, {"job_name": "batches/1"}), ("batches/1", None), (None, None), ([1], None)])
def test_only_a_dict_is_a_record(value, record):
    assert ledger.read_record(value) == record


def test_the_stored_form_drops_nones_and_spells_the_deadline_for_people():
    assert ledger.stored_form({"job_name": "batches/1", "deadline": 1_800_000_000.5, "input_file": None}) == {
        "job_name": "batches/1", "deadline": 1_800_000_000.5, "deadline_utc": "2027-01-15T08:00:00Z"}
    assert ledger.stored_form({"deadline": None, "fingerprint": "ab"}) == {"fingerprint": "ab"}


@pytest.mark.parametrize("previous,kept", [
    (None, None), ({"job_name": "batches/1", "completed": True}, None), ({"pending_resubmits": 1, "quota": {}}, 1)])
def test_the_intent_keeps_only_the_stuck_count_of_the_previous_record(previous, kept):
    intent = ledger.intent_record(previous, BASE + "-s2", "files/in", FP_NEW)
    assert intent == {"display_name": BASE + "-s2", "input_file": "files/in", "fingerprint": FP_NEW[:10],
                      "pending_resubmits": kept}
    assert ledger.submitted_record(intent, "batches/2", 99.0, 10.0, 2) == {
        **intent, "job_name": "batches/2", "deadline": 99.0, "submitted_at": 10.0, "submission": 2}


def test_reattached_and_completed_records_keep_what_the_record_held():
    earlier = {"fingerprint": "aaaaaaaaaa", "quota": {"attempts": 2}}
    assert ledger.reattached_record(earlier, job("RUNNING"), 5.0) == {
        **earlier, "job_name": "batches/1", "display_name": BASE + "-faaaaaaaaaa", "deadline": 5.0}
    assert ledger.completed_record(None, "batches/1", "JOB_STATE_SUCCEEDED") == {
        "job_name": "batches/1", "completed": True, "state": "JOB_STATE_SUCCEEDED"}


# ---------------------------------------------------------------------- finding this task's jobs
@pytest.mark.parametrize("stamps,floor", [
    ([], None), ([None, None], None), (["2026-01-01", True], None),  # what is not a time is left out
    ([datetime(2026, 1, 1, 1, tzinfo=timezone.utc), None, datetime(2026, 1, 1, 2, tzinfo=timezone.utc)],
     datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()),
    ([7200.0, 10000.0], 3600.0),
])
def test_the_search_floor_is_the_earliest_run_time_less_an_hour_for_clocks(stamps, floor):
    assert ledger.search_floor(stamps) == floor


@pytest.mark.parametrize("record,after_quota_wait,try_number,search", [
    (None, False, 1, False),                     # a first try with no record cannot have created a job
    ({}, False, 1, False),
    (None, False, 2, True),                      # a retry: the first try's create reply may have been lost
    ({"display_name": BASE}, False, 1, True),    # a clear: the record survives, the try number restarts
    (None, True, 1, True),                       # after a quota refusal the create may have gone through
])
def test_when_the_jobs_are_searched(record, after_quota_wait, try_number, search):
    assert ledger.needs_search(record, after_quota_wait, try_number) is search


@pytest.mark.parametrize("record,resubmit,refused", [
    ({"job_name": "batches/1", "completed": True, "state": "JOB_STATE_SUCCEEDED"}, False, True),
    ({"job_name": "batches/1", "completed": True, "state": "JOB_STATE_SUCCEEDED"}, True, False),
    ({"job_name": "batches/1"}, False, False),   # never completed: look for others by display name
])
def test_a_deleted_completed_job_is_not_replaced_silently(record, resubmit, refused):
    error = ledger.recorded_job_gone(record, resubmit)
    if not refused:
        assert error is None
        return
    assert isinstance(error, GeminiSubmissionGoneError)
    assert str(error).startswith("batches/1 (None) finished JOB_STATE_SUCCEEDED on an earlier try")
    assert "Nothing was submitted, nothing billed" in str(error) and "set resubmit=True" in str(error)


@pytest.mark.parametrize("found,latest", [
    ([], None),
    ([job("FAILED", base=OTHER_RUN, name="batches/9")], None),                       # another run's only
    ([job("FAILED", 1, name="batches/1"), job("RUNNING", 2, name="batches/2")], "batches/2"),
    ([job("RUNNING", 2, name="batches/2"), job("FAILED", 1, name="batches/1")], "batches/2"),  # not list order
    ([job("FAILED", 3, name="batches/3", created="2026-11-26T09:00:00Z"),
      job("RUNNING", 2, name="batches/2", created="2026-11-26T11:00:00Z")], "batches/3"),  # number beats time
    ([job("RUNNING", 1, name="batches/a", created="2026-11-26T09:00:00Z"),
      job("RUNNING", 1, name="batches/b", created="2026-11-26T09:00:01.5Z")], "batches/b"),  # then time
    ([job("RUNNING", 1, name="batches/a", created=None), job("RUNNING", 1, name="batches/b")], "batches/b"),
    ([job("RUNNING", 5, name="batches/x", base=OTHER_RUN), job("FAILED", 1, name="batches/1")], "batches/1"),
])
def test_the_latest_job_is_chosen_by_submission_then_create_time(found, latest):
    chosen = ledger.latest_job(found, BASE)
    assert (chosen.name if chosen else None) == latest


@pytest.mark.parametrize("record,fingerprint", [
    (None, "aaaaaaaaaa"),                                                   # from the display name
    ({"job_name": "batches/1", "fingerprint": "cccccccccc"}, "cccccccccc"),  # the record about this job wins
    ({"job_name": "batches/7", "fingerprint": "cccccccccc"}, "aaaaaaaaaa"),  # a record about another job does not
    ({"job_name": "batches/1"}, "aaaaaaaaaa"),
])
def test_the_fingerprint_a_job_was_submitted_with(record, fingerprint):
    assert ledger.fingerprint_of(job("RUNNING"), record, BASE) == fingerprint


def test_a_job_named_without_a_fingerprint_has_none():
    assert ledger.fingerprint_of(job("RUNNING", fingerprint=None), None, BASE) is None


# ---------------------------------------------------------------------- submit, reattach or refuse
# (existing job, record, new input fingerprint, resubmit, on_changed_input)
#   -> (action, submission, job to cancel first, text the note or error holds)
DECISIONS = [
    pytest.param(None, None, FP_NEW, False, "fail", Action.SUBMIT, 1, None, "", id="nothing-yet"),
    pytest.param(None, None, FP_NEW, True, "fail", Action.SUBMIT, 1, None, "", id="nothing-yet-resubmit"),
    pytest.param(job("RUNNING"), None, FP_OLD, False, "fail", Action.REATTACH, 1, None,
                 "Reattaching to batches/1 (JOB_STATE_RUNNING) from an earlier try; not submitting again.",
                 id="running-reattach"),
    pytest.param(job("PENDING", 2), None, FP_OLD, True, "fail", Action.REATTACH, 2, None, "Reattaching to batches/1",
                 id="running-reattach-even-with-resubmit"),
    pytest.param(job("SUCCEEDED"), None, FP_OLD, False, "fail", Action.REATTACH, 1, None, "Reattaching",
                 id="succeeded-redeliver"),
    pytest.param(job("PARTIALLY_SUCCEEDED"), None, FP_OLD, "false", "fail", Action.REATTACH, 1, None, "Reattaching",
                 id="partial-redeliver"),
    pytest.param(job("SUCCEEDED"), None, FP_OLD, True, "fail", Action.SUBMIT, 2, None,
                 "resubmit=True: batches/1 already finished JOB_STATE_SUCCEEDED; submitting a NEW, billed job on "
                 "purpose (submission #2).", id="succeeded-resubmit"),
    pytest.param(job("PARTIALLY_SUCCEEDED", 2), None, FP_OLD, "True", "fail", Action.SUBMIT, 3, None,
                 "submitting a NEW, billed job on purpose (submission #3)", id="partial-resubmit-templated"),
    pytest.param(job("FAILED"), None, FP_OLD, False, "fail", Action.SUBMIT, 2, None,
                 "The earlier job batches/1 ended JOB_STATE_FAILED: submitting a new job on purpose (submission #2).",
                 id="failed-new-job"),
    pytest.param(job("CANCELLED", 3), None, FP_OLD, False, "fail", Action.SUBMIT, 4, None, "(submission #4)",
                 id="cancelled-new-job"),
    pytest.param(job("EXPIRED"), None, FP_OLD, False, "fail", Action.SUBMIT, 2, None, "ended JOB_STATE_EXPIRED",
                 id="expired-new-job"),
    pytest.param(job("RUNNING"), None, FP_NEW, False, "fail", Action.REFUSE, 2, None,
                 "the input changed since batches/1 (JOB_STATE_RUNNING) was submitted by an earlier try of this task "
                 "(its input fingerprint differs); not reattaching to it silently. Clear the task after deciding, or "
                 "set on_changed_input='cancel_and_resubmit'", id="changed-running-fail"),
    pytest.param(job("SUCCEEDED"), None, FP_NEW, True, "fail", Action.REFUSE, 2, None, "input changed since",
                 id="changed-beats-resubmit"),
    pytest.param(job("FAILED"), None, FP_NEW, False, "fail", Action.REFUSE, 2, None, "input changed since",
                 id="changed-failed-fail"),
    pytest.param(job("RUNNING"), None, FP_NEW, False, "cancel_and_resubmit", Action.SUBMIT, 2, "batches/1",
                 "input fingerprint differs): cancelled it where still running; submitting the new input "
                 "(submission #2).", id="changed-running-cancel"),
    pytest.param(job("SUCCEEDED", 2), None, FP_NEW, False, "cancel_and_resubmit", Action.SUBMIT, 3, None,
                 "submitting the new input (submission #3)", id="changed-finished-no-cancel"),
    pytest.param(job("RUNNING", fingerprint=None), None, FP_NEW, False, "fail", Action.REATTACH, 1, None,
                 "Reattaching", id="no-fingerprint-known-reattach"),
    pytest.param(job("RUNNING", fingerprint=None), {"job_name": "batches/1", "fingerprint": FP_NEW[:10]}, FP_NEW,
                 False, "fail", Action.REATTACH, 1, None, "Reattaching", id="record-fingerprint-matches"),
    pytest.param(job("RUNNING"), {"job_name": "batches/1", "fingerprint": "cccccccccc"}, FP_OLD, False, "fail",
                 Action.REFUSE, 2, None, "input changed", id="record-fingerprint-wins-over-name"),
]


@pytest.mark.parametrize("existing,record,fingerprint,resubmit,policy,action,submission,cancel,text", DECISIONS)
def test_decide(existing, record, fingerprint, resubmit, policy, action, submission, cancel, text):
    decision = ledger.decide(existing, record, BASE, fingerprint, ledger.truthy(resubmit), policy)
    assert (decision.action, decision.submission, decision.cancel) == (action, submission, cancel)
    assert decision.job is existing
    if action is Action.REFUSE:
        assert isinstance(decision.error, GeminiRequestError) and decision.error.location == "on_changed_input"
        assert text in str(decision.error)
    else:
        assert decision.error is None and text in decision.note


# ---------------------------------------------------------------------- after the wait: expired, stuck
@pytest.mark.parametrize("display_name,on_expired,max_resubmits,action,submission,note", [
    (BASE, "fail", 1, Action.REFUSE, 1, ""),
    (BASE, "resubmit", 1, Action.SUBMIT, 2,
     "batches/1 EXPIRED: submitting a new job on purpose (on_expired='resubmit', submission #2 of 2)."),
    (None, "resubmit", 1, Action.SUBMIT, 2, "submission #2 of 2"),
    (BASE + "-s2", "resubmit", 1, Action.REFUSE, 2,
     "batches/1 expired and the 1 resubmission(s) allowed are used up."),
    (BASE + "-s2-faaaaaaaaaa", "resubmit", 3, Action.SUBMIT, 3, "submission #3 of 4"),
    (BASE + "-s4", "resubmit", 3, Action.REFUSE, 4, "the 3 resubmission(s) allowed are used up"),
])
def test_after_expired(display_name, on_expired, max_resubmits, action, submission, note):
    decision = ledger.after_expired("batches/1", display_name, BASE, on_expired, max_resubmits)
    assert (decision.action, decision.submission, decision.error) == (action, submission, None)
    assert note in decision.note and (note or not decision.note)


@pytest.mark.parametrize("record,display_name,action,submission", [
    (None, BASE, Action.SUBMIT, 2),
    ({"job_name": "batches/1"}, BASE + "-s2", Action.SUBMIT, 3),
    ({"pending_resubmits": 1}, BASE + "-s2", Action.REFUSE, 1),
])
def test_after_stuck_a_job_is_resubmitted_once(record, display_name, action, submission):
    decision = ledger.after_stuck(record, "batches/1", display_name, "JOB_STATE_CANCELLED", BASE, 90.0)
    assert (decision.action, decision.submission) == (action, submission)
    if action is Action.REFUSE:
        assert isinstance(decision.error, GeminiJobStuckPendingError)
        assert str(decision.error).startswith("batches/1 stayed PENDING past max_pending_time=90s and was cancelled; "
                                              "it was already the deliberate resubmission")
        assert decision.error.state == "JOB_STATE_CANCELLED"
    else:
        assert decision.note == (f"batches/1 stayed PENDING past max_pending_time and was cancelled: submitting it "
                                 f"again on purpose (submission #{submission}, once).")


@pytest.mark.parametrize("value,truth", [
    (True, True), (False, False), (None, False), (1, True), (0, False), ("True", True), (" yes ", True), ("1", True),
    ("on", True), ("false", False), ("False", False), ("", False), ("0", False), ("no", False)])
def test_a_templated_resubmit_counts_as_what_it_says(value, truth):
    assert ledger.truthy(value) is truth


# ---------------------------------------------------------------------- quota refusals
# (window so far, now, submit_timeout, Retry-After) -> (attempts, delay, until, given up); initial 60, max 1800
@pytest.mark.parametrize("quota,now,limit,retry_after,attempts,delay,until,given_up", [
    (None, 1000.0, 6 * 3600.0, None, 1, 60.0, 1000.0 + 6 * 3600, False),          # the first refusal
    ({"since": 1000.0, "attempts": 1}, 1100.0, 6 * 3600.0, None, 2, 120.0, 1000.0 + 6 * 3600, False),  # doubles
    ({"since": 1000.0, "attempts": 9}, 9000.0, None, None, 10, 1800.0, None, False),  # capped; no limit
    ({"since": 1000.0, "attempts": 1}, 1100.0, 6 * 3600.0, 300.0, 2, 300.0, 1000.0 + 6 * 3600, False),  # server wins
    ({"since": 1000.0, "attempts": 3}, 1590.0, 600.0, None, 4, 10.0, 1600.0, False),  # never past the limit
    ({"since": 1000.0, "attempts": 4}, 1600.0, 600.0, None, 5, 0.0, 1600.0, True),    # the limit passed: give up
])
def test_quota_refusals_back_off_until_submit_timeout(quota, now, limit, retry_after, attempts, delay, until,
                                                      given_up):
    step = ledger.next_quota_attempt(quota, now, limit, 60.0, 1800.0, retry_after)
    assert (step.quota["attempts"], step.delay, step.until, step.given_up) == (attempts, delay, until, given_up)
    assert step.quota["since"] == (quota or {}).get("since", now) and step.waited == now - step.quota["since"]
    if quota is not None:
        assert quota["attempts"] == attempts - 1  # the caller's window is not changed in place
