"""What each operator and the sensor hand the triggerer when they defer, pinned key by key.

execute() runs for real against the emulator up to the TaskDeferred it raises (only the task instance and
its task state store are stand-ins). The trigger's serialized kwargs are what the triggerer stores and
rebuilds the trigger from after a restart: a setting that is not passed on (the deadline, the pending limit,
the poll interval) or a key that should never be there (the API key, a client) fails here, where a test of the
trigger alone cannot see it. Each deferral is then followed through: the rebuilt trigger's event, handed
to execute_complete, finishes the task."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from functools import partial

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_gemini_batch.operators.batch import GeminiBatchEmbedOperator, GeminiBatchSubmitOperator
from airflow_provider_gemini_batch.sensors.batch import GeminiBatchJobSensor
from airflow_provider_gemini_batch.triggers.batch import GeminiBatchJobTrigger
from tests.standins import StoreStandIn
from tests.standins import TaskInstanceStandIn as _TaskInstance

TaskInstanceStandIn = partial(_TaskInstance, dag_id="deferral")

CLASSPATH = "airflow_provider_gemini_batch.triggers.batch.GeminiBatchJobTrigger"
STORE_KEY = "gemini_batch_submission"


def deferral_of(op, context):
    """execute() up to its deferral: (the TaskDeferred, classpath, kwargs, the wall-clock window it ran in)."""
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    after = time.time()
    classpath, kwargs = deferred.value.trigger.serialize()
    assert type(deferred.value.trigger) is GeminiBatchJobTrigger and classpath == CLASSPATH
    return deferred.value, kwargs, before, after


def within(low, high):
    """Equal to any number in [low, high]: for a wall-clock value computed while execute() ran."""
    return pytest.approx((low + high) / 2, abs=(high - low) / 2 + 1e-6)


def finish(op, context, kwargs):
    """The triggerer's side: rebuild the trigger from its kwargs, take its one event, resume the task."""
    async def first_event():
        return [e.payload async for e in GeminiBatchJobTrigger(**kwargs).run()][0]

    return op.execute_complete(context, asyncio.run(first_event()))


def test_the_submit_operator_passes_its_wait_settings_and_the_stored_deadline(gemini_conn, tmp_path):
    store = StoreStandIn()
    context = {"ti": TaskInstanceStandIn(), "task_state_store": store}
    op = GeminiBatchSubmitOperator(task_id="submit", model="gemini-2.5-flash", requests=["a", "b"], deferrable=True,
                                   poll_interval=0.2, timeout=600, max_pending_time=120, cancel_on_kill=False,
                                   poll_error_tolerance=timedelta(minutes=5), results_path=str(tmp_path / "r.jsonl"))
    deferred, kwargs, before, after = deferral_of(op, context)
    record = store[STORE_KEY]
    job = gemini_conn.stats()["jobs"][0]["name"]
    assert kwargs == {
        "job_name": job, "gemini_conn_id": "gemini_default", "poll_interval": 0.2,
        "deadline": record["deadline"],  # the one stored at submit: a retry or a restart keeps it
        "cancel_on_timeout": True, "cancel_on_kill": False,
        "retry_max_wait_seconds": 0.2,  # the connection's (gemini_conn fixture), the operator sets none
        "error_tolerance_seconds": 300.0,
        "pending_deadline": record["submitted_at"] + 120,
    }
    assert record["deadline"] == within(before + 600, after + 600)
    assert record["job_name"] == job and context["ti"].pushed["job_name"] == job
    assert deferred.method_name == "execute_complete" and not deferred.kwargs
    # the backstop: the trigger's own deadline plus an hour, so Airflow times the deferral out only when the
    # trigger failed to end it
    assert deferred.timeout.total_seconds() == within(600 + 3600 - (after - before) - 1, 600 + 3600 + 1)
    summary = finish(op, context, kwargs)
    assert summary["job_name"] == job and summary["state"] == "JOB_STATE_SUCCEEDED"
    assert summary["results"]["records"] == 2


