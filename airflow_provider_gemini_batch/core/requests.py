"""Validate and normalise batch requests before anything billable happens. Pure: no Airflow, no HTTP.

Users bring two spellings of one request: the Python SDK's (request-level settings inside
``config``, or google-genai typed objects) and the REST/JSONL one (``systemInstruction``, ``tools``,
``generationConfig`` at the top). Both become the REST form, camelCase at every depth, which is what
goes on the wire, inline or as a JSONL line.

What is valid comes from data, not from lists kept here: data/request_schema.json, generated from
google-genai's typed models (scripts/generate_request_schema.py). Every depth is checked: JSON types,
enum values, unknown fields. A wrong type or enum value is an error; an unknown field is an error when
it is a near miss of a known one (a typo), else a warning (the API may be newer than our snapshot), an
error with strict=True. Every error names where it is: the line, the key and the field, and the fix.
"""

from __future__ import annotations

import base64
import datetime
import difflib
import enum
import json
import logging
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

import msgspec
from pydantic import BaseModel

from ..exceptions import GeminiBatchTooLargeError, GeminiRequestError
from .batch_kind import BatchKind
from .request_schema import FieldSpec, TypeSpec, snapshot
from .structured_output import schema_from_python

INLINE_LIMIT_BYTES = 20 * 1024 * 1024
# Inline only comfortably under the limit: the envelope and display name add bytes too.
INLINE_SAFE_BYTES = 19 * 1024 * 1024
FILE_LIMIT_BYTES = 2 * 1024 * 1024 * 1024

_SNAKE = re.compile(r"_([a-z0-9])")


@lru_cache(maxsize=4096)
def camel(name: str) -> str:
    return _SNAKE.sub(lambda m: m.group(1).upper(), name)


def snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


ROLES = ("user", "model")
KEYED_FIELDS = frozenset({"key", "request", "metadata"})
GENERATE = "GenerateContentRequest"
EMBED = "EmbedContentRequest"

log = logging.getLogger(__name__)

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder()


class KeyedRequest(msgspec.Struct, frozen=True):
    """One request and the key that joins its result back to it. A msgspec Struct: built in C and encoded
    field by field with no intermediate dict, which is much of the cost of a million requests into a file."""

    key: str
    request: dict  # REST form

    def jsonl(self) -> bytes:
        # msgspec (already installed with Airflow 3) encodes several times faster than json.dumps.
        return _ENCODER.encode(self) + b"\n"

    def inline(self) -> dict:
        return {"request": self.request, "metadata": {"key": self.key}}


def _fail(message: str, where: str) -> GeminiRequestError:
    return GeminiRequestError(message, location=where)


