"""Validate and normalise batch requests before anything billable happens. Pure: no Airflow, no HTTP.

Users bring two spellings of one request: the Python SDK's (request-level settings inside
``config``) and the REST/JSONL one (``systemInstruction``, ``tools``, ``generationConfig`` at the
top). Both become the REST form, camelCase at the top, which is what goes on the wire, inline or
as a JSONL line. Every error names where it is: the line, the key and the field, and how to fix it.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Iterator

import msgspec

from .exceptions import GeminiBatchTooLargeError, GeminiRequestError

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


REQUEST_FIELDS = {"contents", "systemInstruction", "tools", "toolConfig", "safetySettings",
                  "generationConfig", "cachedContent", "labels", "model", "serviceTier", "store"}
# Request-level settings the SDK spelling keeps inside `config`; everything else there is generation config.
SDK_CONFIG_TO_REQUEST = {"systemInstruction", "tools", "toolConfig", "safetySettings", "cachedContent", "labels",
                         "serviceTier", "store"}
GENERATION_CONFIG_FIELDS = {
    "temperature", "topP", "topK", "candidateCount", "maxOutputTokens", "stopSequences", "responseMimeType",
    "responseSchema", "responseJsonSchema", "presencePenalty", "frequencyPenalty", "seed", "responseLogprobs",
    "logprobs", "responseModalities", "speechConfig", "thinkingConfig", "mediaResolution",
    "enableEnhancedCivicAnswers", "imageConfig", "routingConfig", "audioTimestamp",
}
TOOL_FIELDS = {"functionDeclarations", "googleSearch", "googleSearchRetrieval", "codeExecution", "urlContext",
               "computerUse", "fileSearch", "googleMaps", "retrieval", "enterpriseWebSearch", "mcpServers"}
CONTENT_FIELDS = {"role", "parts"}
PART_FIELDS = {"text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
               "codeExecutionResult", "thought", "thoughtSignature", "videoMetadata", "partMetadata",
               "mediaResolution"}
ROLES = ("user", "model")
SCHEMA_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL", "TYPE_UNSPECIFIED"}
EMBED_FIELDS = {"content", "taskType", "title", "outputDimensionality", "model"}
EMBED_TASK_TYPES = {"RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY", "CLASSIFICATION",
                    "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY",
                    "TASK_TYPE_UNSPECIFIED"}
KEYED_FIELDS = {"key", "request", "metadata"}


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder()


@dataclass(frozen=True)
class KeyedRequest:
    key: str
    request: dict  # REST form

    def jsonl(self) -> bytes:
        # msgspec (already installed with Airflow 3) encodes several times faster than json.dumps,
        # which is most of the cost of turning a million requests into a file.
        return _ENCODER.encode({"key": self.key, "request": self.request}) + b"\n"

    def inline(self) -> dict:
        return {"request": self.request, "metadata": {"key": self.key}}


def _fail(message: str, where: str) -> GeminiRequestError:
    return GeminiRequestError(message, location=where)


def _unknown_field(name: str, allowed: set[str], where: str) -> GeminiRequestError:
    spellings = sorted(allowed | {snake(a) for a in allowed})
    stripped = name.strip()
    if stripped != name and camel(stripped) in allowed:
        return _fail(f"field {name!r} has stray whitespace: write {stripped!r}", where)
    close = difflib.get_close_matches(name, spellings, n=1, cutoff=0.75) or \
        difflib.get_close_matches(camel(name), spellings, n=1, cutoff=0.75)
    hint = f"; did you mean {snake(close[0]) if '_' in name else close[0]!r}?" if close else \
        f"; known fields: {', '.join(sorted(allowed))}"
    return _fail(f"unknown field {name!r}{hint}", where)


def _fields(obj: Any, allowed: set[str], where: str, what: str) -> dict:
    """obj's fields by camelCase name, refusing unknown ones."""
    if not isinstance(obj, dict):
        raise _fail(f"{what} must be a JSON object, got {type(obj).__name__}", where)
    if allowed.issuperset(obj):  # the common case, checked in C: every name already camelCase and known
        return dict(obj)
    out = {}
    for name, value in obj.items():
        if not isinstance(name, str) or camel(name) not in allowed:
            raise _unknown_field(str(name), allowed, where)
        out[camel(name)] = value
    return out


