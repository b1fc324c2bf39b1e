"""The bad-input catalogue: each mistake gets a typed error naming the line, key or field and the fix,
raised before any billable call (the emulator created no job and received no upload), key never shown.

The operators' execute() runs for real against the emulator; only the task instance is a stand-in,
because nothing here reaches the scheduler.
"""

from __future__ import annotations

import gzip
import json
from functools import partial

import pytest

from airflow_provider_gemini_batch import exceptions as exc
from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook
from airflow_provider_gemini_batch.operators.batch import (
    GeminiBatchCancelOperator,
    GeminiBatchDeleteOperator,
    GeminiBatchEmbedOperator,
    GeminiBatchGetResultsOperator,
    GeminiBatchSubmitOperator,
)
from airflow_provider_gemini_batch.sensors.batch import GeminiBatchJobSensor
from tests.conftest import SENTINEL_KEY
from tests.standins import TaskInstanceStandIn as _TaskInstance

TaskInstanceStandIn = partial(_TaskInstance, dag_id="catalogue")

OK = {"contents": [{"role": "user", "parts": [{"text": "fine"}]}]}


def submit(embeddings=False, **kwargs):
    cls = GeminiBatchEmbedOperator if embeddings else GeminiBatchSubmitOperator
    kwargs.setdefault("model", "gemini-embedding-001" if embeddings else "gemini-2.5-flash")
    return cls(task_id="submit", poll_interval=0.1, **kwargs).execute({"ti": TaskInstanceStandIn()})


def jsonl(tmp_path, *lines, name="in.jsonl"):
    path = tmp_path / name
    path.write_bytes(b"".join(l if isinstance(l, bytes) else json.dumps(l).encode() + b"\n" for l in lines))
    return str(path)


def refused(emu, error_type, *fragments, call):
    with pytest.raises(error_type) as info:
        call()
    # exactly this class: pytest.raises also accepts a subclass, and the catalogue names the one a user catches
    assert type(info.value) is error_type, f"{type(info.value).__name__}: {info.value}"
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert SENTINEL_KEY not in message and SENTINEL_KEY not in repr(info.value)
    stats = emu.stats()
    assert stats["jobs_created"] == 0, "a job was created"
    assert stats["calls"].get("files.upload", 0) == 0, "something was uploaded"
    return message


# ------------------------------------------------------------------ JSONL files
def test_malformed_json_line(gemini_conn, tmp_path):
    refused(gemini_conn, exc.GeminiRequestError, "in.jsonl line 2", "malformed JSON",
            call=lambda: submit(input_file=jsonl(tmp_path, {"key": "a", "request": OK}, b'{"key": "b", "request": {\n')))


def test_blank_lines_are_skipped_and_do_not_shift_line_numbers(gemini_conn, tmp_path):
    # Blank lines (and a BOM, and CRLF) are accepted: the file is rewritten anyway. A later mistake is
    # still named by the line number an editor shows.
    refused(gemini_conn, exc.GeminiRequestError, "in.jsonl line 4 (key 'c').request.contents", "non-empty list",
            call=lambda: submit(input_file=jsonl(tmp_path, b"\xef\xbb\xbf" + json.dumps({"key": "a", "request": OK}).encode()
                                                 + b"\r\n", b"\r\n", {"key": "b", "request": OK},
                                                 {"key": "c", "request": {"contents": []}})))


def test_line_not_an_object(gemini_conn, tmp_path):
    refused(gemini_conn, exc.GeminiRequestError, "line 1", "must be a JSON object",
            call=lambda: submit(input_file=jsonl(tmp_path, ["key", "request"])))


def test_missing_request(gemini_conn, tmp_path):
    refused(gemini_conn, exc.GeminiRequestError, "line 1.request", "{'key': '...', 'request': {...}}",
            call=lambda: submit(input_file=jsonl(tmp_path, {"key": "a", "contents": []})))


