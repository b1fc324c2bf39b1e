"""Over HTTP against the emulator (issue 18): a long unchanged wait logs a bounded number of lines in
both wait drivers, and auth errors name the connection (also through Airflow's own Test endpoint)."""

from __future__ import annotations

import json
import logging
import time

import pytest

from airflow_provider_gemini_batch.exceptions import GeminiAuthError, GeminiConnectionError
from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook
from airflow_provider_gemini_batch.operators.batch import poll_until_done
from airflow_provider_gemini_batch.triggers.batch import GeminiBatchJobTrigger
from tests.conftest import SENTINEL_KEY


def stuck_job() -> str:
    req = {"contents": [{"parts": [{"text": "hello EMULATOR:STUCK_PENDING"}]}]}
    return GeminiBatchHook().create_batch("gemini-2.5-flash", requests=[{"request": req, "metadata": {"key": "k"}}],
                                          display_name="ux-stuck")["name"]


def progress_lines(records, job_name):
    return [r.getMessage() for r in records if r.levelno == logging.INFO and "pending of 1 request" in r.getMessage()]


async def test_trigger_logs_an_unchanged_wait_once_not_per_poll(gemini_conn, capsys):
    name = stuck_job()
    trigger = GeminiBatchJobTrigger(name, poll_interval=0.01, deadline=time.time() + 2.0)
    events = [e.payload async for e in trigger.run()]
    polls = gemini_conn.stats()["calls"]["batches.get"]
    out = capsys.readouterr()
    lines = [line for line in (out.out + out.err).splitlines() if "pending of 1 request" in line]  # Airflow's structlog
    assert events[0]["status"] == "timeout" and polls >= 30  # many polls of a job that never moved
    assert len(lines) == 1, lines
    deadline = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(trigger.deadline))
    assert f"Waiting for {name}: PENDING: 0 succeeded, 0 failed, 1 pending of 1 request (deadline {deadline})" in lines[0]


def test_worker_wait_logs_an_unchanged_wait_once_not_per_poll(gemini_conn, caplog):
    name = stuck_job()
    log = logging.getLogger("ux.worker.wait")
    caplog.set_level(logging.INFO, logger="ux.worker.wait")
    event = poll_until_done(GeminiBatchHook(), name, 0.01, time.time() + 2.0, True, log)
    assert event["status"] == "timeout" and gemini_conn.stats()["calls"]["batches.get"] >= 30
    lines = progress_lines(caplog.records, name)
    assert len(lines) == 1 and lines[0].startswith(f"Waiting for {name}: PENDING: ")


@pytest.fixture
def strict(monkeypatch, tmp_path):
    """An emulator that accepts one key only; connection 'ux_strict' holds another."""
    from airflow_provider_gemini_batch.emulator import EmulatorProcess

    with EmulatorProcess(api_key="the-only-good-key", state_dir=str(tmp_path / "s")) as proc:
        monkeypatch.setenv("AIRFLOW_CONN_UX_STRICT", json.dumps({"conn_type": "gemini", "host": proc.base_url,
                                                                 "password": SENTINEL_KEY}))
        yield proc


async def test_auth_errors_name_the_connection_in_the_worker_and_in_the_trigger(strict):
    with pytest.raises(GeminiAuthError) as caught:
        GeminiBatchHook("ux_strict").find_jobs()
    assert "API key not valid" in str(caught.value) and "check the API key in connection 'ux_strict'" in str(caught.value)
    assert SENTINEL_KEY not in str(caught.value)
    event = [e.payload async for e in GeminiBatchJobTrigger("batches/x", "ux_strict", poll_interval=0.1).run()][0]
    assert event["status"] == "error" and "check the API key in connection 'ux_strict'" in event["reason"]


def test_auth_error_from_the_environment_key_says_so(gemini_conn, monkeypatch):
    from airflow_provider_gemini_batch.emulator import EmulatorProcess

    with EmulatorProcess(api_key="the-only-good-key") as proc:
        monkeypatch.setenv("GEMINI_API_KEY", SENTINEL_KEY)
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", proc.base_url)
        with pytest.raises(GeminiAuthError, match=r"check the API key in environment variable GEMINI_API_KEY "
                                                  r"\(connection 'ux_absent' is not defined\)"):
            GeminiBatchHook("ux_absent").find_jobs()


@pytest.mark.usefixtures("airflow_db")
def test_airflow_test_endpoint_names_the_real_connection_not_its_temporary_id(gemini_conn, monkeypatch):
    """POST /api/v2/connections/test is what the form's Test button calls; Airflow tests a copy under a
    random id. An empty key must be reported for the id the user typed."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    monkeypatch.setenv("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
    with TestClient(create_app("core")) as client:
        body = {"connection_id": "my_gemini", "conn_type": "gemini", "host": gemini_conn.base_url, "password": ""}
        empty = client.post("/api/v2/connections/test", json=body).json()
        good = client.post("/api/v2/connections/test", json={**body, "password": SENTINEL_KEY}).json()
    assert empty == {"status": False,
                     "message": "Connection 'my_gemini' has no API key: put the Gemini API key in its password field."}
    assert good["status"] is True and "the API key was accepted" in good["message"]


def test_hook_outside_the_test_endpoint_keeps_its_id(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_UX_EMPTY", json.dumps({"conn_type": "gemini", "host": "http://127.0.0.1:9"}))
    ok, message = GeminiBatchHook("ux_empty").test_connection()
    assert not ok and message.startswith("Connection 'ux_empty' has no API key")
    with pytest.raises(GeminiConnectionError, match="'ux_empty' has no API key"):
        GeminiBatchHook("ux_empty").find_jobs()
