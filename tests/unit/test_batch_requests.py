import gzip
import json

import pytest
from pydantic import BaseModel

from airflow_provider_gemini_batch.core.requests import (
    KeyedRequest,
    fits_inline,
    iter_jsonl,
    iter_keyed,
    normalize_embed_request,
    normalize_generate_request,
)
from airflow_provider_gemini_batch.exceptions import GeminiRequestError

PROMPT = {"contents": [{"parts": [{"text": "hi"}], "role": "user"}]}


def lines(*objs):
    return [(o if isinstance(o, bytes) else json.dumps(o).encode()) + b"\n" for o in objs]


def error_of(fn):
    with pytest.raises(GeminiRequestError) as info:
        fn()
    assert type(info.value) is GeminiRequestError, f"{type(info.value).__name__}: {info.value}"
    return str(info.value)


def test_sdk_spelling_becomes_rest_spelling():
    req = normalize_generate_request({
        "contents": "Why is the sky blue?",
        "config": {"system_instruction": "You are a cat.", "temperature": 0.2, "tools": [{"google_search": {}}],
                   "response_mime_type": "application/json",
                   "response_schema": {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}}}, "r")
    assert req["systemInstruction"] == {"parts": [{"text": "You are a cat."}]}
    assert req["tools"] == [{"googleSearch": {}}]
    assert req["generationConfig"]["temperature"] == 0.2
    assert req["generationConfig"]["responseSchema"]["type"] == "OBJECT"
    assert "config" not in req


def test_pydantic_model_becomes_json_schema():
    class Recipe(BaseModel):
        recipe_name: str
        ingredients: list[str]

    req = normalize_generate_request({**PROMPT, "config": {"response_mime_type": "application/json",
                                                          "response_schema": list[Recipe]}}, "r")
    schema = req["generationConfig"]["responseJsonSchema"]
    assert schema["type"] == "array" and "Recipe" in json.dumps(schema)


def test_guide_typo_system_instructions_is_named_with_the_fix():
    msg = error_of(lambda: list(iter_keyed([{**PROMPT, "system_instructions": {"parts": [{"text": "x"}]}}])))
    assert "requests[0]" in msg and "'system_instructions'" in msg and "did you mean 'system_instruction'" in msg


def test_guide_tool_with_trailing_space_is_named_with_the_fix():
    msg = error_of(lambda: list(iter_keyed([{**PROMPT, "tools": [{"google_search ": {}}]}])))
    assert "requests[0].tools[0]" in msg and "write 'google_search'" in msg


@pytest.mark.parametrize("request_,where", [
    ({"contents": []}, "requests[0].contents"),
    ({"contents": [{"parts": [{"text": "x"}], "role": "system"}]}, "requests[0].contents[0].role"),
    ({"contents": [{"parts": []}]}, "requests[0].contents[0].parts"),
    ({**PROMPT, "generationConfig": {"temperature": 7}}, "requests[0].generation_config.temperature"),
    ({**PROMPT, "generationConfig": {"responseMimeType": "application/json", "responseSchema": {"type": "WORD"}}},
     "requests[0].generation_config.response_schema.type"),
    ({**PROMPT, "generationConfig": {"responseSchema": {"type": "OBJECT"}}},
     "requests[0].generation_config.response_mime_type"),
    ({"prompt": "x"}, "requests[0]"),
])
def test_bad_requests_name_the_field(request_, where):
    assert where in error_of(lambda: list(iter_keyed([request_])))


def test_keys_assigned_deterministically_and_kept_when_given():
    records = list(iter_keyed(["a", {"key": "mine", "request": PROMPT}, {**PROMPT, "metadata": {"key": "meta"}}]))
    assert [r.key for r in records] == ["request-000000", "mine", "meta"]
    assert list(iter_keyed(["a", "b"])) == list(iter_keyed(["a", "b"]))


def test_duplicate_keys_name_both_places():
    msg = error_of(lambda: list(iter_keyed([{"key": "k", "request": PROMPT}, {"key": "k", "request": PROMPT}])))
    assert "requests[1]" in msg and "requests[0]" in msg and "'k'" in msg


