"""The emulator's own idea of which request fields exist, as the real API checks them.

Deliberately independent of the provider's validator (a fake that shares our code agrees with
our bugs). The real service accepts lowerCamelCase and snake_case at every depth and answers an
unknown field with 400 "Invalid JSON payload received. Unknown name ...".
"""

from __future__ import annotations

import re
from typing import Any

_CAMEL_RE = re.compile(r"_([a-z0-9])")


def camel(name: str) -> str:
    return _CAMEL_RE.sub(lambda m: m.group(1).upper(), name)


class WireError(Exception):
    """A request the real API would refuse with 400 INVALID_ARGUMENT."""


GENERATE_REQUEST_FIELDS = {
    "model", "contents", "tools", "toolConfig", "safetySettings", "systemInstruction",
    "generationConfig", "cachedContent", "labels", "serviceTier", "store",
}
EMBED_REQUEST_FIELDS = {"model", "content", "taskType", "title", "outputDimensionality"}
CONTENT_FIELDS = {"role", "parts"}
GENERATION_CONFIG_FIELDS = {
    "temperature", "topP", "topK", "candidateCount", "maxOutputTokens", "stopSequences",
    "responseMimeType", "responseSchema", "responseJsonSchema", "presencePenalty",
    "frequencyPenalty", "seed", "responseLogprobs", "logprobs", "responseModalities",
    "speechConfig", "thinkingConfig", "mediaResolution", "enableEnhancedCivicAnswers",
    "imageConfig", "routingConfig", "audioTimestamp", "modelSelectionConfig",
    "audioTranscriptionConfig",
}
TOOL_FIELDS = {
    "functionDeclarations", "googleSearch", "googleSearchRetrieval", "codeExecution",
    "urlContext", "computerUse", "fileSearch", "googleMaps", "retrieval",
    "enterpriseWebSearch", "mcpServers",
}
ROLES = {"user", "model"}
EMBED_TASK_TYPES = {
    "TASK_TYPE_UNSPECIFIED", "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY",
    "CLASSIFICATION", "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY",
}


def _unknown(name: str, where: str) -> WireError:
    return WireError(f'Invalid JSON payload received. Unknown name "{name}" at \'{where}\': Cannot find field.')


def _check_fields(obj: Any, allowed: set[str], where: str) -> dict:
    if not isinstance(obj, dict):
        raise WireError(f"Invalid JSON payload received. Expected an object at '{where}'.")
    for key in obj:
        if camel(key) not in allowed:
            raise _unknown(key, where)
    return {camel(k): v for k, v in obj.items()}


def _check_content(content: Any, where: str) -> None:
    content = _check_fields(content, CONTENT_FIELDS, where)
    role = content.get("role")
    if role is not None and role not in ROLES:
        raise WireError(f"Please use a valid role: user, model. (at '{where}.role')")
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise WireError(f"* GenerateContentRequest.{where}.parts: contents.parts must not be empty.")


def check_generate_request(request: Any, where: str) -> dict:
    req = _check_fields(request, GENERATE_REQUEST_FIELDS, where)
    contents = req.get("contents")
    if not isinstance(contents, list) or not contents:
        raise WireError("* GenerateContentRequest.contents: contents is not specified")
    for i, content in enumerate(contents):
        _check_content(content, f"{where}.contents[{i}]")
    if "systemInstruction" in req:
        _check_content(req["systemInstruction"], f"{where}.system_instruction")
    tools = req.get("tools", [])
    if not isinstance(tools, list):
        raise WireError(f"Invalid JSON payload received. Expected a list at '{where}.tools'.")
    for i, tool in enumerate(tools):
        _check_fields(tool, TOOL_FIELDS, f"{where}.tools[{i}]")
    if "generationConfig" in req:
        gen = _check_fields(req["generationConfig"], GENERATION_CONFIG_FIELDS, f"{where}.generation_config")
        schema = gen.get("responseSchema")
        if schema is not None and not isinstance(schema, dict):
            raise WireError(f"Invalid JSON payload received. Expected an object at '{where}.generation_config.response_schema'.")
    return req


def check_embed_request(request: Any, where: str) -> dict:
    req = _check_fields(request, EMBED_REQUEST_FIELDS, where)
    if "content" not in req:
        raise WireError("* EmbedContentRequest.content: content is not specified")
    _check_content(req["content"], f"{where}.content")
    task = req.get("taskType")
    if task is not None and task not in EMBED_TASK_TYPES:
        raise WireError(f"Invalid value at '{where}.task_type' (type.googleapis.com/google.ai.generativelanguage.v1beta.TaskType), \"{task}\"")
    dim = req.get("outputDimensionality")
    if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool) or dim <= 0 or dim > 3072):
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