# ---------------------------------------------------------------------- contents
def _part(part: Any, where: str) -> dict:
    if isinstance(part, str):
        return {"text": part}
    fields = _fields(part, PART_FIELDS, where, "a part")
    if not fields:
        raise _fail("a part needs one of text, inlineData, fileData, ...", where)
    if "text" in fields and not isinstance(fields["text"], str):
        raise _fail(f"text must be a string, got {type(fields['text']).__name__}", f"{where}.text")
    return fields


def _content(content: Any, where: str, default_role: str | None) -> dict:
    if isinstance(content, str):
        content = {"parts": [{"text": content}]}
    fields = _fields(content, CONTENT_FIELDS, where, "a content")
    role = fields.get("role", default_role)
    if role is not None and role not in ROLES:
        raise _fail(f"role {role!r} is not valid: use 'user' or 'model' (system prompts go in system_instruction)",
                    f"{where}.role")
    parts = fields.get("parts")
    if isinstance(parts, (str, dict)):
        parts = [parts]
    if not isinstance(parts, list) or not parts:
        raise _fail("parts must be a non-empty list", f"{where}.parts")
    out = {"parts": [_part(p, f"{where}.parts[{i}]") for i, p in enumerate(parts)]}
    if role is not None:
        out["role"] = role
    return out


def _contents(contents: Any, where: str) -> list[dict]:
    if isinstance(contents, (str, dict)):
        contents = [contents]
    if not isinstance(contents, list) or not contents:
        raise _fail("contents must be a non-empty list of {role, parts}", where)
    return [_content(c, f"{where}[{i}]", default_role=None) for i, c in enumerate(contents)]


# ---------------------------------------------------------------------- generation config and schema
def schema_from_python(value: Any) -> dict | None:
    """A JSON schema for a pydantic model class or any type pydantic understands (list[Model])."""
    if isinstance(value, dict):
        return None
    try:
        from pydantic import TypeAdapter

        return TypeAdapter(value).json_schema()
    except Exception:
        return None


def _check_schema(schema: Any, where: str, depth: int = 0) -> None:
    if not isinstance(schema, dict):
        raise _fail(f"a schema must be an object, got {type(schema).__name__}", where)
    if depth > 32:
        raise _fail("schema nested too deep", where)
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    for k in kinds:
        if not isinstance(k, str) or k.upper() not in SCHEMA_TYPES:
            raise _fail(f"schema type {k!r} is not one of {', '.join(sorted(t.lower() for t in SCHEMA_TYPES))}",
                        f"{where}.type")
    props = schema.get("properties")
    if props is not None:
        if not isinstance(props, dict):
            raise _fail("properties must be an object of name -> schema", f"{where}.properties")
        for name, sub in props.items():
            _check_schema(sub, f"{where}.properties.{name}", depth + 1)
    if "items" in schema:
        _check_schema(schema["items"], f"{where}.items", depth + 1)
    required = schema.get("required")
    if required is not None and props is not None:
        missing = [r for r in required if r not in props]
        if missing:
            raise _fail(f"required names {missing} that are not in properties", f"{where}.required")


def _generation_config(config: Any, where: str) -> dict:
    fields = _fields(config, GENERATION_CONFIG_FIELDS, where, "generation_config")
    for name in ("responseSchema", "responseJsonSchema"):
        if name in fields:
            as_json = schema_from_python(fields[name])
            if as_json is not None:  # a pydantic model: send a full JSON schema
                fields.pop(name)
                fields["responseJsonSchema"] = as_json
    if "responseSchema" in fields:
        _check_schema(fields["responseSchema"], f"{where}.response_schema")
    if "responseJsonSchema" in fields and not isinstance(fields["responseJsonSchema"], dict):
        raise _fail("response_json_schema must be a JSON schema object", f"{where}.response_json_schema")
    if ("responseSchema" in fields or "responseJsonSchema" in fields) and \
            fields.get("responseMimeType") not in ("application/json", "text/x.enum"):
        raise _fail("a response schema needs response_mime_type 'application/json'", f"{where}.response_mime_type")
    temp = fields.get("temperature")
    if temp is not None and (not isinstance(temp, (int, float)) or isinstance(temp, bool) or not 0 <= temp <= 2):
        raise _fail(f"temperature must be a number from 0 to 2, got {temp!r}", f"{where}.temperature")
    return fields


