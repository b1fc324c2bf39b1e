"""Valid input the old field lists refused, end to end: the operator validates, the emulator (its own
code, the same published schema data) accepts, results come back. And the emulator's answers where
the real API's shape matters: unknown routes in Google's error envelope, output-only batch fields
ignored on create, lower-case schema types refused like the real API does."""

from __future__ import annotations

import json

import httpx
import pytest
from google.genai import types

from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator

KEY = {"x-goog-api-key": "k"}
OK = {"contents": [{"role": "user", "parts": [{"text": "fine"}]}]}
# Each was refused before (issue 15): newer GenerationConfig / Part fields, a request-level field.
NEWER_FIELDS = {
    **OK,
    "continuationToken": "dG9rZW4=",
    "generationConfig": {
        "responseFormat": [{"text": {"mimeType": "text/plain"}}],
        "audioTranscriptionConfig": {}, "enableAffectiveDialog": False, "translationConfig": {},
    },
}


class TI:
    dag_id, task_id, run_id, map_index, try_number = "acceptance", "submit", "manual__1", -1, 1

    def __init__(self):
        self.pushed = {}

    def xcom_push(self, key, value):
        self.pushed[key] = value


def run(tmp_path, **kwargs):
    out = tmp_path / "results.jsonl"
    GeminiBatchSubmitOperator(task_id="submit", model="gemini-2.5-flash", poll_interval=0.1, deferrable=False,
                              results_path=str(out), **kwargs).execute({"ti": TI()})
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_file_with_bom_crlf_blank_lines_and_newer_fields(gemini_conn, tmp_path):
    src = tmp_path / "windows.jsonl"
    src.write_bytes(b"\xef\xbb\xbf" + json.dumps({"key": "a", "request": OK}).encode() + b"\r\n\r\n"
                    + json.dumps({"key": "b", "request": NEWER_FIELDS}).encode() + b"\r\n\r\n")
    rows = run(tmp_path, input_file=str(src))
    assert sorted(r["key"] for r in rows) == ["a", "b"] and all(r["status"] == "ok" for r in rows), rows


def test_typed_sdk_objects_in_requests(gemini_conn, tmp_path):
    rows = run(tmp_path, requests=[
        types.InlinedRequest(contents="Why is the sky blue?", metadata={"key": "sky"},
                             config=types.GenerateContentConfig(temperature=0.1, system_instruction="Be brief.")),
        types.Content(role="user", parts=[types.Part.from_text(text="A typed content")]),
    ])
    assert sorted(r["key"] for r in rows) == ["request-000001", "sky"]
    assert all(r["status"] == "ok" for r in rows), rows


def _create(emu, batch):
    return httpx.post(f"{emu.base_url}/v1beta/models/gemini-2.5-flash:batchGenerateContent", headers=KEY,
                      json={"batch": batch}, timeout=10)


def test_emulator_ignores_output_only_batch_fields_on_create(emu):
    r = _create(emu, {"display_name": "echoed", "state": "JOB_STATE_SUCCEEDED", "createTime": "2026-01-01T00:00:00Z",
                      "batchStats": {"requestCount": "9"}, "output": {},
                      "input_config": {"requests": {"requests": [{"request": OK, "metadata": {"key": "a"}}]}}})
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["state"] == "BATCH_STATE_PENDING"
    bogus = _create(emu, {"bogus": 1, "input_config": {"requests": {"requests": [{"request": OK}]}}})
    assert bogus.status_code == 400 and 'Unknown name "bogus"' in bogus.json()["error"]["message"]


@pytest.mark.parametrize("request_,where", [
    ({**OK, "generationConfig": {"responseMimeType": "application/json", "responseSchema": {"type": "object"}}},
     "generation_config.response_schema.type"),
    ({**OK, "generation_config": {"thinking_config": {"thinking_budget": "lots"}}},
     "generation_config.thinking_config.thinking_budget"),
    ({**OK, "safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_SOME"}]},
     "safety_settings[0].threshold"),
])
def test_emulator_refuses_what_the_real_api_refuses(emu, request_, where):
    r = _create(emu, {"input_config": {"requests": {"requests": [{"request": request_}]}}})
    err = r.json()["error"]
    assert r.status_code == 400 and err["status"] == "INVALID_ARGUMENT"
    assert f"Invalid value at 'batch.input_config.requests.requests[0].request.{where}'" in err["message"]
    assert emu.stats()["jobs_created"] == 0


@pytest.mark.parametrize("method,path", [("GET", "/v1beta/nothing/here"), ("DELETE", "/v1beta/models/x"),
                                         ("PUT", "/v1beta/batches/abc")])
def test_unknown_routes_answer_in_googles_envelope(emu, method, path):
    r = httpx.request(method, f"{emu.base_url}{path}", headers=KEY, timeout=10)
    body = r.json()
    assert r.status_code == 404 and set(body) == {"error"}, body
    assert body["error"]["code"] == 404 and body["error"]["status"] == "NOT_FOUND"
    assert path in body["error"]["message"]


def test_bad_query_parameter_answers_in_googles_envelope(emu):
    r = httpx.get(f"{emu.base_url}/v1beta/batches", params={"pageSize": "many"}, headers=KEY, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "pageSize" in r.json()["error"]["message"]
