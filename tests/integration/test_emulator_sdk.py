"""The real google-genai SDK, sync and async, drives every call in the guide against the emulator."""

import json
import time

import pytest
from google.genai import types

from tests.conftest import SDK_DONE_STATES, wait_for_sdk_job
from tests.versions import GENAI_DOWNLOAD_TO_FILE, GENAI_EMBEDDINGS, GENAI_INLINE_METADATA, GENAI_RUNNING_STATE

PROMPTS = [{"contents": [{"parts": [{"text": "Tell me a one-sentence joke."}], "role": "user"}]},
           {"contents": [{"parts": [{"text": "Why is the sky blue?"}], "role": "user"}]}]
DONE = SDK_DONE_STATES




@GENAI_RUNNING_STATE
def test_inline_create_poll_and_read_as_the_guide_does(sdk):
    job = sdk.batches.create(model="models/gemini-2.5-flash", src=PROMPTS,
                             config={"display_name": "inlined-requests-job-1"})
    assert job.name.startswith("batches/") and job.state.name == "JOB_STATE_PENDING"
    seen = {job.state.name}
    while (job := sdk.batches.get(name=job.name)).state.name not in DONE:
        seen.add(job.state.name)
        time.sleep(0.05)
    assert "JOB_STATE_RUNNING" in seen and job.state.name == "JOB_STATE_SUCCEEDED"
    texts = [r.response.text for r in job.dest.inlined_responses]
    assert len(texts) == 2 and all(texts) and texts[0] != texts[1]
    again = sdk.batches.create(model="gemini-2.5-flash", src=PROMPTS[:1])
    assert wait_for_sdk_job(sdk, again.name).dest.inlined_responses[0].response.text == texts[0]  # deterministic


@GENAI_INLINE_METADATA
def test_structured_output_validates_against_the_schema(sdk):
    schema = {"type": "ARRAY", "items": {"type": "OBJECT", "properties": {
        "recipe_name": {"type": "STRING"}, "ingredients": {"type": "ARRAY", "items": {"type": "STRING"}}},
        "required": ["recipe_name"]}}
    job = sdk.batches.create(model="gemini-2.5-flash", src=[{
        "contents": [{"parts": [{"text": "List cookie recipes"}], "role": "user"}],
        "config": {"response_mime_type": "application/json", "response_schema": schema,
                   "system_instruction": "You are a baker."},
        "metadata": {"key": "cookies"}}])
    result = wait_for_sdk_job(sdk, job.name).dest.inlined_responses[0]
    recipes = json.loads(result.response.text)
    assert isinstance(recipes, list) and all(isinstance(r["recipe_name"], str) for r in recipes)
    assert all(isinstance(i, str) for r in recipes for i in r["ingredients"])
    assert result.metadata == {"key": "cookies"}


@GENAI_DOWNLOAD_TO_FILE
def test_jsonl_upload_file_job_and_download(sdk, tmp_path):
    src = tmp_path / "my-batch-requests.jsonl"
    src.write_text("".join(json.dumps({"key": f"request-{i}", "request": {
        "contents": [{"parts": [{"text": f"Question {i}"}]}], "generation_config": {"temperature": 0.7}}}) + "\n"
        for i in range(5)))
    uploaded = sdk.files.upload(file=str(src), config=types.UploadFileConfig(display_name="my-batch-requests",
                                                                             mime_type="jsonl"))
    assert uploaded.name.startswith("files/") and uploaded.size_bytes == src.stat().st_size
    job = wait_for_sdk_job(sdk, sdk.batches.create(model="gemini-2.5-flash", src=uploaded.name,
                                       config={"display_name": "file-upload-job-1"}).name)
    assert job.dest.file_name.startswith("files/batch-") and len(job.dest.file_name) <= 40
    lines = [json.loads(l) for l in sdk.files.download(file=job.dest.file_name).decode().splitlines()]
    assert sorted(l["key"] for l in lines) == [f"request-{i}" for i in range(5)]
    assert all(l["response"]["candidates"][0]["content"]["parts"][0]["text"] for l in lines)
    streamed = tmp_path / "out.jsonl"
    sdk.files.download(file=job.dest.file_name, destination=str(streamed))
    assert streamed.read_text().count("\n") == 5


