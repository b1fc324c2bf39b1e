"""A deterministic stand-in for the model: same request, same answer, with plausible token counts."""

from __future__ import annotations

import hashlib
import json
import math
import struct
from typing import Any

from .media import image_part, is_image_model
from .wire_schema import get_any, texts_of

# Markers a test puts in a prompt (or a job's display name) to get an outcome the real service produces.
FAIL_REQUEST = "EMULATOR:FAIL_REQUEST"  # this request fails alone (per-request error, failedRequestCount)
INVALID_JSON = "EMULATOR:INVALID_JSON"  # structured output that is not JSON
DROP_RESULT = "EMULATOR:DROP_RESULT"  # this request's result line is missing from the result file
DUPLICATE_RESULT = "EMULATOR:DUPLICATE_RESULT"  # this request's result line appears twice
FAIL_JOB = "EMULATOR:FAIL_JOB"  # the whole job ends FAILED
EXPIRE_JOB = "EMULATOR:EXPIRE_JOB"  # the whole job ends EXPIRED, no results
STUCK_PENDING = "EMULATOR:STUCK_PENDING"  # the job never leaves PENDING
JOB_MARKERS = (FAIL_JOB, EXPIRE_JOB, STUCK_PENDING)

DEFAULT_EMBED_DIM = 3072


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def answer_digest(model: str, prompt: str, system_text: str = "") -> str:
    """The 12 hex digits a plain-text answer starts with ("Emulated answer <digest> ..."):
    sha256 of model, system instruction and prompt joined by U+001F. A test recomputes it to check
    that each answer is the answer to its own prompt, whatever order or key it came back under."""
    return _digest(model, system_text, prompt)[:12]


def _from_schema(schema: Any, seed: str, depth: int = 0, root: Any = None) -> Any:
    """A value that validates against an OpenAPI-style or JSON schema (types upper or lower case,
    $ref into $defs/definitions, anyOf/oneOf)."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 8:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return _from_schema(target, seed, depth + 1, root)
    for combo in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(combo) or [] if isinstance(o, dict) and o.get("type") != "null"]
        if options:
            return _from_schema(options[0], seed, depth + 1, root)
    if "enum" in schema and schema["enum"]:
        return schema["enum"][int(seed[:4], 16) % len(schema["enum"])]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), "string")
    kind = str(kind or ("object" if "properties" in schema else "string")).lower()
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: _from_schema(sub, _digest(seed, name), depth + 1, root) for name, sub in props.items()}
    if kind == "array":
        items = get_any(schema, "items") or {"type": "string"}
        count = max(int(get_any(schema, "minItems", 0) or 0), 2)
        return [_from_schema(items, _digest(seed, str(i)), depth + 1, root) for i in range(count)]
    if kind == "integer":
        return int(seed[:6], 16) % 1000
    if kind == "number":
        return round((int(seed[:6], 16) % 100000) / 100.0, 2)
    if kind == "boolean":
        return int(seed[0], 16) % 2 == 0
    return f"text-{seed[:8]}"


def generate(model: str, request: dict, media: list[str] | None = None) -> dict:
    """A GenerateContentResponse for one request; `media`: the sha256 of each media part, in order."""
    texts = texts_of(request)
    system = get_any(request, "systemInstruction") or {}
    system_text = " ".join(texts_of({"contents": [system]})) if system else ""
    prompt = "\n".join(texts)
    seed = _digest(model, system_text, prompt, *(media or ()))
    gen = get_any(request, "generationConfig") or {}
    mime = get_any(gen, "responseMimeType")
    schema = get_any(gen, "responseSchema") or get_any(gen, "responseJsonSchema")
    if INVALID_JSON in prompt:
        text = "this is not JSON {"
    elif mime == "application/json":
        text = json.dumps(_from_schema(schema, seed) if schema else {"answer": f"text-{seed[:8]}"})
    else:
        persona = f" as {system_text[:40]!r}" if system_text else ""
        text = f"Emulated answer {seed[:12]}{persona} to: {prompt[:120]}"
        if media:  # which bytes the answer is about, so a test can join it back to its file
            text += f" [media sha256 {', '.join(d[:16] for d in media)}]"
    prompt_tokens = _tokens(prompt + system_text)
    answer_tokens = _tokens(text)
    return {
        "candidates": [{
            "content": {"parts": [{"text": text}, *([image_part(seed)] if is_image_model(model) else [])],
                        "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }],
        "usageMetadata": {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": answer_tokens,
            "totalTokenCount": prompt_tokens + answer_tokens,
        },
        "modelVersion": model.removeprefix("models/"),
    }


def embed(model: str, request: dict) -> dict:
    """An EmbedContentResponse: a deterministic unit vector of the requested size."""
    text = "\n".join(texts_of(request))
    dim = int(get_any(request, "outputDimensionality") or DEFAULT_EMBED_DIM)
    values: list[float] = []
    block = 0
    while len(values) < dim:
        raw = hashlib.sha256(f"{model}\x1f{text}\x1f{block}".encode()).digest()
        values.extend((v / 2**31) - 1.0 for v in struct.unpack("<8I", raw))
        block += 1
    values = values[:dim]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return {"embedding": {"values": [round(v / norm, 6) for v in values]}}


def request_error(marker: str, object_details: bool) -> dict:
    error = {
        "code": 400,
        "message": f"Emulated failure of this request (marker {marker}).",
        "status": "INVALID_ARGUMENT",
    }
    if object_details:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "EMULATED"}]
    return error