def _tools(tools: Any, where: str) -> list:
    if not isinstance(tools, list):
        raise _fail("tools must be a list, e.g. [{'google_search': {}}]", where)
    return [_fields(t, TOOL_FIELDS, f"{where}[{i}]", "a tool") for i, t in enumerate(tools)]


# ---------------------------------------------------------------------- one request
_SIMPLE_REQUEST = frozenset({"contents", "generationConfig"})
_SIMPLE_CONTENT = frozenset({"role", "parts"})
_SIMPLE_GENERATION = frozenset({"temperature", "topP", "topK", "maxOutputTokens", "candidateCount", "seed",
                                "stopSequences"})


def _already_canonical(obj: dict) -> bool:
    """True for the common shape (text parts, plain sampling settings) already in REST spelling: such a
    request needs no rewriting, so one flat pass checks it instead of the general walk below."""
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
        if type(generation) is not dict or not _SIMPLE_GENERATION.issuperset(generation):
            return False
        temperature = generation.get("temperature")
        if temperature is not None and (type(temperature) not in (int, float) or not 0 <= temperature <= 2):
            return False
    return True


def normalize_generate_request(obj: Any, where: str) -> dict:
    """REST form of a GenerateContentRequest given in SDK or REST spelling (or a bare prompt string)."""
    if type(obj) is dict and _already_canonical(obj):
        return obj  # never mutated downstream, so no copy is needed
    if isinstance(obj, str):
        if not obj.strip():
            raise _fail("the prompt is empty", where)
        return {"contents": [{"role": "user", "parts": [{"text": obj}]}]}
    if not isinstance(obj, dict):
        raise _fail(f"a request must be a JSON object or a prompt string, got {type(obj).__name__}", where)
    obj = dict(obj)
    sdk_config = obj.pop("config", None)
    fields = _fields(obj, REQUEST_FIELDS, where, "a request")
    if sdk_config is not None:
        config = _fields(sdk_config, SDK_CONFIG_TO_REQUEST | GENERATION_CONFIG_FIELDS, f"{where}.config", "config")
        generation = dict(fields.get("generationConfig") or {})
        for name, value in config.items():
            if name in SDK_CONFIG_TO_REQUEST:
                fields[name] = value
            else:
                generation[name] = value
        if generation:
            fields["generationConfig"] = generation
    if "contents" not in fields:
        raise _fail("contents is missing: every request needs contents=[{'role': 'user', 'parts': [{'text': ...}]}]",
                    f"{where}.contents")
    fields["contents"] = _contents(fields["contents"], f"{where}.contents")
    if "systemInstruction" in fields:
        fields["systemInstruction"] = _content(fields["systemInstruction"], f"{where}.system_instruction", None)
    if "tools" in fields:
        fields["tools"] = _tools(fields["tools"], f"{where}.tools")
    if "generationConfig" in fields:
        fields["generationConfig"] = _generation_config(fields["generationConfig"], f"{where}.generation_config")
    return fields


def normalize_embed_request(obj: Any, where: str) -> dict:
    """REST form of an EmbedContentRequest: a text, or {content, task_type, title, output_dimensionality}."""
    if isinstance(obj, str):
        if not obj.strip():
            raise _fail("the text to embed is empty", where)
        return {"content": {"parts": [{"text": obj}]}}
    if isinstance(obj, dict) and ("contents" in obj or "generationConfig" in obj or "generation_config" in obj):
        raise _fail("this looks like a generate-content request (contents/generation_config); an embeddings batch "
                    "takes {'content': ..., 'task_type': ...} or plain texts", where)
    fields = _fields(obj, EMBED_FIELDS, where, "an embed request")
    if "content" not in fields:
        raise _fail("content is missing: give {'content': {'parts': [{'text': ...}]}} or a plain string",
                    f"{where}.content")
    fields["content"] = _content(fields["content"], f"{where}.content", None)
    task = fields.get("taskType")
    if task is not None and task not in EMBED_TASK_TYPES:
        raise _fail(f"task_type {task!r} is not one of {', '.join(sorted(EMBED_TASK_TYPES))}", f"{where}.task_type")
    dim = fields.get("outputDimensionality")
    if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool) or not 1 <= dim <= 3072):
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


