#!/usr/bin/env python
"""Generate airflow_provider_gemini_batch/data/request_schema.json from the installed google-genai.

The validator (and, with its own code, the emulator) is driven by this snapshot instead of hand-kept
field lists. Sources, in order of authority:

1. google-genai's typed pydantic models (google.genai.types): every field, its JSON type, enum
   values, nesting. They are updated with every API release and installed with us.
2. The SDK's own request converters (google.genai.batches._*_to_mldev), run on one-field samples:
   they say where each `config` field lands (request level, generationConfig, or nowhere: SDK-only)
   and which fields the Gemini Developer API does not take (the SDK raises "only supported in ...").
3. ADDITIONS below: documented in the published API reference where the SDK lags. Each says why.

Usage: python scripts/generate_request_schema.py [--check]   (--check: exit 1 if the file would change)
"""

from __future__ import annotations

import argparse
import datetime
import enum
import inspect
import json
import re
import sys
import types as pytypes
import typing
from pathlib import Path

import pydantic
from google import genai
from google.genai import _transformers as sdk_transformers
from google.genai import batches as sdk_batches
from google.genai import types as gt

OUT = Path(__file__).resolve().parent.parent / "airflow_provider_gemini_batch" / "data" / "request_schema.json"

# Enums the API reference documents for fields the SDK types as plain strings.
ENUM_ADDITIONS = {
    # EmbedContentRequest.taskType: google-genai types EmbedContentConfig.task_type as str.
    "TaskType": ["TASK_TYPE_UNSPECIFIED", "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY",
                 "CLASSIFICATION", "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION",
                 "CODE_RETRIEVAL_QUERY"],
}
# `config` fields the published reference documents that google-genai's GenerateContentConfig lacks
# (GenerationConfig has response_format; GenerateContentConfig, the SDK spelling, does not yet).
CONFIG_ADDITIONS = {"response_format": "generationConfig"}
# Roles are free strings in the SDK; the API takes these two (system prompts go in systemInstruction).
ROLE_VALUES = ["user", "model"]

_SNAKE = re.compile(r"_([a-z0-9])")


def camel(name: str) -> str:
    return _SNAKE.sub(lambda m: m.group(1).upper(), name)


def snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


