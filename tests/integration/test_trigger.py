"""GeminiBatchJobTrigger.run() against the emulator, in one event loop as the triggerer runs it."""

import asyncio
import time

from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook
from airflow_provider_gemini_batch.triggers.batch import GeminiBatchJobTrigger

REQ = {"contents": [{"parts": [{"text": "hello"}]}]}


def create(display_name="t", text="hello"):
    req = {"contents": [{"parts": [{"text": text}]}]}
    return GeminiBatchHook().create_batch("gemini-2.5-flash", requests=[{"request": req, "metadata": {"key": "k"}}],
                                          display_name=display_name)["name"]


async def events_of(trigger):
    return [e.payload async for e in trigger.run()]


async def test_waits_to_success_with_one_event(gemini_conn):
    name = create()
    events = await events_of(GeminiBatchJobTrigger(name, poll_interval=0.1))
    assert len(events) == 1
    ev = events[0]
    assert ev["status"] == "terminal" and ev["state"] == "JOB_STATE_SUCCEEDED" and ev["job_name"] == name
    assert ev["counts"] == {"requests": 1, "succeeded": 1, "failed": 0, "pending": 0}


def test_serialises_exactly_its_wait_settings_and_round_trips():
    """What the triggerer stores in its table and rebuilds the trigger from, pinned key by key: a new key
    (a secret, a client, a non-JSON value) or a lost one (the deadline) fails here."""
    trigger = GeminiBatchJobTrigger("batches/x", "gemini_default", poll_interval=5, deadline=123.0)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_gemini_batch.triggers.batch.GeminiBatchJobTrigger"
    assert kwargs == {"job_name": "batches/x", "gemini_conn_id": "gemini_default", "poll_interval": 5.0,
                      "deadline": 123.0, "cancel_on_timeout": True, "cancel_on_kill": True,
                      "retry_max_wait_seconds": 60.0, "error_tolerance_seconds": None, "pending_deadline": None}
    assert type(kwargs["poll_interval"]) is float  # 5 given, a float kept
    assert GeminiBatchJobTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_serialises_every_setting_it_is_given():
    trigger = GeminiBatchJobTrigger("batches/y", "other_conn", poll_interval=0.5, deadline=1e9, cancel_on_timeout=False,
                                    cancel_on_kill=False, max_consecutive_errors=7, retry_max_wait_seconds=2.5,
                                    error_tolerance_seconds=30.0, pending_deadline=1e9 - 10)
    classpath, kwargs = trigger.serialize()
    # max_consecutive_errors is accepted from triggers stored by older versions and not carried on
    assert kwargs == {"job_name": "batches/y", "gemini_conn_id": "other_conn", "poll_interval": 0.5,
                      "deadline": 1e9, "cancel_on_timeout": False, "cancel_on_kill": False,
                      "retry_max_wait_seconds": 2.5, "error_tolerance_seconds": 30.0, "pending_deadline": 1e9 - 10}
    assert GeminiBatchJobTrigger(**kwargs).serialize() == (classpath, kwargs)


async def test_tolerates_transient_errors(gemini_conn):
    name = create()
    gemini_conn.script_faults("batches.get", "429", "503", "drop", "500")
    ev = (await events_of(GeminiBatchJobTrigger(name, poll_interval=0.1, retry_max_wait_seconds=0.1)))[0]
    assert ev["state"] == "JOB_STATE_SUCCEEDED"


async def test_gives_up_when_polls_keep_failing_past_the_tolerance_time(gemini_conn):
    # Tolerance is time (default: until the deadline), not a count: 20 x 503 over more than 0.3 s ends it.
    name = create()
    gemini_conn.script_faults("batches.get", *["503"] * 20)
    ev = (await events_of(GeminiBatchJobTrigger(name, poll_interval=0.1, error_tolerance_seconds=0.3,
                                                retry_max_wait_seconds=0.05)))[0]
    assert ev["status"] == "error" and "gave up after polls failed for" in ev["reason"]
    assert "503" in ev["reason"] and "tolerance 0s" in ev["reason"]


async def test_not_found_ends_with_an_error_event(gemini_conn):
    ev = (await events_of(GeminiBatchJobTrigger("batches/gone", poll_interval=0.1)))[0]
    assert ev["status"] == "error" and "404" in ev["reason"]


async def test_deadline_cancels_a_stuck_job(gemini_conn):
    name = create(display_name="EMULATOR:STUCK_PENDING")
    ev = (await events_of(GeminiBatchJobTrigger(name, poll_interval=0.2, deadline=time.time() + 1.0)))[0]
    assert ev["status"] == "timeout" and "cancelled" in ev["reason"]
    assert GeminiBatchHook().get_snapshot(name).state == "JOB_STATE_CANCELLED"


async def test_deadline_in_the_past_after_a_restart_does_not_reset(gemini_conn):
    # A triggerer restart re-creates the trigger from its kwargs: the deadline comes back unchanged, and
    # one last poll (never more) confirms the job is still running before the timeout is declared.
    name = create(display_name="EMULATOR:STUCK_PENDING")
    kwargs = GeminiBatchJobTrigger(name, poll_interval=0.1, deadline=time.time() - 1).serialize()[1]
    ev = (await events_of(GeminiBatchJobTrigger(**kwargs)))[0]
    assert ev["status"] == "timeout" and "still JOB_STATE_PENDING" in ev["reason"]
    assert ev["state"] == "JOB_STATE_CANCELLED"  # the poll after the cancel
    assert gemini_conn.stats()["calls"].get("batches.get", 0) == 2  # the final poll, and the one after cancel


async def test_on_kill_cancels_the_remote_job(gemini_conn):
    name = create(display_name="EMULATOR:STUCK_PENDING")
    await GeminiBatchJobTrigger(name).on_kill()
    assert GeminiBatchHook().get_snapshot(name).state == "JOB_STATE_CANCELLED"


async def test_two_hundred_triggers_share_one_loop_without_stalling(gemini_conn, monkeypatch):
    """Every trigger finishes, each poll is one GET, and the sync SDK client is never touched."""
    import google.genai

    def forbidden(*args, **kwargs):
        raise AssertionError("the async path built a google-genai client")

    monkeypatch.setattr(google.genai, "Client", forbidden)
    lifetime = 4.0  # each job: 1 s PENDING, then 3 s RUNNING, then SUCCEEDED
    gemini_conn.configure(pending_seconds=1.0, running_seconds=lifetime - 1.0)
    names, created_at = [], []
    for i in range(200):
        names.append(create(display_name=f"many-{i}"))
        created_at.append(time.monotonic())
    started = time.monotonic()
    lags = []

    async def ticker():
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - start - 0.01)

    tick = asyncio.create_task(ticker())
    events = await asyncio.gather(*(events_of(GeminiBatchJobTrigger(n, poll_interval=0.5)) for n in names))
    elapsed = time.monotonic() - started
    tick.cancel()
    assert all(len(e) == 1 and e[0]["state"] == "JOB_STATE_SUCCEEDED" for e in events)
    gets = gemini_conn.stats()["calls"]["batches.get"]
    # Every trigger polled, each job still running a second after the triggers started was polled again
    # (creating 200 jobs takes seconds on a loaded machine, so the early ones may be done before the
    # triggers start: that count comes from the clock, not a fixed ratio), and never more often than once
    # per poll interval.
    alive = sum(1 for t in created_at if t + lifetime > started + 1.0)
    assert len(names) + alive <= gets <= len(names) * (elapsed / 0.5 + 1), (gets, alive, elapsed)
    assert max(lags) < 1.0, f"event loop stalled {max(lags):.3f}s"  # generous: the lag itself is benchmarked