def _keyed(item: Any, index: int, where: str, embeddings: bool, key_prefix: str) -> KeyedRequest:
    normalize = normalize_embed_request if embeddings else normalize_generate_request
    if isinstance(item, dict) and "request" in item:
        fields = _fields(item, KEYED_FIELDS, where, "a keyed record")
        metadata = fields.get("metadata")
        key = fields.get("key")
        if metadata is not None:
            if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
                raise _fail("metadata values must be strings", f"{where}.metadata")
            key = key if key is not None else metadata.get("key")
        if key is None:
            raise _fail("key is missing: each record is {'key': '...', 'request': {...}}", f"{where}.key")
        key = _key(key, where)
        return KeyedRequest(key, normalize(fields["request"], f"{where} (key {key!r}).request"))
    if isinstance(item, dict) and "key" in item:
        raise _fail("a record with a key needs a 'request' object: {'key': '...', 'request': {...}}", f"{where}.request")
    if isinstance(item, dict) and isinstance(item.get("metadata"), dict) and "key" in item["metadata"]:
        metadata = item["metadata"]
        if not all(isinstance(v, str) for v in metadata.values()):
            raise _fail("metadata values must be strings", f"{where}.metadata")
        key = _key(metadata["key"], where)
        rest = {k: v for k, v in item.items() if k != "metadata"}
        return KeyedRequest(key, normalize(rest, f"{where} (key {key!r})"))
    return KeyedRequest(f"{key_prefix}-{index:06d}", normalize(item, where))


def iter_keyed(items: Iterable[Any], *, embeddings: bool = False, key_prefix: str = "request",
               keys: KeySet | None = None) -> Iterator[KeyedRequest]:
    """Requests from a Python list: strings, request dicts (either spelling) or {key, request} records.
    Missing keys are assigned by position, deterministically: request-000000, request-000001, ..."""
    keys = keys if keys is not None else KeySet()
    count = 0
    for index, item in enumerate(items):
        where = f"requests[{index}]"
        record = _keyed(item, index, where, embeddings, key_prefix)
        keys.add(record.key, index, _list_position)
        count += 1
        yield record
    if count == 0:
        raise _fail("no requests: the batch is empty", "requests")


def iter_jsonl(lines: Iterable[bytes], *, source: str = "input", embeddings: bool = False,
               keys: KeySet | None = None) -> Iterator[KeyedRequest]:
    """Records from JSONL lines, each {"key": ..., "request": ...}. Blank lines are refused: the API
    counts lines, and a stray blank line is usually a file joined wrong."""
    keys = keys if keys is not None else KeySet()
    count = 0

    def position(lineno: int) -> str:
        return f"{source} line {lineno}"

    for lineno, raw in enumerate(lines, start=1):
        where = f"{source} line {lineno}"
        if lineno == 1 and raw[:2] == b"\x1f\x8b":
            raise _fail("this is a gzip file, not JSONL: decompress it first (or give the .jsonl)", where)
        try:
            obj = _DECODER.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError):
            _explain_bad_line(raw, where)
        if not isinstance(obj, dict):
            raise _fail(f"each line must be a JSON object, got {type(obj).__name__}", where)
        if "request" not in obj:
            raise _fail("no 'request' object: each line is {'key': '...', 'request': {...}}", f"{where}.request")
        if "key" not in obj and not (isinstance(obj.get("metadata"), dict) and "key" in obj["metadata"]):
            raise _fail("no 'key': each line is {'key': '...', 'request': {...}}", f"{where}.key")
        record = _keyed(obj, lineno, where, embeddings, "line")
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
    except ValueError as exc:
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