class Walker:
    def __init__(self) -> None:
        self.types: dict[str, dict] = {}
        self.enums: dict[str, list[str]] = dict(ENUM_ADDITIONS)
        self.client = genai.Client(api_key="schema-generator")._api_client

    # ------------------------------------------------------------------ annotations -> field specs
    def spec(self, annotation) -> dict:
        annotation = _strip_optional(annotation)
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            return self.spec(typing.get_args(annotation)[0])
        if origin in (typing.Union, pytypes.UnionType):
            return self.spec(_pick_union_member(typing.get_args(annotation)))
        if origin is typing.Literal:
            return {"kind": "string", "values": [str(v) for v in typing.get_args(annotation)]}
        if origin in (list, list) or annotation is list:
            args = typing.get_args(annotation)
            item = _pick_union_member(typing.get_args(args[0])) if args and typing.get_origin(args[0]) in (
                typing.Union, pytypes.UnionType) else (args[0] if args else typing.Any)
            if item is typing.Any and annotation is list:  # ToolListUnion: an annotated bare list of tools
                item = gt.Tool
            return {"kind": "array", "items": self.spec(item)}
        if origin in (dict, dict) or annotation is dict:
            args = typing.get_args(annotation)
            value = _strip_optional(args[1]) if len(args) == 2 else typing.Any
            if value is typing.Any or value is object:
                return {"kind": "struct"}  # google.protobuf.Struct: any keys, any values
            return {"kind": "map", "values": self.spec(value)}
        if annotation is typing.Any or annotation is object:
            return {"kind": "any"}
        if isinstance(annotation, type):
            if issubclass(annotation, enum.Enum):
                name = annotation.__name__
                self.enums[name] = [m.value for m in annotation]
                return {"kind": "enum", "enum": name}
            if issubclass(annotation, pydantic.BaseModel):
                self.walk(annotation)
                return {"kind": "object", "ref": annotation.__name__}
            if issubclass(annotation, bool):
                return {"kind": "boolean"}
            if issubclass(annotation, int):
                return {"kind": "integer"}
            if issubclass(annotation, float):
                return {"kind": "number"}
            if issubclass(annotation, bytes):
                return {"kind": "bytes"}
            if issubclass(annotation, (datetime.datetime, datetime.date)):
                return {"kind": "string", "format": "timestamp"}  # google.protobuf.Timestamp: RFC 3339
            if issubclass(annotation, str):
                return {"kind": "string"}
        return {"kind": "any"}

    def walk(self, model: type[pydantic.BaseModel]) -> None:
        name = model.__name__
        if name in self.types:
            return
        entry: dict = {"source": f"google.genai.types.{name}", "fields": {}}
        self.types[name] = entry  # before recursing: Schema refers to itself
        vertex_only = self.vertex_only_fields(name, list(model.model_fields))
        for field_name, info in model.model_fields.items():
            wire = info.alias or camel(field_name)
            # Both spellings of the wire name (TextResponseFormat.json_schema goes out as "schema").
            spec = {"snake": field_name if camel(field_name) == wire else snake(wire), **self.spec(info.annotation)}
            if field_name in vertex_only:
                spec["vertexOnly"] = True
            entry["fields"][wire] = spec

    def vertex_only_fields(self, type_name: str, fields: list[str]) -> set[str]:
        """Fields the SDK's Gemini-API converter for this type refuses (it raises, naming Vertex AI)."""
        converter = getattr(sdk_batches, f"_{type_name}_to_mldev", None)
        if type_name == "Schema":  # response schemas go through a transformer, not a converter
            def converter(api_client, obj, parent):
                return sdk_transformers.t_schema(api_client, {k: {"a": 1} for k in obj})
        if converter is None:
            return set()
        takes_client = "api_client" in inspect.signature(converter).parameters
        out = set()
        for field in fields:
            try:
                args = (self.client, {field: {}}, {}) if takes_client else ({field: {}}, {})
                converter(*args)
            except ValueError as exc:
                if "not in Gemini Developer API mode" in str(exc):
                    out.add(field)
            except Exception:
                pass  # the sample did not suit a transformer: the field is taken
        return out

    # ------------------------------------------------------------------ request roots
    def config_destinations(self, converter, config_model, fields_of_generation: set[str]) -> dict[str, dict]:
        """Where each SDK `config` field goes on the wire, found by running the SDK's converter."""
        out = {}
        for field in config_model.model_fields:
            parent: dict = {}
            try:
                if "api_client" in inspect.signature(converter).parameters:
                    own = converter(self.client, {field: _sample_for(config_model, field)}, parent)
                else:
                    own = converter({field: _sample_for(config_model, field)}, parent)
            except ValueError as exc:
                if "not in Gemini Developer API mode" not in str(exc):
                    raise
                to = "generationConfig" if field in fields_of_generation else "request"
                out[field] = {"to": to, "vertexOnly": True}
                continue
            if own:
                out[field] = {"to": "generationConfig"}
            elif parent:
                out[field] = {"to": "request"}
            else:
                out[field] = {"to": "sdk-only"}  # http_options, automatic_function_calling: never sent
        return out

    def generate_root(self) -> dict:
        gen_fields = set(gt.GenerationConfig.model_fields)
        dest = self.config_destinations(sdk_batches._GenerateContentConfig_to_mldev, gt.GenerateContentConfig,
                                        gen_fields)
        for field, to in CONFIG_ADDITIONS.items():
            dest.setdefault(field, {"to": to, "source": "api-reference"})
        fields = {
            "model": {"snake": "model", "kind": "string"},
            "contents": {"snake": "contents", "kind": "array", "items": self.spec(gt.Content), "required": True},
            "generationConfig": {"snake": "generation_config", **self.spec(gt.GenerationConfig)},
        }
        for field, where in dest.items():
            if where["to"] == "request":
                spec = {"snake": field, **self.spec(gt.GenerateContentConfig.model_fields[field].annotation)}
                if where.get("vertexOnly"):
                    spec["vertexOnly"] = True
                fields[camel(field)] = spec
        return {"source": "google.genai.batches._InlinedRequest_to_mldev (model, contents, config)",
                "fields": fields, "config": dest}

    def embed_root(self) -> dict:
        dest = {}
        for field in gt.EmbedContentConfig.model_fields:
            parent: dict = {"requests": [{}]}  # the converter writes into requests[] of the batch
            try:
                sdk_batches._EmbedContentConfig_to_mldev({field: _sample_for(gt.EmbedContentConfig, field)}, parent)
            except ValueError as exc:
                if "not in Gemini Developer API mode" not in str(exc):
                    raise
                dest[field] = {"to": "request", "vertexOnly": True}
                continue
            dest[field] = {"to": "request"} if parent["requests"][0] else {"to": "sdk-only"}
        fields = {
            "model": {"snake": "model", "kind": "string"},
            "content": {"snake": "content", **self.spec(gt.Content), "required": True},
        }
        for field, where in dest.items():
            if where["to"] != "request":
                continue
            spec = {"snake": field, **self.spec(gt.EmbedContentConfig.model_fields[field].annotation)}
            if field == "task_type":
                spec = {"snake": field, "kind": "enum", "enum": "TaskType", "source": "api-reference"}
            if where.get("vertexOnly"):
                spec["vertexOnly"] = True
            fields[camel(field)] = spec
        return {"source": "google.genai.batches._EmbedContentBatch_to_mldev (content, config)",
                "fields": fields, "config": dest}