@pytest.mark.parametrize("key", ["", "   ", 7, None])
def test_bad_keys(key):
    assert "key" in error_of(lambda: list(iter_keyed([{"key": key, "request": PROMPT}])))


def test_non_string_metadata_values():
    assert "metadata values must be strings" in error_of(
        lambda: list(iter_keyed([{**PROMPT, "metadata": {"key": "a", "n": 1}}])))


def test_empty_input():
    assert "empty" in error_of(lambda: list(iter_keyed([])))
    assert "empty" in error_of(lambda: list(iter_jsonl([])))


@pytest.mark.parametrize("raw,needle", [
    (lines({"key": "a", "request": PROMPT}, b"{not json"), "line 2: malformed JSON"),
    (lines({"key": "a", "request": PROMPT}, b"", {"key": "b", "request": {"contents": 7}}), "line 3 (key 'b').request.contents"),
    (lines([1, 2]), "line 1: each line must be a JSON object"),
    (lines({"key": "a"}), "line 1.request: no 'request'"),
    (lines({"request": PROMPT}), "line 1.key: no 'key'"),
    (lines({"key": "a", "request": PROMPT}, {"key": "a", "request": PROMPT}), "duplicate key 'a'"),
    ([b"\xff\xfe{}\n"], "line 1: not UTF-8"),
    ([gzip.compress(b'{"key": "a"}\n')], "gzip file"),
    (lines({"key": "a", "request": {**PROMPT, "system_instructions": {}}}), "line 1 (key 'a').request"),
])
def test_jsonl_errors_name_the_line(raw, needle):
    assert needle in error_of(lambda: list(iter_jsonl(raw, source="input")))


def test_bom_crlf_and_blank_lines_are_accepted_and_lines_keep_their_numbers():
    raw = [b"\xef\xbb\xbf" + json.dumps({"key": "a", "request": PROMPT}).encode() + b"\r\n", b"\r\n",
           json.dumps({"key": "b", "request": PROMPT}).encode() + b"\r\n", b"   \n"]
    assert [r.key for r in iter_jsonl(raw)] == ["a", "b"]
    bad = raw[:3] + [json.dumps({"key": "c", "request": {"contents": "x", "tools": {}}}).encode() + b"\r\n"]
    assert "input line 4 (key 'c').request.tools" in error_of(lambda: list(iter_jsonl(bad)))
    assert "the file is empty" in error_of(lambda: list(iter_jsonl([b"\xef\xbb\xbf\r\n", b"\n"])))


def test_embed_requests():
    assert normalize_embed_request("hello", "r") == {"content": {"parts": [{"text": "hello"}]}}
    req = normalize_embed_request({"content": "x", "task_type": "RETRIEVAL_DOCUMENT", "output_dimensionality": 8}, "r")
    assert req == {"content": {"parts": [{"text": "x"}]}, "taskType": "RETRIEVAL_DOCUMENT", "outputDimensionality": 8}
    assert "generate-content request" in error_of(lambda: normalize_embed_request(PROMPT, "r"))
    assert "output_dimensionality" in error_of(lambda: normalize_embed_request({"content": "x", "output_dimensionality": 0}, "r"))
    assert "task_type" in error_of(lambda: normalize_embed_request({"content": "x", "task_type": "NOPE"}, "r"))


def test_fits_inline_by_encoded_size():
    small = [KeyedRequest(f"k{i}", {"contents": [{"parts": [{"text": "x"}]}]}) for i in range(10)]
    big = [KeyedRequest(f"k{i}", {"contents": [{"parts": [{"text": "x" * 1_000_000}]}]}) for i in range(21)]
    assert fits_inline(r.jsonl() for r in small) is True
    assert fits_inline(r.jsonl() for r in big) is False


def test_jsonl_line_round_trip():
    record = KeyedRequest("k", {"contents": [{"parts": [{"text": "é"}]}]})
    assert json.loads(record.jsonl()) == {"key": "k", "request": record.request}