@GENAI_EMBEDDINGS
def test_embeddings_inline_and_file(sdk, tmp_path):
    inline = sdk.batches.create_embeddings(
        model="gemini-embedding-001",
        src={"inlined_requests": {"contents": [{"parts": [{"text": "a"}]}, {"parts": [{"text": "b"}]}],
                                  "config": {"output_dimensionality": 16}}},
        config={"display_name": "Inlined embeddings batch"})
    done = wait_for_sdk_job(sdk, inline.name)
    vectors = [r.response.embedding.values for r in done.dest.inlined_embed_content_responses]
    assert [len(v) for v in vectors] == [16, 16] and vectors[0] != vectors[1]
    src = tmp_path / "embed.jsonl"
    src.write_text("".join(json.dumps({"key": f"t{i}", "request": {"content": {"parts": [{"text": f"text {i}"}]}}}) + "\n"
                           for i in range(3)))
    uploaded = sdk.files.upload(file=str(src), config={"mime_type": "application/jsonl"})
    job = wait_for_sdk_job(sdk, sdk.batches.create_embeddings(model="gemini-embedding-001", src={"file_name": uploaded.name},
                                                  config={"display_name": "Input embeddings batch"}).name)
    rows = [json.loads(l) for l in sdk.files.download(file=job.dest.file_name).decode().splitlines()]
    assert sorted(r["key"] for r in rows) == ["t0", "t1", "t2"]
    assert all(len(r["response"]["embedding"]["values"]) == 3072 for r in rows)


def test_list_paging_cancel_and_delete(sdk):
    names = [sdk.batches.create(model="gemini-2.5-flash", src=PROMPTS[:1], config={"display_name": f"j{i}"}).name
             for i in range(5)]
    pager = sdk.batches.list(config={"page_size": 2})
    assert len(pager.page) == 2
    assert set(names) <= {j.name for j in pager}
    sdk.batches.cancel(name=names[0])
    assert sdk.batches.get(name=names[0]).state.name == "JOB_STATE_CANCELLED"
    sdk.batches.delete(name=names[1])
    assert names[1] not in {j.name for j in sdk.batches.list(config={"page_size": 100})}
    from google.genai import errors
    with pytest.raises(errors.ClientError) as info:
        sdk.batches.get(name=names[1])
    assert info.value.code == 404


def test_v1_works_too(emu):
    from google import genai

    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=emu.base_url, api_version="v1"))
    job = client.batches.create(model="gemini-2.5-flash", src=PROMPTS[:1])
    assert wait_for_sdk_job(client, job.name).state.name == "JOB_STATE_SUCCEEDED"


async def test_async_client_drives_the_same_calls(sdk, tmp_path):
    aio = sdk.aio
    job = await aio.batches.create(model="gemini-2.5-flash", src=PROMPTS, config={"display_name": "async"})
    import asyncio
    while (job := await aio.batches.get(name=job.name)).state.name not in DONE:
        await asyncio.sleep(0.1)
    assert len(job.dest.inlined_responses) == 2
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps({"key": "k", "request": PROMPTS[0]}) + "\n")
    uploaded = await aio.files.upload(file=str(src), config={"mime_type": "application/jsonl"})
    fjob = await aio.batches.create(model="gemini-2.5-flash", src=uploaded.name)
    while (fjob := await aio.batches.get(name=fjob.name)).state.name not in DONE:
        await asyncio.sleep(0.1)
    data = await aio.files.download(file=fjob.dest.file_name)
    assert json.loads(data.decode().splitlines()[0])["key"] == "k"
    names = [j.name async for j in await aio.batches.list(config={"page_size": 1})]
    assert {job.name, fjob.name} <= set(names)
    await aio.batches.cancel(name=(await aio.batches.create(model="gemini-2.5-flash", src=PROMPTS[:1])).name)
    await aio.batches.delete(name=job.name)


def test_pytest_plugin_fixture_serves_the_sdk(gemini_emulator):
    from google import genai

    client = genai.Client(api_key="any", http_options=types.HttpOptions(base_url=gemini_emulator.base_url))
    job = client.batches.create(model="gemini-2.5-flash", src=PROMPTS[:1])
    assert wait_for_sdk_job(client, job.name).state.name == "JOB_STATE_SUCCEEDED"
