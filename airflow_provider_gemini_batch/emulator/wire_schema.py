"""The emulator's own judgement of request bodies, as the real API checks them.

Deliberately independent of the provider's validator (a fake that shares our code agrees with our
bugs): this module never imports it. It reads the same published data, though
(airflow_provider_gemini_batch/data/request_schema.json, generated from google-genai's types), so
both stay true to the API rather than to each other. Like the real service it accepts lowerCamelCase
and snake_case at every depth, treats null as unset, answers an unknown field with 400 "Invalid JSON
payload received. Unknown name ...", and a wrong JSON type or enum value with "Invalid value at
'<path>' (<proto type>), <value>". Enum values are case-sensitive on the wire (google-genai
upper-cases them before sending; a hand-written "object" is refused).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

_CAMEL_RE = re.compile(r"_([a-z0-9])")
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "data" / "request_schema.json"
_PROTO_PACKAGE = "type.googleapis.com/google.ai.generativelanguage.v1beta"
_SCALAR_TYPES = {"string": "TYPE_STRING", "bytes": "TYPE_BYTES", "integer": "TYPE_INT32", "number": "TYPE_FLOAT",
                 "boolean": "TYPE_BOOL"}
_INT_TEXT = re.compile(r"-?[0-9]+")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2}))?")


def camel(name: str) -> str:
    return _CAMEL_RE.sub(lambda m: m.group(1).upper(), name)


class WireError(Exception):
    """A request the real API would refuse with 400 INVALID_ARGUMENT."""


@lru_cache(maxsize=1)
def _wire() -> dict:
    """type name -> {spelling: (wire name, field spec)}; roots under their own names."""
    data = json.loads(SCHEMA_PATH.read_text("utf-8"))
    out: dict[str, Any] = {}
    for group in ("types", "roots"):
        for name, entry in data[group].items():
            index = {}
            for wire, spec in entry["fields"].items():
                index[wire] = (wire, spec)
                index[spec.get("snake", wire)] = (wire, spec)
            out[name] = index
    out["__enums__"] = {name: set(values) for name, values in data["enums"].items()}
    return out


def _unknown(name: str, where: str) -> WireError:
    return WireError(f'Invalid JSON payload received. Unknown name "{name}" at \'{where}\': Cannot find field.')


def _invalid_value(where: str, proto_type: str, value: Any) -> WireError:
    try:
        shown = json.dumps(value)
    except (TypeError, ValueError):
        shown = repr(value)
    return WireError(f"Invalid value at '{where}' ({proto_type}), {shown[:60]}")


def _snake_of(spec: dict, wire: str) -> str:
    return spec.get("snake") or re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), wire)


def _message(obj: Any, type_name: str, where: str) -> dict:
    if not isinstance(obj, dict):
        raise WireError(f"Invalid JSON payload received. Expected an object at '{where}'.")
    index = _wire()[type_name]
    out = {}
    for key, value in obj.items():
        found = index.get(key)
        if found is None:
            raise _unknown(key, where)
        if value is None:
            continue
        wire, spec = found
        out[wire] = _field(value, spec, f"{where}.{_snake_of(spec, wire)}")
    if type_name == "Content":
        role = out.get("role")
        if role is not None and role not in ("user", "model"):
            raise WireError(f"Please use a valid role: user, model. (at '{where}.role')")
        parts = out.get("parts")
        if not isinstance(parts, list) or not parts:
            raise WireError(f"* GenerateContentRequest.{where}.parts: contents.parts must not be empty.")
    return out


def _field(value: Any, spec: dict, where: str) -> Any:
    kind = spec["kind"]
    if kind == "object":
        return _message(value, spec["ref"], where)
    if kind == "array":
        if not isinstance(value, list):
            raise WireError(f"Invalid JSON payload received. Expected a list at '{where}'.")
        return [_field(v, spec["items"], f"{where}[{i}]") for i, v in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise WireError(f"Invalid JSON payload received. Expected an object at '{where}'.")
        return {k: _field(v, spec["values"], f"{where}.{k}") for k, v in value.items()}
    if kind == "struct":
        if not isinstance(value, dict):
            raise _invalid_value(where, "type.googleapis.com/google.protobuf.Struct", value)
        return value
    if kind == "enum":
        if not isinstance(value, str) or value not in _wire()["__enums__"][spec["enum"]]:
            raise _invalid_value(where, f"{_PROTO_PACKAGE}.{spec['enum']}", value)
        return value
    ok = {
        "string": lambda v: isinstance(v, str),
        "bytes": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        # proto3 JSON: integers as numbers or decimal strings; floats as numbers or numeric strings
        "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or
        (isinstance(v, float) and v.is_integer()) or (isinstance(v, str) and bool(_INT_TEXT.fullmatch(v))),
        "number": lambda v: (isinstance(v, (int, float)) and not isinstance(v, bool)) or
        (isinstance(v, str) and _is_float_text(v)),
    }.get(kind)
    if ok is not None and not ok(value):
        raise _invalid_value(where, _SCALAR_TYPES[kind], value)
    if spec.get("format") == "timestamp" and not _TIMESTAMP.fullmatch(value):
        raise _invalid_value(where, "type.googleapis.com/google.protobuf.Timestamp", value)
    if isinstance(spec.get("values"), list) and value not in spec["values"]:  # a string with a fixed set
        if where.endswith(".role"):
            raise WireError(f"Please use a valid role: user, model. (at '{where}')")
        raise _invalid_value(where, "TYPE_ENUM", value)
    return value


def _is_float_text(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def check_generate_request(request: Any, where: str) -> dict:
    req = _message(request, "GenerateContentRequest", where)
    contents = req.get("contents")
    if not isinstance(contents, list) or not contents:
        raise WireError("* GenerateContentRequest.contents: contents is not specified")
    gen = req.get("generationConfig") or {}
    if "responseSchema" in gen and "responseJsonSchema" in gen:
        raise WireError(f"* GenerateContentRequest.{where}.generation_config: response_schema and "
                        "response_json_schema cannot both be set.")
    return req


def check_embed_request(request: Any, where: str) -> dict:
    req = _message(request, "EmbedContentRequest", where)
    if "content" not in req:
        raise WireError("* EmbedContentRequest.content: content is not specified")
    dim = req.get("outputDimensionality")
    if dim is not None and not 1 <= int(float(dim)) <= 3072:
        raise WireError(f"* EmbedContentRequest.output_dimensionality: must be between 1 and 3072, got {dim!r}")
    return req


def texts_of(request: dict) -> list[str]:
    """Every text part of a request, wherever contents live (generate or embed)."""
    out: list[str] = []
    contents = request.get("contents")
    if contents is None and "content" in request:
        contents = [request["content"]]
    for content in contents or []:
        for part in (content or {}).get("parts") or []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                out.append(part["text"])
    return out


def get_any(obj: dict, name: str, default=None):
    """Read a field by its camelCase name, whichever spelling the client used."""
    for key, value in obj.items():
        if camel(key) == name:
            return value
    return default
