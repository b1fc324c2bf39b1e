"""The realistic profile, driven through the real google-genai SDK and raw REST: every behaviour that
users of the real service report and the guide does not describe (sources in docs/emulator.md)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time

import httpx
import pytest
from google.genai import errors, types

from tests.conftest import wait_for_sdk_job

KEY = {"x-goog-api-key": "k"}
MODEL = "gemini-2.5-flash"
REAL_429 = ("You exceeded your current quota, please check your plan and billing details. "
            "For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.")


def digest(prompt: str, model: str = MODEL) -> str:
    """Computed here, independently of the emulator: sha256(model U+001F system U+001F prompt)[:12]."""
    return hashlib.sha256(f"models/{model}\x1f\x1f{prompt}".encode()).hexdigest()[:12]


def create(emu, prompts, model=MODEL, display_name="job"):
    body = {"batch": {"displayName": display_name, "inputConfig": {"requests": {"requests": [
        {"request": {"contents": [{"parts": [{"text": p}]}]}, "metadata": {"key": f"k{i}"}}
        for i, p in enumerate(prompts)]}}}}
    return httpx.post(f"{emu.base_url}/v1beta/models/{model}:batchGenerateContent", json=body, headers=KEY,
                      timeout=30)




def test_inline_answers_come_back_shuffled_and_without_metadata(realistic_sdk):
    prompts = [f"Question number {i}: what is {i} squared?" for i in range(300)]
    job = realistic_sdk.batches.create(model=MODEL, src=[
        {"contents": [{"parts": [{"text": p}], "role": "user"}], "metadata": {"key": f"row-{i}"}}
        for i, p in enumerate(prompts)])
    answers = wait_for_sdk_job(realistic_sdk, job.name, interval=0.05).dest.inlined_responses
    assert len(answers) == 300
    assert all(getattr(a, "metadata", None) is None for a in answers)
    texts = [a.response.text for a in answers]
    # Every answer is the answer to one of the prompts, each exactly once ...
    assert sorted(t.split()[2] for t in texts) == sorted(digest(p) for p in prompts)
    # ... but joining them by position attaches most of them to the wrong prompt.
    misplaced = sum(not t.startswith(f"Emulated answer {digest(p)}") for t, p in zip(texts, prompts))
    assert misplaced > 250


def test_default_profile_keeps_order_and_metadata(sdk):
    prompts = [f"Question {i}" for i in range(20)]
    job = sdk.batches.create(model=MODEL, src=[
        {"contents": [{"parts": [{"text": p}]}], "metadata": {"key": f"row-{i}"}} for i, p in enumerate(prompts)])
    answers = wait_for_sdk_job(sdk, job.name, interval=0.05).dest.inlined_responses
    assert [a.metadata for a in answers] == [{"key": f"row-{i}"} for i in range(20)]
    assert [a.response.text.split()[2] for a in answers] == [digest(p) for p in prompts]
    assert len(list(sdk.batches.list())) == 1  # no page size needed by the guide's API


def test_concurrent_job_limit_refuses_with_the_real_429_until_jobs_finish(realistic_emu, realistic_sdk):
    realistic_emu.configure(max_concurrent_jobs=3, pending_seconds=1.0, running_seconds=0.5)
    for i in range(3):
        assert create(realistic_emu, [f"p{i}"], display_name=f"shard-{i}").status_code == 200
    refused = create(realistic_emu, ["p3"], display_name="shard-3")
    assert refused.status_code == 429
    assert refused.json() == {"error": {"code": 429, "message": REAL_429, "status": "RESOURCE_EXHAUSTED"}}
    assert "retry-after" not in refused.headers
    with pytest.raises(errors.ClientError) as caught:
        realistic_sdk.batches.create(model=MODEL, src=[{"contents": [{"parts": [{"text": "p3"}]}]}],
                                     config={"display_name": "shard-3"})
    assert caught.value.code == 429 and caught.value.status == "RESOURCE_EXHAUSTED"
    assert caught.value.message == REAL_429
    stats = realistic_emu.stats()
    assert stats["live_jobs"] == 3 and stats["quota_refusals"] == {"concurrent_jobs": 2}
    time.sleep(1.6)  # the three jobs finish (nobody polls them: the real service finishes them anyway)
    assert create(realistic_emu, ["p3"], display_name="shard-3").status_code == 200
    stats = realistic_emu.stats()
    assert stats["peak_live_jobs"] == 3 and stats["live_jobs"] == 1
    assert stats["jobs_created_by_display_name"] == {"shard-0": 1, "shard-1": 1, "shard-2": 1, "shard-3": 1}


def test_enqueued_token_budget_is_per_model_estimated_from_text_and_freed_when_jobs_end(realistic_emu, tmp_path):
    # 40 characters at 4 a token: 10 tokens a request.
    realistic_emu.configure(enqueued_token_budget=50, chars_per_token=4.0, pending_seconds=1.0, running_seconds=0.5)
    three = ["x" * 40] * 3  # 30 tokens
    assert create(realistic_emu, three).status_code == 200
    second = create(realistic_emu, three)  # 60 > 50 on the same model
    assert second.status_code == 429 and second.json()["error"]["message"] == REAL_429
    assert create(realistic_emu, three, model="gemini-2.5-pro").status_code == 200  # its own budget
    realistic_emu.configure(enqueued_token_budgets="gemini-2.5-flash-lite=20")
    assert create(realistic_emu, three, model="gemini-2.5-flash-lite").status_code == 429
    assert create(realistic_emu, ["x" * 80], model="gemini-2.5-flash-lite").status_code == 200  # 20 tokens
    assert realistic_emu.stats()["enqueued_tokens"] == {"models/gemini-2.5-flash": 30, "models/gemini-2.5-pro": 30,
                                                        "models/gemini-2.5-flash-lite": 20}
    # File input counts the request text of every line, not the bytes of the JSON around it.
    lines = "".join(json.dumps({"key": f"k{i}", "request": {"contents": [{"parts": [{"text": "y" * 40}]}]}}) + "\n"
                    for i in range(3))
    from google import genai
    sdk = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=realistic_emu.base_url,
                                                                   api_version="v1beta"))
    src = tmp_path / "in.jsonl"
    src.write_text(lines)
    uploaded = sdk.files.upload(file=str(src), config=types.UploadFileConfig(mime_type="jsonl"))
    with pytest.raises(errors.ClientError, match="You exceeded your current quota"):
        sdk.batches.create(model=MODEL, src=uploaded.name)  # 30 + 30 > 50
    time.sleep(1.6)
    assert sdk.batches.create(model=MODEL, src=uploaded.name).name.startswith("batches/")
    assert realistic_emu.stats()["enqueued_tokens"]["models/gemini-2.5-flash"] == 30
    # A job bigger than the whole budget is never accepted: it must be split.
    time.sleep(1.6)
    assert create(realistic_emu, ["x" * 400]).status_code == 429
    assert realistic_emu.stats()["quota_refusals"]["enqueued_tokens"] == 4


def test_file_storage_quota_refuses_uploads_with_the_real_429(realistic_emu, realistic_sdk, tmp_path):
    realistic_emu.configure(file_storage_bytes=1000)
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_bytes(b"x" * 600)
    second.write_bytes(b"y" * 600)
    kept = realistic_sdk.files.upload(file=str(first), config=types.UploadFileConfig(mime_type="jsonl"))
    with pytest.raises(errors.ClientError) as caught:
        realistic_sdk.files.upload(file=str(second), config=types.UploadFileConfig(mime_type="jsonl"))
    assert caught.value.code == 429 and caught.value.message == REAL_429
    realistic_sdk.files.delete(name=kept.name)
    assert realistic_sdk.files.upload(file=str(second), config=types.UploadFileConfig(mime_type="jsonl")).name
    assert realistic_emu.stats()["file_storage_bytes"] == 600


def test_files_expire_after_48_emulated_hours(realistic_emu, realistic_sdk, tmp_path):
    realistic_emu.configure(time_scale=48 * 3600 / 1.5)  # 48 hours in 1.5 seconds
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"key": "a", "request": {"contents": [{"parts": [{"text": "hi"}]}]}}) + "\n")
    uploaded = realistic_sdk.files.upload(file=str(src), config=types.UploadFileConfig(mime_type="jsonl"))
    lifetime = (uploaded.expiration_time - uploaded.create_time).total_seconds()
    assert 1.4 < lifetime < 1.6
    assert realistic_sdk.files.get(name=uploaded.name).name == uploaded.name
    time.sleep(1.7)
    with pytest.raises(errors.ClientError) as caught:
        realistic_sdk.files.get(name=uploaded.name)
    assert caught.value.code == 404 and f"{uploaded.name} not found" in caught.value.message
    assert list(realistic_sdk.files.list(config={"page_size": 10})) == []
    with pytest.raises(errors.ClientError, match=f"{uploaded.name} not found"):
        realistic_sdk.batches.create(model=MODEL, src=uploaded.name)


def test_a_share_of_jobs_stays_pending_until_it_expires(realistic_emu, realistic_sdk):
    realistic_emu.configure(stuck_pending_share=0.5, time_scale=48 * 3600 / 5.0, pending_seconds=0.1,
                            running_seconds=0.2)
    start = time.monotonic()
    names = [create(realistic_emu, [f"p{i}"]).json()["name"] for i in range(24)]
    created = time.monotonic()
    time.sleep(0.5)  # the last one created is past its 0.3 s of pending + running
    states = {n: realistic_sdk.batches.get(name=n).state.name for n in names}
    live = realistic_emu.stats()["live_jobs"]
    assert time.monotonic() - start < 4.5, "too slow to see the jobs before they expire"
    stuck = [n for n, s in states.items() if s == "JOB_STATE_PENDING"]
    assert set(states.values()) == {"JOB_STATE_PENDING", "JOB_STATE_SUCCEEDED"}
    assert 4 <= len(stuck) <= 20
    assert live == len(stuck)  # stuck jobs hold quota while they wait
    time.sleep(max(0.0, created + 5.3 - time.monotonic()))
    assert {realistic_sdk.batches.get(name=n).state.name for n in stuck} == {"JOB_STATE_EXPIRED"}
    expired = realistic_sdk.batches.get(name=stuck[0])
    assert expired.dest is None and realistic_emu.stats()["live_jobs"] == 0


def test_list_without_a_page_size_returns_nothing_and_our_hook_always_pages(realistic_conn, realistic_sdk):
    from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook

    names = {create(realistic_conn, ["p"], display_name=f"night-{i}").json()["name"] for i in range(7)}
    assert list(realistic_sdk.batches.list()) == []  # python-genai #1250
    assert {j.name for j in realistic_sdk.batches.list(config={"page_size": 3})} == names
    hook = GeminiBatchHook()
    assert {j["name"] for j in hook.iter_jobs_raw(page_size=2)} == names
    assert [j.name for j in hook.find_jobs(display_name="night-4")] and len(hook.find_jobs(display_name_prefix="night-")) == 7
    assert hook.test_connection()[0] is True
    # One unpaged call: the SDK's above. None of the hook's.
    assert realistic_conn.stats()["unpaged_list_calls"] == 1


def test_cli_takes_the_profile_and_refuses_an_unknown_one():
    done = subprocess.run([sys.executable, "-m", "airflow_provider_gemini_batch.emulator", "--profile", "production"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "argument --profile: invalid choice: 'production'" in done.stderr and "realistic" in done.stderr


def test_realistic_profile_is_reported_by_the_admin_api(realistic_emu):
    assert realistic_emu.stats()["config"]["profile"] == "realistic"
    assert realistic_emu.stats()["config"]["max_concurrent_jobs"] == 100