class Checks:
    """How one input is judged, and what was noticed so far.

    strict: an unknown field (not a near miss) or a Vertex-only field is an error, not a warning.
    sdk: the request came in google-genai's spelling (`config=`, typed objects), so enum values are
    matched without regard to case, as the SDK's CaseInSensitiveEnum does before it sends them.
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.sdk = False
        self.noticed: dict[str, int] = {}

    def notice(self, message: str, where: str, what: str) -> None:
        """A field we do not know (the API may be newer than our snapshot): a warning, once per field."""
        if self.strict:
            raise _fail(f"{message} (an error because strict_validation=True)", where)
        count = self.noticed.get(what, 0)
        self.noticed[what] = count + 1
        if count == 0:
            log.warning("%s: %s. Sent as is; set strict_validation=True to refuse it. Further requests with "
                        "this field are not logged.", where, message)


# ---------------------------------------------------------------------- SDK typed objects
def _plain(obj: Any) -> Any:
    """google-genai typed objects (pydantic) as the JSON the SDK would send: wire names, enum values,
    base64 bytes, None fields left out. Python types (a response_schema class) are kept for later."""
    if isinstance(obj, BaseModel):
        out = {}
        for name, info in type(obj).model_fields.items():
            value = getattr(obj, name)
            if value is not None:
                out[info.alias or name] = _plain(value)
        return out
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (bytes, bytearray)):
        return base64.b64encode(obj).decode("ascii")
    if isinstance(obj, (datetime.datetime, datetime.date)):
        return obj.isoformat()
    return obj


def _typed_request(obj: BaseModel) -> Any:
    """types.InlinedRequest (or any request-shaped model) -> its dict; a types.Content is a one-turn request."""
    plain = _plain(obj)
    if type(obj).__name__ == "Content":
        return {"contents": [plain]}
    return plain


# ---------------------------------------------------------------------- values by the schema
_KIND_WORDS = {"string": "a string", "bytes": "a base64 string", "integer": "an integer", "number": "a number",
               "boolean": "true or false", "object": "a JSON object", "struct": "a JSON object",
               "map": "a JSON object", "array": "a list", "enum": "a string"}
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "object",
               type(None): "null"}
_PLAIN_TYPES = frozenset(_JSON_TYPES)
_INTEGER = re.compile(r"-?[0-9]+")
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
                        r"([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2}))?")


def _describe(value: Any) -> str:
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"{_JSON_TYPES.get(type(value), type(value).__name__)} {shown}"


def _label(spec: FieldSpec, where: str) -> str:
    return spec.snake or where.rsplit(".", 1)[-1]


def _type_error(spec: FieldSpec, value: Any, where: str) -> GeminiRequestError:
    return _fail(f"{_label(spec, where)} must be {_KIND_WORDS.get(spec.kind, spec.kind)}, got {_describe(value)}",
                 where)


def _is_number_text(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _value(value: Any, spec: FieldSpec, where: str, ck: Checks) -> Any:
    if type(value) not in _PLAIN_TYPES and isinstance(value, (BaseModel, enum.Enum, tuple, bytes, bytearray)):
        if isinstance(value, (BaseModel, enum.Enum)):
            ck.sdk = True
        if not (spec.kind == "bytes" and isinstance(value, (bytes, bytearray))):
            value = _plain(value)
    kind = spec.kind
    if kind == "object":
        assert spec.ref is not None  # the schema names the type of every object field
        return _object(value, _types()[spec.ref], where, ck)
    if kind == "string":
        if type(value) is not str:
            raise _type_error(spec, value, where)
        if spec.values and value not in spec.values:
            raise _fail(f"{_label(spec, where)} {value!r} is not one of {', '.join(spec.values)}", where)
        if spec.format == "timestamp" and not _TIMESTAMP.fullmatch(value):
            raise _fail(f"{_label(spec, where)} must be an RFC 3339 timestamp like '2026-01-31T12:00:00Z', "
                        f"got {value!r}", where)
        return value
    if kind == "enum":
        return _enum(value, spec, where, ck)
    if kind == "array":
        if type(value) is not list:
            raise _type_error(spec, value, where)
        item = spec.items
        assert item is not None  # the schema types every array's items
        return [_value(v, item, f"{where}[{i}]", ck) for i, v in enumerate(value)]
    if kind == "integer":
        # Proto JSON takes an integer as a number or a decimal string (int64 fields go out as strings).
        if type(value) is int or (type(value) is float and value.is_integer()) or \
                (type(value) is str and _INTEGER.fullmatch(value)):
            return value
        raise _type_error(spec, value, where)
    if kind == "number":
        if type(value) in (int, float) or (type(value) is str and _is_number_text(value)):
            return value
        raise _type_error(spec, value, where)
    if kind == "boolean":
        if type(value) is bool:
            return value
        raise _type_error(spec, value, where)
    if kind == "bytes":
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(value).decode("ascii")
        if type(value) is str:
            return value
        raise _type_error(spec, value, where)
    if kind == "map":
        if type(value) is not dict:
            raise _type_error(spec, value, where)
        values = spec.items
        assert values is not None  # the schema types every map's values
        return {k: _value(v, values, f"{where}.{k}", ck) for k, v in value.items()}
    if kind == "struct":
        if type(value) is not dict:
            raise _type_error(spec, value, where)
        return value
    return value  # any


def _enum(value: Any, spec: FieldSpec, where: str, ck: Checks) -> str:
    label = _label(spec, where)
    if type(value) is not str:
        raise _fail(f"{label} must be one of {', '.join(spec.values)}, got {_describe(value)}", where)
    if value in spec.values:
        return value
    canonical = next((v for v in spec.values if v.upper() == value.upper()), None)
    if canonical is not None:
        if ck.sdk:
            return canonical  # google-genai's enums are case-insensitive: it would send this
        raise _fail(f"{label} {value!r} is not valid: write {canonical!r} (the API's enum values are "
                    "case-sensitive)", where)
    close = difflib.get_close_matches(value.upper(), spec.values, n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise _fail(f"{label} {value!r} is not one of {', '.join(spec.values)}{hint}", where)


def _unknown_message(name: Any, t: TypeSpec) -> tuple[str, bool]:
    """What to say about a field this place does not know, and whether it is a near miss of a known one."""
    if not isinstance(name, str):
        return f"field names must be strings, got {name!r}", True
    stripped = name.strip()
    if stripped != name and stripped in t.lookup:
        return f"field {name!r} has stray whitespace: write {stripped!r}", True
    spellings = t.spellings()
    close = difflib.get_close_matches(name, spellings, n=1, cutoff=0.75) or \
        difflib.get_close_matches(camel(stripped), spellings, n=1, cutoff=0.75) or \
        [s for s in spellings if s.lower().replace("_", "") == stripped.lower().replace("_", "")]
    if close:
        spec = t.fields[t.lookup[close[0]]]
        suggestion = spec.snake if "_" in name else spec.name
        return f"unknown field {name!r}; did you mean {suggestion!r}?", True
    return f"unknown field {name!r}; known fields: {', '.join(sorted(t.fields))}", False


def _unknown(name: Any, t: TypeSpec, where: str, ck: Checks) -> None:
    """A field this place does not know: a near miss of a known one is an error (a typo costs a day);
    anything else a warning (the API may be newer than our snapshot), an error when strict."""
    message, near_miss = _unknown_message(name, t)
    if near_miss:
        raise _fail(message, where)
    ck.notice(message, where, f"{t.name}.{name}")


def _object(value: Any, t: TypeSpec, where: str, ck: Checks) -> dict:
    before = _BEFORE.get(t.name)
    if before is not None:
        value = before(value, where, ck)
    if type(value) is not dict:
        if isinstance(value, BaseModel):
            ck.sdk = True
            value = _plain(value)
        else:
            raise _fail(f"{_label(FieldSpec('', '', 'object'), where)} must be a JSON object, got "
                        f"{_describe(value)}", where)
    out: dict = {}
    fields, lookup = t.fields, t.lookup
    for name, item in value.items():
        wire = lookup.get(name) if type(name) is str else None
        if wire is None:
            _unknown(name, t, where, ck)
            out[name] = item
            continue
        if item is None:
            continue  # null is "not set" in proto JSON; the SDK leaves None fields out
        if wire in out:
            raise _fail(f"{wire!r} is given twice (as {fields[wire].snake!r} and {wire!r}): keep one", where)
        spec = fields[wire]
        if spec.vertex_only:
            ck.notice(f"field {name!r} is only supported on Vertex AI, not the Gemini Developer API "
                      "(google-genai refuses it there)", where, f"{t.name}.{name}")
        out[wire] = _value(item, spec, f"{where}.{spec.snake}", ck)
    after = _AFTER.get(t.name)
    if after is not None:
        after(out, where, ck)
    return out


@lru_cache(maxsize=1)
def _types() -> dict[str, TypeSpec]:
    return snapshot().types


# ---------------------------------------------------------------------- rules the types alone do not say
def _content_before(content: Any, where: str, ck: Checks) -> Any:
    if isinstance(content, str):
        return {"parts": [{"text": content}]}
    if isinstance(content, (list, tuple)):  # the SDK's ContentUnion: a list of parts is one content
        return {"parts": list(content)}
    if isinstance(content, BaseModel):
        ck.sdk = True
        content = _plain(content)
    if type(content) is not dict:
        return content
    role = content.get("role")
    if role is not None and role not in ROLES:
        raise _fail(f"role {role!r} is not valid: use 'user' or 'model' (system prompts go in system_instruction)",
                    f"{where}.role")
    parts = content.get("parts")
    if isinstance(parts, (str, dict, BaseModel)):
        content = {**content, "parts": [parts]}
    elif type(parts) is not list or not parts:
        raise _fail("parts must be a non-empty list", f"{where}.parts")
    return content


def _part_before(part: Any, where: str, ck: Checks) -> Any:
    if isinstance(part, str):
        return {"text": part}
    if type(part) is dict and not part:
        raise _fail("a part needs one of text, inlineData, fileData, ...", where)
    return part


def _generation_before(config: Any, where: str, ck: Checks) -> Any:
    if type(config) is not dict:
        return config
    config = dict(config)
    for name in ("responseSchema", "response_schema", "responseJsonSchema", "response_json_schema"):
        if name in config:
            as_json = schema_from_python(config[name])
            if as_json is not None:  # a pydantic model or type: send a full JSON schema
                config.pop(name)
                config["responseJsonSchema"] = as_json
    for name in ("speechConfig", "speech_config"):
        if isinstance(config.get(name), str) and ck.sdk:  # google-genai's shorthand: a prebuilt voice name
            config[name] = {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": config[name]}}}
    return config


def _generation_after(fields: dict, where: str, ck: Checks) -> None:
    if "responseSchema" in fields and "responseJsonSchema" in fields:
        raise _fail("response_schema and response_json_schema cannot both be set: keep one", where)
    if "responseJsonSchema" in fields and not isinstance(fields["responseJsonSchema"], dict):
        raise _fail("response_json_schema must be a JSON schema object", f"{where}.response_json_schema")
    if ("responseSchema" in fields or "responseJsonSchema" in fields) and \
            fields.get("responseMimeType") not in ("application/json", "text/x.enum"):
        raise _fail("a response schema needs response_mime_type 'application/json'", f"{where}.response_mime_type")
    temp = fields.get("temperature")
    if temp is not None and not (isinstance(temp, (int, float)) and 0 <= temp <= 2):
        raise _fail(f"temperature must be a number from 0 to 2, got {temp!r}", f"{where}.temperature")


def _schema_after(schema: dict, where: str, ck: Checks) -> None:
    if where.count(".properties.") + where.count(".items") > 32:
        raise _fail("schema nested too deep", where)
    required, props = schema.get("required"), schema.get("properties")
    if required is not None and props is not None:
        missing = [r for r in required if r not in props]
        if missing:
            raise _fail(f"required names {missing} that are not in properties", f"{where}.required")


_BEFORE = {"Content": _content_before, "Part": _part_before, "GenerationConfig": _generation_before}
_AFTER = {"GenerationConfig": _generation_after, "Schema": _schema_after}


def _content(content: Any, where: str, default_role: str | None) -> dict:
    """One Content in REST form (used for batch-wide system instructions)."""
    return _object(content, _types()["Content"], where, Checks())


# ---------------------------------------------------------------------- one request
def _root(obj: dict, root: str, where: str, ck: Checks) -> dict:
    """A request (either spelling) in REST form: config= fields moved where the SDK puts them, every
    field checked against the schema at its place, errors naming the place the user wrote."""
    snap = snapshot()
    spec = snap.roots[root]
    obj = dict(obj)
    sdk_config = obj.pop("config", None)
    placed: list[tuple[str, Any, str]] = []  # (wire name, value, where it was written)
    unknown_here: list[str] = []
    out: dict = {}
    for name, value in obj.items():
        wire = spec.lookup.get(name) if type(name) is str else None
        if wire is None:
            unknown_here.append(name)
            continue
        if value is not None:
            placed.append((wire, value, where))
    generation: dict | None = None  # stays None unless generationConfig or a config= generation field is given
    gen_where = f"{where}.generation_config"
    if sdk_config is not None:
        ck.sdk = True
        if isinstance(sdk_config, BaseModel):
            sdk_config = _plain(sdk_config)
        if type(sdk_config) is not dict:
            raise _fail(f"config must be an object of settings, got {_describe(sdk_config)}", f"{where}.config")
        targets = snap.config[root]
        has_rest_generation = any(w == "generationConfig" for w, _, _ in placed)
        for name, value in sdk_config.items():
            target = targets.get(name) if type(name) is str else None
            if target is None:
                _unknown_config(name, targets, f"{where}.config", ck)
                if "generationConfig" in spec.fields:
                    generation = generation if generation is not None else {}
                    generation[name] = value  # most settings are generation settings
                else:
                    out[name] = value
                continue
            if value is None or target.to == "sdk-only":
                continue  # http_options, automatic_function_calling...: the SDK never sends them
            if target.vertex_only:
                ck.notice(f"config field {name!r} is only supported on Vertex AI, not the Gemini Developer API "
                          "(google-genai refuses it there)", f"{where}.config", f"config.{name}")
            if target.to == "generationConfig":
                generation = generation if generation is not None else {}
                generation[target.name] = value
            else:
                placed.append((target.name, value, f"{where}.config"))
        if not has_rest_generation:
            gen_where = f"{where}.config"
    # Unknown top-level names: judged after the known ones so a missing `contents` can name its likely cause.
    required = [n for n, f in spec.fields.items() if f.required]
    given = {w for w, _, _ in placed}
    for name in unknown_here:
        if any(n not in given for n in required):  # {"prompt": ...}: the unknown name is the likely cause
            raise _fail(_unknown_message(name, spec)[0], where)
        _unknown(name, spec, where, ck)
        out[name] = obj[name]
    for name in required:
        if name not in given:
            example = "contents=[{'role': 'user', 'parts': [{'text': ...}]}]" if name == "contents" else \
                "{'content': {'parts': [{'text': ...}]}} or a plain string"
            raise _fail(f"{name} is missing: every request needs {example}", f"{where}.{name}")
    for wire, value, base in placed:
        field = spec.fields[wire]
        if wire == "generationConfig":
            given_config = (value if type(value) is dict else _plain(value) if isinstance(value, BaseModel)
                            else _raise(_type_error(field, value, f"{where}.generation_config")))
            generation = {**given_config, **(generation or {})}
            continue
        if wire in out:
            raise _fail(f"{wire!r} is given twice (as {field.snake!r} and {wire!r}): keep one", base)
        if field.vertex_only:
            ck.notice(f"field {wire!r} is only supported on Vertex AI, not the Gemini Developer API",
                      base, f"{root}.{wire}")
        if wire == "contents" and isinstance(value, (str, dict, BaseModel)):
            value = [value]
        if wire == "contents" and (type(value) is not list or not value):
            raise _fail("contents must be a non-empty list of {role, parts}", f"{where}.contents")
        if wire == "tools" and type(value) is not list:
            raise _fail("tools must be a list, e.g. [{'google_search': {}}]", f"{base}.tools")
        out[wire] = _value(value, field, f"{base}.{field.snake}", ck)
    if generation is not None and "generationConfig" in spec.fields:
        out["generationConfig"] = _value(generation, spec.fields["generationConfig"], gen_where, ck)
    return out


def _raise(exc: Exception):
    raise exc


def _unknown_config(name: Any, targets: dict, where: str, ck: Checks) -> None:
    names = sorted({t.name for t in targets.values()})
    lookup = {spelling: t.name for spelling, t in targets.items()}
    fields = {n: FieldSpec(n, snake(n), "any") for n in names}
    _unknown(name, TypeSpec("config", fields, lookup), where, ck)


_SIMPLE_REQUEST = frozenset({"contents", "generationConfig"})
_SIMPLE_CONTENT = frozenset({"role", "parts"})
_NUMBER = (int, float)
_SIMPLE_GENERATION = {"temperature": _NUMBER, "topP": _NUMBER, "topK": _NUMBER, "maxOutputTokens": (int,),
                      "candidateCount": (int,), "seed": (int,), "stopSequences": (list,)}


def _already_canonical(obj: dict) -> bool:
    """True for the common shape (text parts, plain sampling settings) already in REST spelling with
    exact JSON types: such a request needs no rewriting, so one flat pass checks it instead of the
    schema walk. Anything else, even if valid, goes the general way (tests/unit prove they agree)."""
    if not _SIMPLE_REQUEST.issuperset(obj):
        return False
    contents = obj.get("contents")
    if type(contents) is not list or not contents:
        return False
    for content in contents:
        if type(content) is not dict or not _SIMPLE_CONTENT.issuperset(content):
            return False
        if content.get("role", "user") not in ROLES:
            return False
        parts = content.get("parts")
        if type(parts) is not list or not parts:
            return False
        for part in parts:
            if type(part) is not dict or len(part) != 1 or type(part.get("text")) is not str:
                return False
    generation = obj.get("generationConfig")
    if generation is not None:
        if type(generation) is not dict:
            return False
        for name, value in generation.items():
            allowed = _SIMPLE_GENERATION.get(name)
            if allowed is None or type(value) not in allowed:
                return False
        temperature = generation.get("temperature")
        if temperature is not None and not 0 <= temperature <= 2:
            return False
        stops = generation.get("stopSequences")
        if stops is not None and not all(type(s) is str for s in stops):
            return False
    return True


def prompt_request(text: str) -> dict:
    """The REST request for a bare prompt: one user turn holding the text."""
    return {"contents": [{"role": "user", "parts": [{"text": text}]}]}


def text_to_embed(text: str) -> dict:
    """The REST embed request for a bare text."""
    return {"content": {"parts": [{"text": text}]}}


def _general_generate(obj: Any, where: str, ck: Checks) -> dict:
    if type(obj) not in _PLAIN_TYPES and isinstance(obj, BaseModel):
        ck.sdk = True
        obj = _typed_request(obj)  # a typed object may come back as a plain prompt string
    if isinstance(obj, str):
        if not obj.strip():
            raise _fail("the prompt is empty", where)
        return prompt_request(obj)
    if not isinstance(obj, dict):
        raise _fail(f"a request must be a JSON object or a prompt string, got {type(obj).__name__}", where)
    return _root(obj, GENERATE, where, ck)


def normalize_generate_request(obj: Any, where: str, *, strict: bool = False, checks: Checks | None = None) -> dict:
    """REST form of a GenerateContentRequest given in SDK or REST spelling (or a bare prompt string)."""
    if type(obj) is dict and _already_canonical(obj):
        return obj  # never mutated downstream, so no copy is needed
    if type(obj) is str and obj.strip():
        return prompt_request(obj)
    ck = checks if checks is not None else Checks(strict)
    ck.sdk = False
    return _general_generate(obj, where, ck)


def normalize_embed_request(obj: Any, where: str, *, strict: bool = False, checks: Checks | None = None) -> dict:
    """REST form of an EmbedContentRequest: a text, or {content, task_type, title, output_dimensionality}."""
    ck = checks if checks is not None else Checks(strict)
    ck.sdk = False
    if type(obj) not in _PLAIN_TYPES and isinstance(obj, BaseModel):
        ck.sdk = True
        obj = _plain(obj)
    if isinstance(obj, str):
        if not obj.strip():
            raise _fail("the text to embed is empty", where)
        return text_to_embed(obj)
    if isinstance(obj, dict) and ("contents" in obj or "generationConfig" in obj or "generation_config" in obj):
        raise _fail("this looks like a generate-content request (contents/generation_config); an embeddings batch "
                    "takes {'content': ..., 'task_type': ...} or plain texts", where)
    if not isinstance(obj, dict):
        raise _fail(f"an embed request must be a JSON object or a text, got {type(obj).__name__}", where)
    fields = _root(obj, EMBED, where, ck)
    dim = fields.get("outputDimensionality")
    if dim is not None and not (not isinstance(dim, bool) and isinstance(dim, (int, float, str))
                                and 1 <= int(float(dim)) <= 3072):
        raise _fail(f"output_dimensionality must be an integer from 1 to 3072, got {dim!r}",
                    f"{where}.output_dimensionality")
    return fields


# ---------------------------------------------------------------------- keys and streams
def _key(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(f"key must be a non-empty string, got {value!r}", f"{where}.key")
    return value


class KeySet:
    """Refuses a key seen before, naming both places. Stores positions, not text, per key."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def add(self, key: str, position: int, describe) -> None:
        """describe(position) -> 'requests[3]' or 'input line 4': only called to report a duplicate."""
        first = self._seen.setdefault(key, position)
        if first != position:
            raise _fail(f"duplicate key {key!r} (first used at {describe(first)}); keys join results to inputs "
                        "and must be unique", describe(position))

    def __len__(self) -> int:
        return len(self._seen)


