"""Generated conformance: every field path of GenerateContentRequest and EmbedContentRequest in the
schema snapshot, judged by our validator and by the emulator (which has its own code).

- A type-correct sample in camelCase, snake_case and google-genai's `config=` spelling is accepted by
  both: the validator directly; the emulator through real jobs (REST spellings as one JSONL file per
  root, the config spelling through the real SDK's batches.create, which turns it into the wire form).
- A wrong-type and (for enums) a wrong-value sample is refused by both, each with a message naming the
  field's path: the validator raises; the emulator answers each line of one JSONL job with an error.

Many paths share few jobs, so this stays a few seconds.
"""

from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_gemini_batch.core.requests import normalize_embed_request, normalize_generate_request
from airflow_provider_gemini_batch.exceptions import GeminiRequestError
from tests.conformance_samples import ROOTS, samples, wrong_type, wrong_value
from tests.conftest import wait_for_sdk_job

MODELS = {"GenerateContentRequest": "gemini-2.5-flash", "EmbedContentRequest": "gemini-embedding-001"}
NORMALIZE = {"GenerateContentRequest": normalize_generate_request, "EmbedContentRequest": normalize_embed_request}


@pytest.fixture(autouse=True)
def _quiet_unknown_field_warnings():
    # Vertex-only fields are accepted with a warning; a thousand of them would only be noise here.
    logging.getLogger("airflow_provider_gemini_batch.core.requests").setLevel(logging.ERROR)
    yield
    logging.getLogger("airflow_provider_gemini_batch.core.requests").setLevel(logging.NOTSET)


def _bad_samples(root):
    out = [("wrong type", s) for s in samples(root, wrong_type)]
    out += [("wrong value", s) for s in samples(root, wrong_value)]
    return out


# ------------------------------------------------------------------ the validator
@pytest.mark.parametrize("root", ROOTS)
def test_validator_accepts_every_field_path_in_every_spelling(root):
    all_samples = samples(root)
    assert len({s.path for s in all_samples}) > (400 if root == "GenerateContentRequest" else 100)
    assert {s.spelling for s in all_samples} == {"camel", "snake", "config"}
    refused = []
    for s in all_samples:
        try:
            NORMALIZE[root](s.request, "r")
        except GeminiRequestError as exc:
            refused.append(f"{s.spelling} {s.path}: {exc}")
    assert not refused, "\n".join(refused[:20])


@pytest.mark.parametrize("root", ROOTS)
def test_validator_refuses_wrong_types_and_values_naming_the_path(root):
    bad = _bad_samples(root)
    assert sum(1 for what, _ in bad if what == "wrong value") > (20 if root == "GenerateContentRequest" else 2)
    wrong = []
    for what, s in bad:
        try:
            NORMALIZE[root](s.request, "r")
            wrong.append(f"accepted {what} at {s.spelling} {s.names}")
        except GeminiRequestError as exc:
            if f"r.{s.names}" not in str(exc):
                wrong.append(f"{what} at {s.names}: message does not name it: {exc}")
    assert not wrong, "\n".join(wrong[:20])


# ------------------------------------------------------------------ the emulator, through real jobs


def _run_file_job(sdk, tmp_path, root, records):
    path = tmp_path / f"{root}-{len(records)}.jsonl"
    path.write_text("".join(json.dumps({"key": key, "request": request}) + "\n" for key, request in records))
    uploaded = sdk.files.upload(file=str(path), config={"mime_type": "application/jsonl"})
    if root == "EmbedContentRequest":
        job = sdk.batches.create_embeddings(model=MODELS[root], src={"file_name": uploaded.name})
    else:
        job = sdk.batches.create(model=MODELS[root], src=uploaded.name)
    job = wait_for_sdk_job(sdk, job.name, timeout=60)
    assert job.state.name == "JOB_STATE_SUCCEEDED", job.error
    lines = [json.loads(line) for line in sdk.files.download(file=job.dest.file_name).decode().splitlines()]
    return {line["key"]: line for line in lines}