def test_missing_key(gemini_conn, tmp_path):
    refused(gemini_conn, exc.GeminiRequestError, "line 1.key", "no 'key'",
            call=lambda: submit(input_file=jsonl(tmp_path, {"request": OK})))


def test_empty_key_in_a_line(gemini_conn, tmp_path):
    refused(gemini_conn, exc.GeminiRequestError, "line 1.key", "non-empty string",
            call=lambda: submit(input_file=jsonl(tmp_path, {"key": "", "request": OK})))


def test_duplicate_keys_in_a_file(gemini_conn, tmp_path):
    refused(gemini_conn, exc.GeminiRequestError, "line 3", "duplicate key 'a'", "first used at", "line 1",
            call=lambda: submit(input_file=jsonl(tmp_path, {"key": "a", "request": OK}, {"key": "b", "request": OK},
                                                 {"key": "a", "request": OK})))


def test_non_utf8_file(gemini_conn, tmp_path):
    refused(gemini_conn, exc.GeminiRequestError, "line 1", "not UTF-8", "save the file as UTF-8",
            call=lambda: submit(input_file=jsonl(tmp_path, '{"key": "a", "request": "caf\xe9"}\n'.encode("latin-1"))))


def test_gzip_file_passed_as_jsonl(gemini_conn, tmp_path):
    data = gzip.compress(json.dumps({"key": "a", "request": OK}).encode() + b"\n")
    refused(gemini_conn, exc.GeminiRequestError, "gzip file", "decompress it first",
            call=lambda: submit(input_file=jsonl(tmp_path, data, name="in.jsonl.gz")))


def test_empty_file(gemini_conn, tmp_path):
    refused(gemini_conn, exc.GeminiRequestError, "the file is empty",
            call=lambda: submit(input_file=jsonl(tmp_path)))


# ------------------------------------------------------------------ request contents
def test_duplicate_keys_in_a_list(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "requests[1]", "duplicate key 'k'",
            call=lambda: submit(requests=[{"key": "k", "request": OK}, {"key": "k", "request": OK}]))


def test_non_string_metadata_values(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "requests[0].metadata", "metadata values must be strings",
            call=lambda: submit(requests=[{**OK, "metadata": {"key": "a", "batch": 7}}]))


def test_guide_typo_system_instructions(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "requests[0]", "'system_instructions'",
            "did you mean 'system_instruction'",
            call=lambda: submit(requests=[{**OK, "system_instructions": {"parts": [{"text": "You are a cat."}]}}]))


def test_guide_tool_with_trailing_space(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "requests[0].tools[0]", "'google_search '", "write 'google_search'",
            call=lambda: submit(requests=[{**OK, "tools": [{"google_search ": {}}]}]))


def test_unknown_request_field(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "requests[0]", "unknown field 'prompt'", "known fields",
            call=lambda: submit(requests=[{"prompt": "hello"}]))


def test_empty_contents(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "requests[0].contents", "non-empty list",
            call=lambda: submit(requests=[{"contents": []}]))


