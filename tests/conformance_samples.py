"""Samples for every field path of the request schema snapshot, generated from the snapshot itself.

For each path (GenerateContentRequest.generationConfig.thinkingConfig.thinkingLevel, ...) it builds a
minimal valid request that sets that field to a type-correct value, in three spellings: camelCase
(REST), snake_case, and google-genai's `config=` spelling; and bad variants: a wrong JSON type and,
for enums, a value not in the enum. Each sample knows the path an error message must name.

Recursive types (Schema.items is a Schema) are expanded once per path: a type is not expanded again
inside itself, so every field of every type is reached without an infinite tree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "airflow_provider_gemini_batch" / "data" /
                     "request_schema.json").read_text())
ROOTS = ("GenerateContentRequest", "EmbedContentRequest")
WRONG_TYPE = {"string": 12345, "bytes": 12345, "enum": 12345, "integer": "twelve", "number": "warm",
              "boolean": "yes", "object": 12345, "struct": 12345, "map": 12345, "array": 12345}


@dataclass(frozen=True)
class Step:
    wire: str  # camelCase; "[0]" for an array item, "k" for a map value
    snake: str
    spec: dict
    kind: str  # "field", "item", "value"


@dataclass
class Sample:
    root: str
    path: str  # camelCase dotted path, for ids
    spelling: str  # camel, snake, config
    request: dict
    names: str  # the snake_case path the user wrote (what an error must name), e.g. config.thinking_config
    vertex_only: bool
    via_sdk: bool  # the SDK's own types can carry it (config spelling only)


def field_paths(root: str) -> list[list[Step]]:
    out: list[list[Step]] = []

    def walk(fields: dict, prefix: list[Step], seen: tuple[str, ...]) -> None:
        for wire, spec in fields.items():
            path = prefix + [Step(wire, spec.get("snake", wire), spec, "field")]
            out.append(path)
            descend(spec, path, seen)

    def descend(spec: dict, path: list[Step], seen: tuple[str, ...]) -> None:
        if spec["kind"] == "object" and spec["ref"] not in seen:
            walk(SCHEMA["types"][spec["ref"]]["fields"], path, seen + (spec["ref"],))
        elif spec["kind"] == "array":
            descend(spec["items"], path + [Step("[0]", "[0]", spec["items"], "item")], seen)
        elif spec["kind"] == "map":
            descend(spec["values"], path + [Step("k", "k", spec["values"], "value")], seen)

    walk(SCHEMA["roots"][root]["fields"], [], ())
    return out


def good_value(spec: dict):
    kind = spec["kind"]
    if kind == "string":
        if spec.get("format") == "timestamp":
            return "2026-01-31T12:00:00Z"
        return spec["values"][0] if isinstance(spec.get("values"), list) else "x"
    if kind == "bytes":
        return "eHg="
    if kind == "integer":
        return 3
    if kind == "number":
        return 0.5
    if kind == "boolean":
        return True
    if kind == "enum":
        values = SCHEMA["enums"][spec["enum"]]
        return next((v for v in values if not v.endswith("UNSPECIFIED")), values[0])
    if kind == "struct":
        return {"a": 1}
    if kind == "any":
        return {"type": "object"}
    if kind == "map":
        return {"k": good_value(spec["values"])}
    if kind == "array":
        return [good_value(spec["items"])]
    return minimal(spec["ref"])


def minimal(type_name: str) -> dict:
    """The smallest valid object of a type: a Content needs parts, a Part needs something."""
    if type_name == "Content":
        return {"role": "user", "parts": [{"text": "conformance"}]}
    if type_name == "Part":
        return {"text": "conformance"}
    return {}


def _base(root: str) -> dict:
    if root == "GenerateContentRequest":
        return {"contents": [{"role": "user", "parts": [{"text": "conformance"}]}]}
    return {"content": {"parts": [{"text": "conformance"}]}}


def _names(path: list[Step]) -> str:
    out = ""
    for step in path:
        if step.kind == "item":
            out += "[0]"
        else:
            out += ("." if out else "") + step.snake
    return out


def _put(request: dict, path: list[Step], value, snake: bool) -> dict:
    """request with the value set at path, creating minimal containers on the way."""
    node = request
    for i, step in enumerate(path):
        last = i == len(path) - 1
        if step.kind == "item":
            continue  # handled by the array step before it
        key = step.snake if snake and step.kind == "field" else step.wire
        nxt = path[i + 1] if not last else None
        if last:
            node[key] = value
            break
        spec = step.spec
        if spec["kind"] == "array":
            existing = node.get(key)
            if not isinstance(existing, list) or not existing:
                node[key] = [good_value(spec["items"]) if spec["items"]["kind"] != "object"
                             else minimal(spec["items"]["ref"])]
            if i + 2 == len(path):  # the path ends at the item itself
                node[key][0] = value
                break
            node = node[key][0]
        elif spec["kind"] == "map":
            node = node.setdefault(key, {"k": minimal(spec["values"].get("ref", ""))})["k"]
        else:
            existing = node.get(key)
            if not isinstance(existing, dict):
                node[key] = minimal(spec["ref"])
            node = node[key]
        assert nxt is not None
    return request


def _with_rules(request: dict, path: list[Step], generation_key: str, schema_mime: bool) -> dict:
    """Rules beyond types: a response schema needs a JSON mime type."""
    if schema_mime and len(path) > 1 and path[0].wire == "generationConfig" and \
            path[1].wire in ("responseSchema", "responseJsonSchema"):
        request[generation_key].setdefault("response_mime_type" if "_" in generation_key else "responseMimeType",
                                           "application/json")
    return request


def samples(root: str, value_for=good_value) -> list[Sample]:
    out = []
    config_targets = SCHEMA["roots"][root]["config"]
    for path in field_paths(root):
        value = value_for(path[-1].spec)
        if value is None:
            continue
        vertex = any(s.spec.get("vertexOnly") for s in path)
        camel_path = ".".join(s.wire for s in path)
        names = _names(path)
        camel_req = _with_rules(_put(_base(root), path, value, snake=False), path, "generationConfig", True)
        snake_req = _with_rules(_put(_base(root), path, value, snake=True), path, "generation_config", True)
        out.append(Sample(root, camel_path, "camel", camel_req, names, vertex, False))
        out.append(Sample(root, camel_path, "snake", snake_req, names, vertex, False))
        # config=: the request-level and generation settings move into config, as google-genai takes them
        first = path[0]
        if first.wire == "generationConfig" and len(path) > 1:
            inner = path[1:]
            config = _put({}, inner, value, snake=True)
            if inner[0].wire in ("responseSchema", "responseJsonSchema"):
                config.setdefault("response_mime_type", "application/json")
            target = config_targets.get(inner[0].snake, {})
            request = {**_base(root), "config": config}
            out.append(Sample(root, camel_path, "config", request, "config." + _names(inner), vertex,
                              via_sdk=not vertex and not target.get("vertexOnly") and target.get("source") != "api-reference"
                              and inner[0].snake in config_targets))
        elif first.snake in config_targets and config_targets[first.snake]["to"] == "request":
            config = _put({}, path, value, snake=True)
            request = {**_base(root), "config": config}
            via_sdk = not vertex and not config_targets[first.snake].get("vertexOnly")
            out.append(Sample(root, camel_path, "config", request, "config." + names, vertex, via_sdk))
    return out


def wrong_type(spec: dict):
    return WRONG_TYPE.get(spec["kind"])


def wrong_value(spec: dict):
    if spec["kind"] == "enum":
        return "NOT_A_VALUE"
    if spec["kind"] == "string" and isinstance(spec.get("values"), list):
        return "narrator"
    if spec.get("format") == "timestamp":
        return "yesterday"
    return None