@pytest.mark.parametrize("root", ROOTS)
def test_emulator_accepts_every_field_path_in_rest_spellings(sdk, tmp_path, root):
    good = [s for s in samples(root) if s.spelling in ("camel", "snake")]
    # fileData must name a live file of its stated MIME type (as the real API checks): point every
    # sample's fileData at one real upload, keeping each field the sample exercises.
    media = tmp_path / "note.txt"
    media.write_text("a file for fileData samples")
    live = sdk.files.upload(file=str(media), config={"mime_type": "text/plain"})
    records = [(f"{s.spelling}:{s.path}", _with_live_files(s.request, live.uri, "text/plain")) for s in good]
    results = _run_file_job(sdk, tmp_path, root, records)
    assert len(results) == len(good)
    refused = {key: line["error"]["message"] for key, line in results.items() if "error" in line}
    assert not refused, json.dumps(dict(list(refused.items())[:10]), indent=1)


def _with_live_files(value, uri: str, mime: str):
    """A copy of a request whose every fileData names the live upload `uri` (of type `mime`)."""
    if isinstance(value, list):
        return [_with_live_files(v, uri, mime) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _with_live_files(v, uri, mime) for k, v in value.items()}
    for key, (uri_key, mime_key) in (("fileData", ("fileUri", "mimeType")), ("file_data", ("file_uri", "mime_type"))):
        if isinstance(out.get(key), dict):
            out[key] = {**out[key], uri_key: uri, mime_key: mime}
    return out


@pytest.mark.parametrize("root", ROOTS)
def test_emulator_refuses_wrong_types_and_values_naming_the_path(sdk, tmp_path, root):
    bad = [(what, s) for what, s in _bad_samples(root) if s.spelling in ("camel", "snake")]
    records = [(f"{what}:{s.spelling}:{s.path}", s.request) for what, s in bad]
    results = _run_file_job(sdk, tmp_path, root, records)
    wrong = []
    for (_what, s), (key, _) in zip(bad, records):
        line = results[key]
        if "error" not in line:
            wrong.append(f"accepted {key}")
        elif f"request.{s.names}" not in line["error"]["message"]:
            wrong.append(f"{key}: message does not name {s.names}: {line['error']['message']}")
    assert not wrong, "\n".join(wrong[:20])


def test_emulator_accepts_the_config_spelling_through_the_real_sdk(sdk):
    """google-genai turns `config=` into the wire form itself; the emulator must take what it sends.
    Vertex-only fields (the SDK refuses them for the Gemini API) and fields the SDK's config lacks
    (responseFormat, documented in the API reference) cannot go this way: the REST tests cover them."""
    via_sdk = [s for s in samples("GenerateContentRequest") if s.spelling == "config" and s.via_sdk]
    assert len(via_sdk) > 250
    src = [{**s.request, "metadata": {"key": s.path}} for s in via_sdk]
    job = sdk.batches.create(model=MODELS["GenerateContentRequest"], src=src)  # 400 here = refused
    job = wait_for_sdk_job(sdk, job.name, timeout=60)
    answers = job.dest.inlined_responses
    assert len(answers) == len(via_sdk)
    errors = [(a.metadata, a.error) for a in answers if a.error is not None]
    assert not errors, errors[:10]
    embed = [s for s in samples("EmbedContentRequest") if s.spelling == "config" and s.via_sdk]
    assert {s.path for s in embed} == {"taskType", "title", "outputDimensionality"}
    for s in embed:
        job = sdk.batches.create_embeddings(model=MODELS["EmbedContentRequest"], src={"inlined_requests": {
            "contents": [s.request["content"]], "config": s.request["config"]}})
        assert wait_for_sdk_job(sdk, job.name, timeout=60).state.name == "JOB_STATE_SUCCEEDED", s.path
