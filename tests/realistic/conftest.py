"""Fixtures for the realistic emulator profile (`--profile realistic`): the service as users report it.

`realistic_emu` is a second emulator process of its own, so the default-profile `emu` of tests/conftest.py
keeps describing the API as the guide does. Every test starts from a reset emulator with the profile's
default limits; a test tightens what it needs through `realistic_emu.configure(...)`."""

from __future__ import annotations

import json

import pytest

from airflow_provider_gemini_batch.emulator import EmulatorProcess
from tests.conftest import FAST, SENTINEL_KEY

REALISTIC_DEFAULTS = {
    "max_concurrent_jobs": 100, "enqueued_token_budget": 3_000_000, "enqueued_token_budgets": "",
    "chars_per_token": 4.0, "file_storage_bytes": 20 * 1024 ** 3, "file_ttl_hours": 48.0,
    "stuck_pending_share": 0.0, "job_expiry_hours": 48.0, "time_scale": 1.0,
    "rate_429": 0, "rate_500": 0, "rate_503": 0, "rate_drop": 0, "latency_ms": 0,
}


@pytest.fixture(scope="session")
def realistic_emulator(tmp_path_factory):
    state = tmp_path_factory.mktemp("realistic-emulator")
    with EmulatorProcess(log_path=str(state / "emulator.log"), state_dir=str(state / "state"),
                         profile="realistic", **FAST) as proc:
        proc.log_file = state / "emulator.log"
        yield proc


@pytest.fixture
def realistic_emu(realistic_emulator):
    realistic_emulator.reset()
    realistic_emulator.configure(**REALISTIC_DEFAULTS, **FAST)
    return realistic_emulator


@pytest.fixture
def realistic_sdk(realistic_emu):
    from google import genai
    from google.genai import types

    return genai.Client(api_key=SENTINEL_KEY, http_options=types.HttpOptions(
        base_url=realistic_emu.base_url, api_version="v1beta",
        retry_options=types.HttpRetryOptions(attempts=1)))


@pytest.fixture
def realistic_conn(realistic_emu, monkeypatch):
    """The default Airflow connection, pointing at the realistic emulator."""
    monkeypatch.setenv("AIRFLOW_CONN_GEMINI_DEFAULT", json.dumps({
        "conn_type": "gemini", "host": realistic_emu.base_url, "password": SENTINEL_KEY,
        "extra": {"retry_max_wait_seconds": 0.2, "max_retries": 4, "timeout_seconds": 30}}))
    return realistic_emu