def _canonical_record(item: Any) -> KeyedRequest | None:
    """The commonest keyed input, {"key": "...", "request": <canonical REST request>}, checked with no
    location string built and no general code run; None sends the item the general way (which also
    produces every error message)."""
    if type(item) is not dict or len(item) != 2:
        return None
    key = item.get("key")
    request = item.get("request")
    if type(key) is not str or type(request) is not dict or not key or key.isspace():
        return None
    return KeyedRequest(key, request) if _already_canonical(request) else None


def _keyed(item: Any, index: int, where: str, kind: BatchKind, key_prefix: str, ck: Checks) -> KeyedRequest:
    embeddings = kind is BatchKind.EMBED
    if type(item) is str and item.strip():  # a bare prompt or text: the commonest input of all
        request = text_to_embed(item) if embeddings else prompt_request(item)
        return KeyedRequest(f"{key_prefix}-{index:06d}", request)
    normalize = normalize_embed_request if embeddings else normalize_generate_request
    # types.InlinedRequest, types.Content, ...: what client.batches.create takes
    if type(item) not in _PLAIN_TYPES and isinstance(item, BaseModel):
        item = _typed_request(item)
    if isinstance(item, dict) and "request" in item:
        if not KEYED_FIELDS.issuperset(item):
            unknown = [k for k in item if k not in KEYED_FIELDS]
            keyed = TypeSpec("keyed record", {n: FieldSpec(n, n, "any") for n in KEYED_FIELDS},
                             {n: n for n in KEYED_FIELDS})
            message, _ = _unknown_message(unknown[0], keyed)
            raise _fail(message, where)
        metadata = item.get("metadata")
        key = item.get("key")
        if metadata is not None:
            if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
                raise _fail("metadata values must be strings", f"{where}.metadata")
            key = key if key is not None else metadata.get("key")
        if key is None:
            raise _fail("key is missing: each record is {'key': '...', 'request': {...}}", f"{where}.key")
        key = _key(key, where)
        request = item["request"]
        if not embeddings and type(request) is dict and _already_canonical(request):
            return KeyedRequest(key, request)  # the common case: skip building a location nobody reads
        return KeyedRequest(key, normalize(request, f"{where} (key {key!r}).request", checks=ck))
    if isinstance(item, dict) and "key" in item:
        raise _fail("a record with a key needs a 'request' object: {'key': '...', 'request': {...}}",
                    f"{where}.request")
    if isinstance(item, dict) and isinstance(item.get("metadata"), dict) and "key" in item["metadata"]:
        metadata = item["metadata"]
        if not all(isinstance(v, str) for v in metadata.values()):
            raise _fail("metadata values must be strings", f"{where}.metadata")
        key = _key(metadata["key"], where)
        rest = {k: v for k, v in item.items() if k != "metadata"}
        return KeyedRequest(key, normalize(rest, f"{where} (key {key!r})", checks=ck))
    return KeyedRequest(f"{key_prefix}-{index:06d}", normalize(item, where, checks=ck))


