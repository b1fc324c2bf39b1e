"""The emulator restarts (state directory kept) while a trigger waits: the wait resumes and ends well."""

import asyncio
import json

from airflow_provider_gemini_batch.emulator import EmulatorProcess
from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook
from airflow_provider_gemini_batch.triggers.batch import GeminiBatchJobTrigger
from tests.conftest import SENTINEL_KEY


async def test_wait_survives_an_emulator_restart(tmp_path, monkeypatch):
    state = tmp_path / "state"
    first = EmulatorProcess(state_dir=str(state), pending_seconds=1, running_seconds=2).start()
    port = first.base_url.rsplit(":", 1)[1]
    monkeypatch.setenv("AIRFLOW_CONN_RESTART", json.dumps({
        "conn_type": "gemini", "host": first.base_url, "password": SENTINEL_KEY,
        "extra": {"retry_max_wait_seconds": 0.3}}))
    hook = GeminiBatchHook("restart")
    name = hook.create_batch("gemini-2.5-flash", display_name="restart-me", requests=[
        {"request": {"contents": [{"parts": [{"text": "hi"}]}]}, "metadata": {"key": "k"}}])["name"]
    trigger = GeminiBatchJobTrigger(name, "restart", poll_interval=0.2, retry_max_wait_seconds=0.3,
                                    max_consecutive_errors=50)
    waiting = asyncio.create_task(anext(trigger.run()))
    await asyncio.sleep(0.5)
    first.stop()  # mid-wait: polls now fail with connection refused
    await asyncio.sleep(1.0)
    assert not waiting.done()
    second = EmulatorProcess(state_dir=str(state), port=int(port), pending_seconds=1, running_seconds=2).start()
    try:
        event = (await asyncio.wait_for(waiting, 30)).payload
        assert event["status"] == "terminal" and event["state"] == "JOB_STATE_SUCCEEDED"
        stats = second.stats()
        assert stats["jobs_created"] == 1 and stats["jobs"][0]["name"] == name
    finally:
        second.stop()
