"""Conventions users expect from an Airflow provider (issue 17, part 3), shown with real DAG runs
(dag.test()) against the emulator: a sensor that is a BaseSensorOperator sensor (reschedule, soft_fail,
timeout), prompts that are not Jinja templates, one timeout / poll_interval vocabulary."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import threading
import time
import types
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_gemini_batch.emulator.fake_model import answer_digest
from tests.conftest import DAGS_FOLDER

pytestmark = pytest.mark.usefixtures("airflow_db")
LOGICAL = datetime(2026, 3, 4, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def dags(tmp_path_factory):
    os.environ["GB_TEST_RESULTS_DIR"] = str(tmp_path_factory.mktemp("results"))
    spec = importlib.util.spec_from_file_location("gemini_test_conventions", DAGS_FOLDER / "gemini_test_conventions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(dag, capfd, **kwargs):
    """dag.test(), the task instances, and everything the task logged (task logs go to stdout)."""
    capfd.readouterr()
    dr = dag.test(**kwargs)
    captured = capfd.readouterr()
    return dr, {ti.task_id: ti for ti in dr.get_task_instances()}, captured.out + captured.err


def xcom(ti):
    return ti.xcom_pull(task_ids=ti.task_id, key="return_value")


def make_job(sdk, text="x"):
    return sdk.batches.create(model="gemini-2.5-flash", src=[{"contents": [{"parts": [{"text": text}]}]}]).name


def reschedules(ti) -> int:
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(select(func.count()).select_from(TaskReschedule).where(TaskReschedule.ti_id == ti.id))


# ------------------------------------------------------------------------------------------ the sensor
def test_reschedule_mode_sensor_frees_its_slot_between_pokes_and_succeeds(gemini_conn, dags, sdk, capfd):
    name = make_job(sdk)
    gemini_conn.force_state(name, "PENDING")  # held PENDING until the sensor has poked and been rescheduled

    def release_after_two_polls():
        for _ in range(1200):
            if gemini_conn.stats()["calls"].get("batches.get", 0) >= 2:
                gemini_conn.force_state(name, "SUCCEEDED")
                return
            time.sleep(0.05)

    releaser = threading.Thread(target=release_after_two_polls)
    releaser.start()
    try:
        dr, tis, log = run(dags.sensor_reschedule, capfd, run_conf={"job_name": name})
    finally:
        releaser.join()
    assert dr.state == "success", log[-3000:]
    assert xcom(tis["wait"]) == {"job_name": name, "state": "JOB_STATE_SUCCEEDED",
                                 "counts": {"requests": 1, "succeeded": 1, "failed": 0, "pending": 0}}
    # Between pokes the task was rescheduled (its worker slot given back), not asleep in it.
    assert reschedules(tis["wait"]) >= 1, log[-3000:]
    assert f"{name} JOB_STATE_PENDING" in log


@pytest.mark.parametrize("dag_name", ["sensor_poke", "sensor_deferred"])
def test_a_failed_job_fails_the_sensor_with_the_typed_error(gemini_conn, dags, sdk, capfd, dag_name):
    name = make_job(sdk, "EMULATOR:FAIL_JOB")
    dr, tis, log = run(getattr(dags, dag_name), capfd, run_conf={"job_name": name})
    assert dr.state == "failed" and tis["wait"].state == "failed"
    assert re.search(rf"GeminiJobFailedError: {re.escape(name)} ended JOB_STATE_FAILED: .+ \(code \d+\)", log), \
        log[-3000:]


def test_a_poking_sensor_past_its_timeout_is_skipped_with_soft_fail_and_cancels_the_job(gemini_conn, dags, sdk,
                                                                                        capfd):
    name = make_job(sdk, "EMULATOR:STUCK_PENDING")
    dr, tis, log = run(dags.sensor_soft_fail_poke, capfd, run_conf={"job_name": name})
    assert tis["wait"].state == "skipped", log[-3000:]
    assert "Sensor has timed out" in log
    # cancel_on_timeout=True: the job it gave up on was cancelled, and said so.
    assert f"Timed out waiting for {name}: cancelled it (cancel_on_timeout=True)." in log
    assert sdk.batches.get(name=name).state.name in ("JOB_STATE_CANCELLED", "JOB_STATE_CANCELLING")


def test_a_deferred_sensor_past_its_timeout_is_skipped_with_soft_fail(gemini_conn, dags, sdk, capfd):
    name = make_job(sdk, "EMULATOR:STUCK_PENDING")
    dr, tis, log = run(dags.sensor_soft_fail_deferred, capfd, run_conf={"job_name": name})
    assert tis["wait"].state == "skipped", log[-3000:]
    assert f"{name}: deadline passed before {name} finished (the job is still JOB_STATE_PENDING); " \
           "cancel_on_timeout=False: the job was left running; soft_fail=True: skipping the task" in log, log[-5000:]
    assert sdk.batches.get(name=name).state.name == "JOB_STATE_PENDING"  # the sensor does not own the job


def test_the_deferred_sensor_hands_its_timeout_and_poke_interval_to_the_trigger(gemini_conn, monkeypatch):
    from airflow_provider_gemini_batch.compat import _first
    from airflow_provider_gemini_batch.sensors import batch as sensor_module
    from airflow_provider_gemini_batch.sensors.batch import GeminiBatchJobSensor

    TaskDeferred = _first("TaskDeferred", "airflow.sdk.exceptions", "airflow.exceptions")

    monkeypatch.setattr(sensor_module, "time", types.SimpleNamespace(time=lambda: 1_800_000_000.0))
    sensor = GeminiBatchJobSensor(task_id="s", job_name="batches/abc", deferrable=True, poke_interval=7,
                                  timeout=timedelta(minutes=2), execution_timeout=timedelta(minutes=30))
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    assert deferred.value.trigger.serialize() == (
        "airflow_provider_gemini_batch.triggers.batch.GeminiBatchJobTrigger",
        {"job_name": "batches/abc", "gemini_conn_id": "gemini_default", "poll_interval": 7.0,
         "deadline": 1_800_000_120.0, "cancel_on_timeout": False, "cancel_on_kill": False,
         "retry_max_wait_seconds": 0.2,  # the connection's (tests/conftest.py)
         "error_tolerance_seconds": None, "pending_deadline": None})
    assert deferred.value.method_name == "execute_complete"
    # The task's defer timeout is a backstop an hour behind the trigger's deadline, bounded by execution_timeout.
    assert deferred.value.timeout == timedelta(minutes=30)
    sensor = GeminiBatchJobSensor(task_id="s2", job_name="batches/abc", deferrable=True, poll_interval=5,
                                  timeout=120)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    assert deferred.value.timeout == timedelta(seconds=120 + 3600)
    assert deferred.value.trigger.serialize()[1]["poll_interval"] == 5.0


def test_one_vocabulary_poll_interval_and_timeout_and_the_deprecated_job_timeout():
    from airflow_provider_gemini_batch.exceptions import GeminiRequestError
    from airflow_provider_gemini_batch.sensors.batch import GeminiBatchJobSensor

    sensor = GeminiBatchJobSensor(task_id="s", job_name="batches/a", poll_interval=5, timeout=timedelta(hours=2))
    assert (sensor.poke_interval, sensor.timeout, sensor.poll_interval) == (5.0, 7200.0, 5.0)
    with pytest.warns(DeprecationWarning, match=r"job_timeout=\.\.\.\) is deprecated: use timeout="):
        old = GeminiBatchJobSensor(task_id="s", job_name="batches/a", job_timeout=timedelta(minutes=3))
    assert old.timeout == 180.0
    with pytest.raises(GeminiRequestError, match=r"poll_interval=5 and poke_interval=6 disagree: they are one "
                                                 r"setting \(seconds between polls\); give one of them"):
        GeminiBatchJobSensor(task_id="s", job_name="batches/a", poll_interval=5, poke_interval=6)


# ------------------------------------------------------------------------------------------ templates
def test_prompts_given_or_from_an_upstream_task_reach_the_model_as_written_and_paths_are_rendered(gemini_conn, dags, capfd):
    from airflow.models.renderedtifields import RenderedTaskInstanceFields

    dr, tis, log = run(dags.literal_prompts, capfd, logical_date=LOGICAL, run_after=LOGICAL)
    assert dr.state == "success", log[-3000:]
    # results_path, display_name and system_instruction are templates ...
    out = Path(os.environ["GB_TEST_RESULTS_DIR"], "gbc_literal_prompts", "2026-03-04.jsonl")
    assert out.exists(), list(out.parent.glob("*"))
    assert {j["displayName"][:len("literal-20260304-")] for j in gemini_conn.stats()["jobs"]} >= {"literal-20260304-"}
    # ... the prompts are not: each answer's digest is of the prompt exactly as written (and of the
    # rendered system instruction), so "{{ ds }}" and "{{#list}}" reached the model untouched.
    records = {r["key"]: r for r in map(json.loads, out.read_text().splitlines())}
    for i, prompt in enumerate(dags.LITERAL_PROMPTS):
        digest = answer_digest("models/gemini-2.5-flash", prompt, "You answer for the run of 2026-03-04.")
        assert records[f"p{i}"]["text"].startswith(f"Emulated answer {digest}"), records[f"p{i}"]
    # The Rendered Template view shows the requests as sent, not rendered.
    shown = RenderedTaskInstanceFields.get_templated_fields(tis["submit"])["requests"]
    assert [r["request"]["contents"][0]["parts"][0]["text"] for r in shown] == dags.LITERAL_PROMPTS
    # Requests from an upstream task (an XComArg) are resolved, made a dependency, and not rendered either.
    assert "build_requests" in dags.literal_prompts.get_task("submit_from_xcom").upstream_task_ids
    out = Path(os.environ["GB_TEST_RESULTS_DIR"], "gbc_literal_prompts_xcom", "2026-03-04.jsonl")
    records = {r["key"]: r for r in map(json.loads, out.read_text().splitlines())}
    for i, prompt in enumerate(dags.LITERAL_PROMPTS):
        assert records[f"x{i}"]["text"].startswith(f"Emulated answer {answer_digest('models/gemini-2.5-flash', prompt)}")


def test_no_field_carrying_prompts_is_rendered():
    from airflow_provider_gemini_batch.compat import LiteralValue, not_jinja
    from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator
    from airflow_provider_gemini_batch.operators.media import GeminiBatchMediaOperator

    # The media operator's prompt is a str.format template of its own, never Jinja.
    assert "prompt" not in GeminiBatchMediaOperator.template_fields
    assert {"source", "requests_file", "results_path"} <= set(GeminiBatchMediaOperator.template_fields)
    assert {"input_file", "results_path", "system_instruction", "display_name", "model", "gemini_conn_id",
            "resubmit"} <= set(GeminiBatchSubmitOperator.template_fields)
    wrapped = not_jinja(["{{ ds }}", {"text": "{{#a}}", "n": 1}, ("t",)])
    assert wrapped == [LiteralValue("{{ ds }}"), {"text": LiteralValue("{{#a}}"), "n": 1}, (LiteralValue("t"),)]


# ------------------------------------------------------------------------------------------ configuration
def _built_deferrable() -> tuple[bool, bool]:
    from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator
    from airflow_provider_gemini_batch.sensors.batch import GeminiBatchJobSensor

    return (GeminiBatchSubmitOperator(task_id="t", model="gemini-2.5-flash", requests=["x"]).deferrable,
            GeminiBatchJobSensor(task_id="s", job_name="batches/a").deferrable)


@pytest.mark.parametrize("env,expected", [
    ({}, True),  # Airflow's own [operators] default_deferrable default (False) does not switch us off
    ({"AIRFLOW__GEMINI_BATCH__DEFAULT_DEFERRABLE": "False"}, False),
    ({"AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "False"}, False),  # a site without a triggerer
    ({"AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True"}, True),
    ({"AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True", "AIRFLOW__GEMINI_BATCH__DEFAULT_DEFERRABLE": "false"}, False),
])
def test_the_deferrable_default_comes_from_airflow_configuration(monkeypatch, env, expected):
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # Airflow's configuration reads the environment on every lookup
    assert _built_deferrable() == (expected, expected)
    monkeypatch.setenv("AIRFLOW__GEMINI_BATCH__DEFAULT_DEFERRABLE", "False")
    from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator

    # An explicit argument always wins.
    assert GeminiBatchSubmitOperator(task_id="t", model="m", requests=["x"], deferrable=True).deferrable is True


def test_the_private_environment_variable_is_gone(monkeypatch):
    monkeypatch.setenv("GEMINI_BATCH_DEFERRABLE", "false")
    assert _built_deferrable() == (True, True)


def test_airflow_config_shows_the_providers_section(airflow_db):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if "DEFAULT_DEFERRABLE" not in k}
    listed = subprocess.run([sys.executable, "-m", "airflow", "config", "list", "--section", "gemini_batch",
                             "--include-descriptions", "--show-values"], capture_output=True, text=True, env=env,
                            timeout=120)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "[gemini_batch]" in listed.stdout and "default_deferrable = True" in listed.stdout
    assert "Whether GeminiBatch operators and GeminiBatchJobSensor wait in the triggerer" in listed.stdout
    env["AIRFLOW__GEMINI_BATCH__DEFAULT_DEFERRABLE"] = "False"
    value = subprocess.run([sys.executable, "-m", "airflow", "config", "get-value", "gemini_batch",
                            "default_deferrable"], capture_output=True, text=True, env=env, timeout=120)
    assert value.stdout.strip() == "False", value.stderr[-2000:]