def _strip_optional(annotation):
    if typing.get_origin(annotation) in (typing.Union, pytypes.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
        return typing.Union[tuple(args)]
    return annotation


def _pick_union_member(args):
    """The wire type of an SDK convenience union (ContentUnion, SchemaUnion, SpeechConfigUnion...):
    its google.genai.types model if it has one, else a list, else the first member."""
    args = [a for a in args if a is not type(None)]
    for a in args:
        if isinstance(a, type) and issubclass(a, pydantic.BaseModel) and a.__module__ == gt.__name__ \
                and a.__name__ not in ("File", "Part"):
            return a
    for a in args:
        if isinstance(a, type) and issubclass(a, pydantic.BaseModel):
            return a
    for a in args:
        if typing.get_origin(a) in (list, dict):
            return a
    return args[0] if args else typing.Any


def _sample_for(model, field: str):
    """A value for one config field that the SDK's transformers accept."""
    annotation = _strip_optional(model.model_fields[field].annotation)
    if field == "system_instruction":
        return "x"
    if field == "cached_content":
        return "cachedContents/x"
    if field in ("tools", "safety_settings", "stop_sequences", "response_modalities"):
        return []
    if field in ("response_schema", "response_json_schema"):
        return {"type": "OBJECT"}
    if field == "speech_config":
        return "Kore"
    if annotation in (bool,):
        return True
    if annotation in (int, float):
        return 1
    if annotation is str:
        return "x"
    return {}


def build() -> dict:
    walker = Walker()
    roots = {"GenerateContentRequest": walker.generate_root(), "EmbedContentRequest": walker.embed_root()}
    walker.types["Content"]["fields"]["role"]["values"] = ROLE_VALUES
    walker.types["Content"]["fields"]["role"]["source"] = "api-reference"
    return {
        "about": "Request types of the Gemini Batch API, generated by scripts/generate_request_schema.py; "
                 "do not edit by hand.",
        "sdk": {"package": "google-genai", "version": genai.__version__},
        "roots": roots,
        "types": dict(sorted(walker.types.items())),
        "enums": dict(sorted(walker.enums.items())),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is out of date")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    text = json.dumps(build(), indent=1, sort_keys=False) + "\n"
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: run scripts/generate_request_schema.py", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