def iter_keyed(items: Iterable[Any], *, kind: BatchKind | None = None, key_prefix: str = "request",
               keys: KeySet | None = None, strict: bool = False, embeddings: bool | None = None
               ) -> Iterator[KeyedRequest]:
    """Requests from a Python list: strings, request dicts (either spelling), google-genai typed objects
    (types.InlinedRequest, types.Content) or {key, request} records. Missing keys are assigned by
    position, deterministically: request-000000, request-000001, ... (`embeddings=`: the old spelling of
    `kind`, still accepted)"""
    kind = BatchKind.of(kind, embeddings)
    keys = keys if keys is not None else KeySet()
    ck = Checks(strict)
    count = 0
    for index, item in enumerate(items):
        record = None if kind is BatchKind.EMBED else _canonical_record(item)
        if record is None:
            record = _keyed(item, index, f"requests[{index}]", kind, key_prefix, ck)
        keys.add(record.key, index, _list_position)
        count += 1
        yield record
    if count == 0:
        raise _fail("no requests: the batch is empty", "requests")


_BOM = b"\xef\xbb\xbf"


def iter_jsonl(lines: Iterable[bytes], *, source: str = "input", kind: BatchKind | None = None,
               keys: KeySet | None = None, strict: bool = False, embeddings: bool | None = None
               ) -> Iterator[KeyedRequest]:
    """Records from JSONL lines, each {"key": ..., "request": ...}. A UTF-8 byte order mark (Windows
    tools write one), CRLF line ends and blank lines are accepted: the file is rewritten anyway, and
    errors keep naming the line as an editor numbers it."""
    kind = BatchKind.of(kind, embeddings)
    keys = keys if keys is not None else KeySet()
    ck = Checks(strict)
    count = 0

    def position(lineno: int) -> str:
        return f"{source} line {lineno}"

    for lineno, raw in enumerate(lines, start=1):
        if lineno == 1:
            if raw[:2] == b"\x1f\x8b":
                raise _fail("this is a gzip file, not JSONL: decompress it first (or give the .jsonl)", position(1))
            if raw.startswith(_BOM):
                raw = raw[len(_BOM):]
        try:
            obj = _DECODER.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError):
            if not raw.strip():
                continue  # a blank line (often the last one): nothing to send
            _explain_bad_line(raw, position(lineno))
        record = None if kind is BatchKind.EMBED else _canonical_record(obj)
        if record is not None:
            keys.add(record.key, lineno, position)
            count += 1
            yield record
            continue
        where = position(lineno)
        if not isinstance(obj, dict):
            raise _fail(f"each line must be a JSON object, got {type(obj).__name__}", where)
        if "request" not in obj:
            raise _fail("no 'request' object: each line is {'key': '...', 'request': {...}}", f"{where}.request")
        if "key" not in obj and not (isinstance(obj.get("metadata"), dict) and "key" in obj["metadata"]):
            raise _fail("no 'key': each line is {'key': '...', 'request': {...}}", f"{where}.key")
        record = _keyed(obj, lineno, where, kind, "line", ck)
        keys.add(record.key, lineno, position)
        count += 1
        yield record
    if count == 0:
        raise _fail("no requests: the file is empty", source)


