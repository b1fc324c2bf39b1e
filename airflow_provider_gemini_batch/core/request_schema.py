"""The request types of the Gemini API as data: data/request_schema.json, read once.

The file is generated from google-genai's typed models (scripts/generate_request_schema.py); this
module only indexes it for the validator: each type's fields by every spelling (camelCase on the
wire, snake_case in Python), their JSON kinds, enum values and nesting. Pure: no Airflow, no HTTP.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

SCHEMA_FILE = "request_schema.json"


@dataclass(frozen=True)
class FieldSpec:
    """One field (or an array item / map value, which have no name)."""

    name: str  # camelCase wire name ("" for items and values)
    snake: str
    kind: str  # object, array, map, struct, any, string, bytes, integer, number, boolean, enum
    ref: str | None = None  # the type of an object
    enum: str | None = None  # the enum's name
    values: tuple[str, ...] = ()  # allowed values of an enum, or of a string with a fixed set (role)
    items: FieldSpec | None = None  # of an array; of a map: its values
    vertex_only: bool = False
    required: bool = False
    format: str | None = None  # "timestamp": an RFC 3339 string


@dataclass(frozen=True)
class TypeSpec:
    name: str
    fields: dict[str, FieldSpec]
    lookup: dict[str, str] = field(default_factory=dict)  # any spelling -> camelCase wire name

    def spellings(self) -> list[str]:
        return sorted(self.lookup)


@dataclass(frozen=True)
class ConfigTarget:
    """Where an SDK `config` field goes on the wire: "request", "generationConfig" or "sdk-only"."""

    name: str  # camelCase
    to: str
    vertex_only: bool = False


@dataclass(frozen=True)
class Snapshot:
    sdk_version: str
    types: dict[str, TypeSpec]
    roots: dict[str, TypeSpec]
    config: dict[str, dict[str, ConfigTarget]]  # root -> any spelling -> target
    enums: dict[str, tuple[str, ...]]


def _field(name: str, raw: dict, enums: dict[str, tuple[str, ...]]) -> FieldSpec:
    sub = raw["items"] if "items" in raw else raw["values"] if isinstance(raw.get("values"), dict) else None
    values = tuple(raw["values"]) if isinstance(raw.get("values"), list) else ()
    if raw.get("enum"):
        values = enums[raw["enum"]]
    return FieldSpec(name=name, snake=raw.get("snake", name), kind=raw["kind"], ref=raw.get("ref"),
                     enum=raw.get("enum"), values=values, items=_field("", sub, enums) if sub else None,
                     vertex_only=bool(raw.get("vertexOnly")), required=bool(raw.get("required")),
                     format=raw.get("format"))


def _type(name: str, raw: dict, enums) -> TypeSpec:
    fields = {wire: _field(wire, spec, enums) for wire, spec in raw["fields"].items()}
    lookup = {}
    for wire, spec in fields.items():
        lookup[wire] = wire
        lookup[spec.snake] = wire
    return TypeSpec(name, fields, lookup)


def parse(data: dict) -> Snapshot:
    enums = {name: tuple(values) for name, values in data["enums"].items()}
    types = {name: _type(name, raw, enums) for name, raw in data["types"].items()}
    roots = {name: _type(name, raw, enums) for name, raw in data["roots"].items()}
    config = {}
    for root, raw in data["roots"].items():
        targets = {}
        for snake_name, target in raw.get("config", {}).items():
            wire = _camel(snake_name)
            t = ConfigTarget(wire, target["to"], bool(target.get("vertexOnly")))
            targets[snake_name] = targets[wire] = t
        config[root] = targets
    return Snapshot(data["sdk"]["version"], types, roots, config, enums)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def raw_schema() -> dict:
    return json.loads(resources.files("airflow_provider_gemini_batch.data").joinpath(SCHEMA_FILE).read_text("utf-8"))


@lru_cache(maxsize=1)
def snapshot() -> Snapshot:
    return parse(raw_schema())