def test_wrong_role(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "requests[0].contents[0].role", "'assistant'", "'user' or 'model'",
            call=lambda: submit(requests=[{"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}]))


def test_invalid_response_schema(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "generation_config.response_schema.properties.n.type", "'float'",
            call=lambda: submit(requests=[{**OK, "generation_config": {
                "response_mime_type": "application/json",
                "response_schema": {"type": "OBJECT", "properties": {"n": {"type": "float"}}}}}]))


def test_response_schema_without_json_mime_type(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "response_mime_type", "'application/json'",
            call=lambda: submit(requests=[{**OK, "config": {"response_schema": {"type": "STRING"}}}]))


def test_lower_case_schema_type_in_rest_spelling(gemini_conn):
    # The API refuses "object" with 400; google-genai upper-cases it only when it comes through config=.
    refused(gemini_conn, exc.GeminiRequestError, "generation_config.response_schema.type", "write 'OBJECT'",
            call=lambda: submit(requests=[{**OK, "generationConfig": {
                "responseMimeType": "application/json", "responseSchema": {"type": "object"}}}]))


def test_wrong_type_deep_in_generation_config(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "requests[0].generation_config.thinking_config.thinking_budget",
            "must be an integer", "'lots'",
            call=lambda: submit(requests=[{**OK, "generation_config": {"thinking_config": {"thinking_budget": "lots"}}}]))


def test_wrong_enum_value(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "requests[0].safety_settings[0].threshold", "'BLOCK_SOME'",
            "is not one of", "BLOCK_NONE",
            call=lambda: submit(requests=[{**OK, "safetySettings": [
                {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_SOME"}]}]))


def test_near_miss_of_a_nested_field(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "requests[0].generation_config.thinking_config",
            "'thinkng_budget'", "did you mean 'thinking_budget'",
            call=lambda: submit(requests=[{**OK, "generation_config": {"thinking_config": {"thinkng_budget": 5}}}]))


def test_unknown_field_with_strict_validation(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "requests[0].generation_config", "unknown field 'fancyNewKnob'",
            "strict_validation=True",
            call=lambda: submit(strict_validation=True, requests=[{**OK, "generationConfig": {"fancyNewKnob": 1}}]))


def test_temperature_out_of_range(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "generation_config.temperature", "0 to 2",
            call=lambda: submit(requests=[{**OK, "generationConfig": {"temperature": 3.5}}]))


def test_empty_prompt_string(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "requests[1]", "prompt is empty",
            call=lambda: submit(requests=["fine", "   "]))


def test_empty_input_list(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "the batch is empty", call=lambda: submit(requests=[]))


def test_neither_requests_nor_input_file(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "exactly one of requests= or input_file=", call=lambda: submit())


def test_inline_batch_over_20_mb_at_the_hook(gemini_conn):
    big = [{"request": {"contents": [{"parts": [{"text": "x" * (21 * 1024 * 1024)}]}]}, "metadata": {"key": "k"}}]
    refused(gemini_conn, exc.GeminiInvalidRequestError, "exceeds the limit",
            call=lambda: GeminiBatchHook().create_batch("gemini-2.5-flash", requests=big))


def test_file_over_2_gb(gemini_conn, tmp_path):
    path = tmp_path / "huge.jsonl"
    with open(path, "wb") as fh:
        fh.truncate(2 * 1024 ** 3 + 10)
    refused(gemini_conn, exc.GeminiBatchTooLargeError, "over the 2 GB", "split it",
            call=lambda: GeminiBatchHook().upload_file(path))


# ------------------------------------------------------------------ models
def test_unknown_model(gemini_conn):
    refused(gemini_conn, exc.GeminiModelError, "model", "unknown model models/gemini-7-mega",
            call=lambda: submit(model="gemini-7-mega", requests=["hi"]))


def test_embeddings_model_in_a_generate_batch(gemini_conn):
    refused(gemini_conn, exc.GeminiModelError, "is an embeddings model", "GeminiBatchEmbedOperator",
            call=lambda: submit(model="gemini-embedding-001", requests=["hi"]))


def test_generate_model_in_an_embeddings_batch(gemini_conn):
    refused(gemini_conn, exc.GeminiModelError, "not an embeddings model",
            call=lambda: submit(embeddings=True, model="gemini-2.5-flash", requests=["hi"]))


def test_generate_request_sent_to_embeddings(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "requests[0]", "looks like a generate-content request",
            call=lambda: submit(embeddings=True, requests=[OK]))


def test_embed_request_sent_to_generate(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "requests[0]", "unknown field 'content'", "'contents'",
            call=lambda: submit(requests=[{"content": {"parts": [{"text": "x"}]}}]))


def test_embedding_dimension_out_of_range(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "output_dimensionality", "1 to 3072",
            call=lambda: submit(embeddings=True, requests=[{"content": "x", "output_dimensionality": 5000}]))


# ------------------------------------------------------------------ connection and auth
def test_missing_connection(gemini_conn):
    refused(gemini_conn, exc.GeminiConnectionError, "'no_such_conn' is not defined", "AIRFLOW_CONN_NO_SUCH_CONN",
            call=lambda: submit(gemini_conn_id="no_such_conn", requests=["hi"]))


def test_empty_api_key(gemini_conn, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_EMPTY_KEY", json.dumps({"conn_type": "gemini", "host": gemini_conn.base_url}))
    refused(gemini_conn, exc.GeminiConnectionError, "'empty_key' has no API key", "password field",
            call=lambda: submit(gemini_conn_id="empty_key", requests=["hi"]))


def test_wrong_key(gemini_conn, monkeypatch, tmp_path):
    from airflow_provider_gemini_batch.emulator import EmulatorProcess

    with EmulatorProcess(api_key="the-only-good-key", state_dir=str(tmp_path / "s")) as strict:
        monkeypatch.setenv("AIRFLOW_CONN_STRICT", json.dumps({"conn_type": "gemini", "host": strict.base_url,
                                                              "password": SENTINEL_KEY}))
        refused(strict, exc.GeminiAuthError, "API key not valid", "check the API key in connection 'strict'",
                call=lambda: submit(gemini_conn_id="strict", requests=["hi"]))


def test_unreachable_host(gemini_conn, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_NOWHERE", json.dumps({
        "conn_type": "gemini", "host": "http://127.0.0.1:9", "password": SENTINEL_KEY,
        "extra": {"max_retries": 1, "retry_max_wait_seconds": 0.05}}))
    refused(gemini_conn, exc.GeminiUnreachableError, "cannot reach http://127.0.0.1:9",
            call=lambda: submit(gemini_conn_id="nowhere", requests=["hi"]))


# ------------------------------------------------------------------ jobs and results
def test_job_name_without_batches_prefix(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "job_name", "'123456789'", "expected 'batches/<id>'",
            call=lambda: GeminiBatchJobSensor(task_id="s", job_name="123456789", deferrable=False).execute({}))


def test_non_existent_job(gemini_conn, tmp_path):
    refused(gemini_conn, exc.GeminiNotFoundError, "batches/nope", "404",
            call=lambda: GeminiBatchGetResultsOperator(task_id="r", job_name="batches/nope",
                                                       results_path=str(tmp_path / "r.jsonl")).execute({}))


def _finished_job():
    hook = GeminiBatchHook()
    name = hook.create_batch("gemini-2.5-flash", requests=[{"request": OK, "metadata": {"key": "k"}}])["name"]
    import time
    while not hook.get_snapshot(name).is_terminal:
        time.sleep(0.1)
    return name


def test_cancelling_a_finished_job(gemini_conn):
    name = _finished_job()
    assert GeminiBatchCancelOperator(task_id="c", job_name=name).execute({})["cancelled"] is False  # reported
    with pytest.raises(exc.GeminiRequestError, match="already JOB_STATE_SUCCEEDED; nothing to cancel"):
        GeminiBatchCancelOperator(task_id="c", job_name=name, fail_if_finished=True).execute({})
    with pytest.raises(exc.GeminiInvalidRequestError, match="FAILED_PRECONDITION"):
        GeminiBatchHook().cancel_job(name)


def test_deleting_twice(gemini_conn):
    name = _finished_job()
    GeminiBatchDeleteOperator(task_id="d", job_name=name).execute({})
    with pytest.raises(exc.GeminiNotFoundError, match="404"):
        GeminiBatchDeleteOperator(task_id="d", job_name=name, missing_ok=False).execute({})


def test_results_path_not_writable(gemini_conn):
    refused(gemini_conn, exc.GeminiRequestError, "results_path", "/proc/no/results.jsonl", "is not writable",
            call=lambda: submit(requests=["hi"], results_path="/proc/no/results.jsonl"))
