"""The schema snapshot and the schema-driven validator: drift against the installed SDK, the fast
path against the general one, google-genai typed objects, warnings versus strict, case rules."""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
import random
from pathlib import Path

import pytest
from google.genai import types

from airflow_provider_gemini_batch import batch_requests as br
from airflow_provider_gemini_batch.core.request_schema import raw_schema, snapshot
from airflow_provider_gemini_batch.core.requests import (
    iter_jsonl,
    iter_keyed,
    normalize_embed_request,
    normalize_generate_request,
)
from airflow_provider_gemini_batch.exceptions import GeminiRequestError
from tests.versions import GENAI_INLINE_METADATA

ROOT = Path(__file__).resolve().parents[2]
PROMPT = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def _generator():
    spec = importlib.util.spec_from_file_location("generate_request_schema",
                                                  ROOT / "scripts" / "generate_request_schema.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def error_of(fn):
    with pytest.raises(GeminiRequestError) as info:
        fn()
    assert type(info.value) is GeminiRequestError, f"{type(info.value).__name__}: {info.value}"
    return str(info.value)


# ------------------------------------------------------------------ the snapshot against the installed SDK
def test_installed_sdk_knows_no_field_the_snapshot_lacks():
    """Fails when google-genai (upgraded) carries request fields or enum values our snapshot does not:
    regenerate with `python scripts/generate_request_schema.py` and commit the JSON."""
    from importlib.metadata import version

    from packaging.version import Version

    made_from = json.loads((ROOT / "airflow_provider_gemini_batch" / "data" / "request_schema.json").read_text())
    if Version(version("google-genai")) < Version(made_from["sdk"]["version"]):
        # An older SDK cannot know fields a newer one lacks, and its converters refuse some config fields
        # the generator probes (e.g. routing_config on 2.x): the drift check is for newer SDKs.
        pytest.skip(f"needs google-genai >= {made_from['sdk']['version']} (the snapshot's source); "
                    f"{version('google-genai')} is installed")
    fresh, committed = _generator().build(), raw_schema()
    missing = []
    for group in ("types", "roots"):
        for name, entry in fresh[group].items():
            known = committed[group].get(name, {}).get("fields", {})
            missing += [f"{name}.{f}" for f in entry["fields"] if f not in known]
    for name, values in fresh["enums"].items():
        missing += [f"enum {name}.{v}" for v in values if v not in committed["enums"].get(name, [])]
    assert not missing, f"google-genai {fresh['sdk']['version']} knows fields the snapshot (from " \
                        f"{committed['sdk']['version']}) does not: {missing[:30]}; run scripts/generate_request_schema.py"


def test_committed_snapshot_is_exactly_what_the_generator_writes():
    from importlib.metadata import version

    committed = json.loads((ROOT / "airflow_provider_gemini_batch" / "data" / "request_schema.json").read_text())
    if version("google-genai") != committed["sdk"]["version"]:
        # The generator reads the installed SDK: with another release (an older Airflow's constraints in
        # the compatibility matrix) it writes another snapshot by design; the drift test above still runs.
        pytest.skip(f"needs google-genai {committed['sdk']['version']} (the snapshot's source); "
                    f"{version('google-genai')} is installed")
    text = json.dumps(_generator().build(), indent=1) + "\n"
    assert (ROOT / "airflow_provider_gemini_batch" / "data" / "request_schema.json").read_text() == text


def test_snapshot_has_the_fields_the_issue_found_refused():
    snap = snapshot()
    gen, part = snap.types["GenerationConfig"].fields, snap.types["Part"].fields
    for name in ("responseFormat", "audioTranscriptionConfig", "enableAffectiveDialog", "modelSelectionConfig",
                 "translationConfig"):
        assert name in gen
    assert {"text", "audio", "image"} <= set(snap.types["ResponseFormat"].fields)
    for name in ("toolCall", "toolResponse", "audioTranscription", "mediaProcessing", "speechMetadata",
                 "documentMetadata", "spreadsheetMetadata", "audioMetadata"):
        assert name in part
    assert "continuationToken" in snap.roots["GenerateContentRequest"].fields
    assert snap.config["GenerateContentRequest"]["response_format"].to == "generationConfig"
    assert snap.config["GenerateContentRequest"]["http_options"].to == "sdk-only"


# ------------------------------------------------------------------ the fast path agrees with the general path
def _random_request(rng: random.Random) -> dict:
    """Mostly canonical requests, each with a small chance of one thing off (a type, a role, a name)."""
    def maybe(good, *bad, p=0.9):
        return good if rng.random() < p else rng.choice(bad)

    req: dict = {}
    if rng.random() < 0.97:
        contents = []
        for _ in range(rng.randint(0, 3) if rng.random() < 0.05 else rng.randint(1, 3)):
            parts = [maybe({"text": f"t{rng.random()}"}, {"text": 5}, {"text": "a", "thought": True}, "bare", {},
                           {"text": None}, p=0.95) for _ in range(maybe(rng.randint(1, 2), 0, p=0.97))]
            content: dict = {"parts": parts}
            if rng.random() < 0.8:
                content["role"] = maybe(rng.choice(["user", "model"]), "system", None, "USER", p=0.95)
            if rng.random() < 0.02:
                content["extra"] = 1
            contents.append(content)
        req["contents"] = maybe(contents, "a prompt", {"parts": [{"text": "x"}]}, p=0.97)
    if rng.random() < 0.6:
        good = {"temperature": lambda: rng.choice([0, 0.2, 1, 2]), "topP": lambda: 0.9, "topK": lambda: 40,
                "maxOutputTokens": lambda: 256, "candidateCount": lambda: 1, "seed": lambda: 7,
                "stopSequences": lambda: ["END"]}
        bad = [2.5, -1, True, "x", "7", None, [], [1], {}, 3.0]
        gen = {}
        for _ in range(rng.randint(0, 3)):
            name = maybe(rng.choice(list(good)), "top_p", "thinkingConfig", "responseMimeType", "fancyKnob", p=0.93)
            gen[name] = good[name]() if name in good and rng.random() < 0.9 else rng.choice(bad)
        req["generationConfig"] = gen
    if rng.random() < 0.03:
        req[rng.choice(["systemInstruction", "system_instruction", "tools", "prompt", "safety_settings"])] = "x"
    return req


def _outcome(fn, obj):
    try:
        return ("ok", json.dumps(fn(copy.deepcopy(obj)), sort_keys=False))
    except GeminiRequestError as exc:
        return ("error", str(exc))


def test_fast_path_agrees_with_the_general_path_on_generated_requests(caplog):
    rng = random.Random(15)
    fast_taken = 0
    for _ in range(3000):
        obj = _random_request(rng)
        general = _outcome(lambda o: br._general_generate(o, "r", br.Checks()), obj)
        assert _outcome(lambda o: normalize_generate_request(o, "r"), obj) == general, obj
        if br._already_canonical(obj):
            fast_taken += 1
            assert general == ("ok", json.dumps(obj)), obj  # the fast path returns it unchanged: so must the walk
    assert 1000 < fast_taken < 2900  # both paths are really exercised


# ------------------------------------------------------------------ google-genai typed objects
@GENAI_INLINE_METADATA  # types.InlinedRequest(metadata=...)
def test_typed_objects_are_accepted_as_the_sdk_would_send_them():
    records = list(iter_keyed([
        types.InlinedRequest(contents=[types.Content(role="user", parts=[types.Part(text="a"),
                                                                         types.Part(thought_signature=b"\x01\x02")])],
                             metadata={"key": "typed"},
                             config=types.GenerateContentConfig(
                                 temperature=0.3, system_instruction="Be brief.",
                                 safety_settings=[types.SafetySetting(category="HARM_CATEGORY_HATE_SPEECH",
                                                                      threshold="BLOCK_NONE")],
                                 response_mime_type="application/json",
                                 response_schema={"type": "object", "properties": {"a": {"type": "string"}}})),
        types.Content(role="user", parts=[types.Part.from_text(text="just a content")]),
        {"contents": "dict with a typed config", "config": types.GenerateContentConfig(top_k=3)},
    ]))
    first = records[0]
    assert first.key == "typed"
    assert first.request["contents"][0]["parts"][1] == {"thoughtSignature": "AQI="}
    assert first.request["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert first.request["safetySettings"] == [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}]
    assert first.request["generationConfig"]["responseSchema"] == {"type": "OBJECT",
                                                                   "properties": {"a": {"type": "STRING"}}}
    assert records[1].request == {"contents": [{"parts": [{"text": "just a content"}], "role": "user"}]}
    assert records[2].request["generationConfig"] == {"topK": 3.0}


# ------------------------------------------------------------------ case of enum values
def test_lower_case_enums_are_normalised_in_the_sdk_spelling_and_refused_in_rest():
    sdk = normalize_generate_request({**PROMPT, "config": {
        "response_mime_type": "application/json", "thinking_config": {"thinking_level": "low"},
        "response_schema": {"type": "array", "items": {"type": "object"}}}}, "r")
    assert sdk["generationConfig"]["responseSchema"] == {"type": "ARRAY", "items": {"type": "OBJECT"}}
    assert sdk["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "LOW"}
    msg = error_of(lambda: normalize_generate_request({**PROMPT, "generationConfig": {
        "responseMimeType": "application/json", "responseSchema": {"type": "ARRAY", "items": {"type": "object"}}}}, "r"))
    assert msg.startswith("r.generation_config.response_schema.items.type:") and "write 'OBJECT'" in msg


# ------------------------------------------------------------------ unknown fields: near miss, warning, strict
def test_unknown_field_warns_once_and_is_sent_as_is(caplog):
    caplog.set_level(logging.WARNING, logger="airflow_provider_gemini_batch.core.requests")
    reqs = [{**PROMPT, "generationConfig": {"brandNewKnob": i}} for i in range(5)]
    records = list(iter_keyed(reqs))
    assert [r.request["generationConfig"] for r in records] == [{"brandNewKnob": i} for i in range(5)]
    warnings = [r.getMessage() for r in caplog.records if "brandNewKnob" in r.getMessage()]
    assert len(warnings) == 1 and "requests[0].generation_config" in warnings[0]


def test_unknown_field_is_an_error_when_strict():
    msg = error_of(lambda: list(iter_jsonl([json.dumps({"key": "a", "request": {
        **PROMPT, "tools": [{"googleSearch": {"freshness": "day"}}]}}).encode()], strict=True)))
    assert "input line 1 (key 'a').request.tools[0].google_search" in msg and "'freshness'" in msg
    assert "strict_validation=True" in msg


@pytest.mark.parametrize("request_,where,fragment", [
    ({**PROMPT, "generationConfig": {"thinkingConfig": {"thinking_budgett": 1}}},
     "r.generation_config.thinking_config", "did you mean 'thinking_budget'"),
    ({**PROMPT, "config": {"temprature": 1}}, "r.config", "did you mean 'temperature'"),
    ({"contents": [{"role": "user", "parts": [{"txt": "x"}]}]}, "r.contents[0].parts[0]", "did you mean 'text'"),
    ({**PROMPT, "safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "treshold": "BLOCK_NONE"}]},
     "r.safety_settings[0]", "did you mean 'threshold'"),
])
def test_near_misses_are_errors_at_every_depth(request_, where, fragment):
    msg = error_of(lambda: normalize_generate_request(request_, "r"))
    assert msg.startswith(where + ":") and fragment in msg


def test_vertex_only_fields_warn_and_strict_refuses(caplog):
    caplog.set_level(logging.WARNING, logger="airflow_provider_gemini_batch.core.requests")
    req = {**PROMPT, "tools": [{"retrieval": {}}]}
    assert normalize_generate_request(req, "r")["tools"] == [{"retrieval": {}}]
    assert any("only supported on Vertex AI" in r.getMessage() for r in caplog.records)
    assert "only supported on Vertex AI" in error_of(lambda: normalize_generate_request(req, "r", strict=True))


def test_every_depth_is_camel_cased_but_user_data_keys_are_kept():
    out = normalize_generate_request({**PROMPT, "generation_config": {
        "response_mime_type": "application/json", "thinking_config": {"include_thoughts": True},
        "response_schema": {"type": "OBJECT", "properties": {"my_field": {"type": "STRING"}},
                            "property_ordering": ["my_field"]}},
        "tools": [{"function_declarations": [{"name": "f", "parameters": {
            "type": "OBJECT", "properties": {"snake_arg": {"type": "STRING"}}}}]}]}, "r")
    gen = out["generationConfig"]
    assert gen["thinkingConfig"] == {"includeThoughts": True}
    assert gen["responseSchema"] == {"type": "OBJECT", "properties": {"my_field": {"type": "STRING"}},
                                     "propertyOrdering": ["my_field"]}
    assert out["tools"][0]["functionDeclarations"][0]["parameters"]["properties"] == {"snake_arg": {"type": "STRING"}}


def test_embed_requests_in_the_config_spelling():
    assert normalize_embed_request({"content": "x", "config": {"task_type": "retrieval_query",
                                                               "output_dimensionality": 8}}, "e") == \
        {"content": {"parts": [{"text": "x"}]}, "taskType": "RETRIEVAL_QUERY", "outputDimensionality": 8}
    assert "did you mean 'RETRIEVAL_QUERY'" in error_of(
        lambda: normalize_embed_request({"content": "x", "taskType": "RETRIEVAL_QUERIES"}, "e"))


def test_emulator_judges_with_its_own_code_from_the_same_data():
    import ast

    from airflow_provider_gemini_batch.emulator import wire_schema

    emulator_dir = ROOT / "airflow_provider_gemini_batch" / "emulator"
    for source in emulator_dir.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [getattr(node, "module", None) or ""] + [a.name for a in node.names]
                assert not any("batch_requests" in n or "request_schema" in n for n in names), source.name
    assert wire_schema.SCHEMA_PATH.resolve() == (ROOT / "airflow_provider_gemini_batch" / "data" /
                                                 "request_schema.json").resolve()


def test_keyed_fast_path_agrees_with_the_general_path_on_generated_records():
    """iter_keyed and iter_jsonl take {"key", "request"} records with a canonical request without
    building a location or running the general code; on generated records (odd keys, extra fields,
    non-canonical requests) they must give what the general path gives, result or error."""
    rng = random.Random(16)
    keys = ["k1", "row-7", " ", "", "\t", 5, None, "ключ", " padded "]
    fast_taken = 0

    def outcome(run):
        try:
            record = run()
            return ("ok", record.key, json.dumps(record.request))
        except GeminiRequestError as exc:
            return ("error", str(exc))

    for _ in range(1000):
        record = {"key": rng.choice(keys), "request": _random_request(rng)}
        if rng.random() < 0.05:
            record["metadata"] = {"source": "x"}
        if rng.random() < 0.03:
            record["extra"] = 1
        general = outcome(lambda record=record: br._keyed(copy.deepcopy(record), 0, "requests[0]", br.BatchKind.GENERATE, "request", br.Checks()))
        assert outcome(lambda record=record: next(br.iter_keyed([copy.deepcopy(record)]))) == general, record
        line_general = outcome(lambda record=record: br._keyed(copy.deepcopy(record), 1, "input line 1", br.BatchKind.GENERATE, "line", br.Checks()))
        assert outcome(lambda record=record: next(br.iter_jsonl([json.dumps(record).encode()]))) == line_general, record
        fast_taken += br._canonical_record(record) is not None
    assert 100 < fast_taken < 900  # both paths are really exercised
