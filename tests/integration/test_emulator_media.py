"""The emulator's media behaviour, through the google-genai SDK and our hook over HTTP: fileData must
name a live file of the stated MIME type, answers reflect the media's bytes, files report sha256Hash
as the real API does, and an image-generation model answers with a PNG."""

from __future__ import annotations

import base64
import hashlib
import io
import time

import pytest

from airflow_provider_gemini_batch.core.media import sha256_hex_of_api
from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook


def run_inline(hook, parts_list, model="gemini-2.5-flash"):
    requests = [{"request": {"contents": [{"role": "user", "parts": parts}]}, "metadata": {"key": f"k{i}"}}
                for i, parts in enumerate(parts_list)]
    name = hook.create_batch(model, requests=requests)["name"]
    deadline = time.time() + 20
    while not hook.get_snapshot(name).is_terminal:
        assert time.time() < deadline
        time.sleep(0.1)
    raw = hook.get_job_raw(name)
    items = raw["metadata"]["output"]["inlinedResponses"]["inlinedResponses"]
    return {item["metadata"]["key"]: item for item in items}


@pytest.fixture
def hook(gemini_conn):
    return GeminiBatchHook()


def upload(hook, data: bytes, mime: str) -> dict:
    return hook.upload_file(io.BytesIO(data), display_name="t", mime_type=mime)


def test_uploaded_files_report_sha256_as_the_api_does(hook, sdk):
    data = b"%PDF-1.4 some document"
    meta = upload(hook, data, "application/pdf")
    hex_digest = hashlib.sha256(data).hexdigest()
    assert meta["sha256Hash"] == base64.b64encode(hex_digest.encode()).decode()  # base64 of the hex digest
    assert sha256_hex_of_api(meta["sha256Hash"]) == hex_digest
    assert sdk.files.get(name=meta["name"]).sha256_hash == meta["sha256Hash"]  # the SDK's File type reads it


def test_answers_reflect_the_bytes_of_inline_and_uploaded_media(hook):
    a, b = b"\x89PNG\r\n\x1a\n first picture", b"%PDF-1.4 second document"
    meta = upload(hook, b, "application/pdf")
    answers = run_inline(hook, [
        [{"inlineData": {"mimeType": "image/png", "data": base64.b64encode(a).decode()}}, {"text": "what is it"}],
        [{"fileData": {"mimeType": "application/pdf", "fileUri": meta["uri"]}}, {"text": "what is it"}],
        [{"fileData": {"mimeType": "application/pdf", "fileUri": meta["name"]}}, {"text": "what is it"}],
    ])
    text = {k: v["response"]["candidates"][0]["content"]["parts"][0]["text"] for k, v in answers.items()}
    assert f"[media sha256 {hashlib.sha256(a).hexdigest()[:16]}]" in text["k0"]
    assert f"[media sha256 {hashlib.sha256(b).hexdigest()[:16]}]" in text["k1"]
    assert text["k1"] == text["k2"]  # the File's uri and its files/ name reach the same file
    assert text["k0"] != text["k1"]


def test_file_data_naming_a_missing_expired_or_mistyped_file_fails_that_request(hook, gemini_conn):
    deleted = upload(hook, b"%PDF-1.4 gone", "application/pdf")
    hook.delete_file(deleted["name"])
    expired = upload(hook, b"%PDF-1.4 old", "application/pdf")
    gemini_conn.admin("POST", f"files/{expired['name'].removeprefix('files/')}/expire", {})
    live = upload(hook, b"%PDF-1.4 live", "application/pdf")
    answers = run_inline(hook, [
        [{"fileData": {"mimeType": "application/pdf", "fileUri": deleted["uri"]}}, {"text": "x"}],
        [{"fileData": {"mimeType": "application/pdf", "fileUri": expired["uri"]}}, {"text": "x"}],
        [{"fileData": {"mimeType": "image/png", "fileUri": live["uri"]}}, {"text": "x"}],
        [{"fileData": {"mimeType": "application/pdf", "fileUri": live["uri"]}}, {"text": "x"}],
    ])
    for key, file in (("k0", deleted), ("k1", expired)):
        error = answers[key]["error"]
        assert error["code"] == 403 and error["status"] == "PERMISSION_DENIED"
        assert f"File {file['name'].removeprefix('files/')} or it may not exist" in error["message"]
    assert answers["k2"]["error"]["code"] == 400 and "does not match" in answers["k2"]["error"]["message"]
    assert "response" in answers["k3"]
    stats = hook.get_snapshot(hook.find_jobs()[0].name).counts()
    assert stats["failed"] == 3 and stats["succeeded"] == 1


def test_an_image_generation_model_answers_with_a_deterministic_png(hook):
    first = run_inline(hook, [[{"text": "a red bicycle"}], [{"text": "a blue boat"}]], model="gemini-2.5-flash-image")
    again = run_inline(hook, [[{"text": "a red bicycle"}]], model="gemini-2.5-flash-image")
    images = {}
    for key, item in first.items():
        parts = item["response"]["candidates"][0]["content"]["parts"]
        inline = parts[1]["inlineData"]
        assert inline["mimeType"] == "image/png"
        images[key] = base64.b64decode(inline["data"])
        assert images[key].startswith(b"\x89PNG\r\n\x1a\n")
    assert images["k0"] != images["k1"]
    assert base64.b64decode(again["k0"]["response"]["candidates"][0]["content"]["parts"][1]["inlineData"]["data"]) \
        == images["k0"]


def test_the_upload_ledger_counts_uploads_by_content(hook, gemini_conn):
    upload(hook, b"%PDF-1.4 same", "application/pdf")
    upload(hook, b"%PDF-1.4 same", "application/pdf")
    upload(hook, b"%PDF-1.4 other", "application/pdf")
    ledger = gemini_conn.admin("GET", "media")
    assert ledger["uploads"] == 3 and ledger["distinct"] == 2
    assert ledger["by_sha256"][hashlib.sha256(b"%PDF-1.4 same").hexdigest()] == 2