def test_the_embed_operator_defers_with_the_defaults(gemini_conn, tmp_path):
    context = {"ti": TaskInstanceStandIn(), "task_state_store": StoreStandIn()}
    op = GeminiBatchEmbedOperator(task_id="embed", model="gemini-embedding-001", requests=["a", "b", "c"],
                                  deferrable=True, results_path=str(tmp_path / "e.jsonl"))
    deferred, kwargs, before, after = deferral_of(op, context)
    job = gemini_conn.stats()["jobs"][0]["name"]
    assert kwargs == {
        "job_name": job, "gemini_conn_id": "gemini_default", "poll_interval": 30.0,
        "deadline": within(before + 48 * 3600, after + 48 * 3600),  # DEFAULT_TIMEOUT: the API's own 48 h
        "cancel_on_timeout": True, "cancel_on_kill": True, "retry_max_wait_seconds": 0.2,
        "error_tolerance_seconds": None, "pending_deadline": None,
    }
    assert deferred.method_name == "execute_complete"
    summary = finish(op, context, {**kwargs, "poll_interval": 0.1})  # (only so the test does not wait 30 s)
    assert summary["state"] == "JOB_STATE_SUCCEEDED" and summary["results"]["records"] == 3


def test_the_sensor_passes_its_settings_and_never_cancels_on_kill(gemini_conn, sdk):
    job = sdk.batches.create(model="gemini-2.5-flash", src=[{"contents": [{"parts": [{"text": "x"}]}]}]).name
    sensor = GeminiBatchJobSensor(task_id="wait", job_name=job, deferrable=True, poll_interval=0.3, job_timeout=90,
                                  retry_max_wait_seconds=1.5, poll_error_tolerance=45)
    deferred, kwargs, before, after = deferral_of(sensor, {})
    assert kwargs == {
        "job_name": job, "gemini_conn_id": "gemini_default", "poll_interval": 0.3,
        "deadline": within(before + 90, after + 90),
        "cancel_on_timeout": False,  # the sensor does not own the job
        "cancel_on_kill": False,
        "retry_max_wait_seconds": 1.5, "error_tolerance_seconds": 45.0, "pending_deadline": None,
    }
    assert deferred.method_name == "execute_complete"
    assert finish(sensor, {}, kwargs)["state"] == "JOB_STATE_SUCCEEDED"


def test_the_media_operator_passes_the_shard_and_its_wait_settings(gemini_conn, tmp_path):
    import os
    import sys

    from airflow_provider_gemini_batch.operators.media import GeminiBatchMediaOperator

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "example_dags"))
    from _media_samples import png

    source = tmp_path / "media"
    source.mkdir()
    for i in range(2):
        (source / f"photo-{i}.png").write_bytes(png(f"seed-{i}"))
    context = {"ti": TaskInstanceStandIn(), "task_state_store": StoreStandIn()}
    op = GeminiBatchMediaOperator(task_id="media", model="gemini-2.5-flash", source=str(source),
                                  prompt="Describe {name}.", inline_max_bytes=0, deferrable=True, poll_interval=0.2,
                                  timeout=600, results_path=str(tmp_path / "out" / "results.jsonl"))
    deferred, kwargs, before, after = deferral_of(op, context)
    job = gemini_conn.stats()["jobs"][0]["name"]
    assert kwargs == {
        "job_name": job, "gemini_conn_id": "gemini_default", "poll_interval": 0.2,
        "deadline": within(before + 600, after + 600),  # the media expire in 48 h: timeout=600 is the sooner
        "cancel_on_timeout": True, "cancel_on_kill": True, "retry_max_wait_seconds": 0.2,
        "error_tolerance_seconds": None, "pending_deadline": None,
    }
    assert deferred.method_name == "execute_complete" and deferred.kwargs == {"media_shard": 0}
    summary = finish(op, context, kwargs)
    assert summary["jobs"] == [job] and summary["results"]["records"] == 2