def _list_position(index: int) -> str:
    return f"requests[{index}]"


def _explain_bad_line(raw: bytes, where: str) -> None:
    """The fast decoder refused a line: say why as precisely as the standard library can."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(f"not UTF-8 at byte {exc.start}: save the file as UTF-8", where) from None
    if not text.strip():
        raise _fail("blank line: every line must be one JSON object {'key': ..., 'request': ...}", where)
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(f"malformed JSON ({exc.msg} at column {exc.colno})", where) from None
    raise _fail("malformed JSON", where)


def fits_inline(lines: Iterable[bytes]) -> bool:
    """True when these encoded requests (KeyedRequest.jsonl()) fit comfortably in one inline create call."""
    size = 0
    for line in lines:
        size += len(line) + 16  # the inline envelope {"request": ..., "metadata": {"key": ...}} costs a little more
        if size > INLINE_SAFE_BYTES:
            return False
    return True


def check_file_size(size: int, where: str) -> None:
    if size > FILE_LIMIT_BYTES:
        raise GeminiBatchTooLargeError(
            f"{size} bytes is over the 2 GB input-file limit: split it (GeminiBatchSplitJsonlOperator) and "
            "submit the shards",
            location=where)


def apply_defaults(records: Iterable[KeyedRequest], *, system_instruction: Any = None,
                   json_schema: dict | None = None) -> Iterator[KeyedRequest]:
    """Batch-wide settings for requests that do not set their own: a system instruction, and a JSON
    schema for structured output. The caller's dicts are never modified (they may be shared)."""
    system = _content(system_instruction, "system_instruction", None) if system_instruction is not None else None
    for record in records:
        request = record.request
        if system is not None and "systemInstruction" not in request:
            request = {**request, "systemInstruction": system}
        if json_schema is not None:
            generation = request.get("generationConfig") or {}
            if "responseSchema" not in generation and "responseJsonSchema" not in generation:
                request = {**request, "generationConfig": {**generation, "responseMimeType": "application/json",
                                                           "responseJsonSchema": json_schema}}
        yield record if request is record.request else KeyedRequest(record.key, request)
