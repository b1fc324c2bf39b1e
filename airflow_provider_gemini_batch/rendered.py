"""What the "Rendered Template" view shows for requests that carry a Python response schema.

Airflow renders a pydantic model or ``list[Model]`` inside ``requests`` as ``<callable builtins.list>``.
After templating, such a schema is replaced by the JSON schema it stands for, under the key that is
actually sent (``response_json_schema``), so the view shows what Gemini receives. Pure; the caller's
objects are never modified, and an input with nothing to replace is returned as is (no copy).
"""

from __future__ import annotations

from typing import Any

from .core.structured_output import schema_from_python

_JSON_KEY = {"response_schema": "response_json_schema", "response_json_schema": "response_json_schema",
             "responseSchema": "responseJsonSchema", "responseJsonSchema": "responseJsonSchema"}


def _python_schema(value: Any) -> dict | None:
    if value is None or isinstance(value, (dict, str, int, float, bool, list, tuple)):
        return None
    return schema_from_python(value)


def schemas_as_json(value: Any) -> Any:
    if isinstance(value, dict):
        changed = False
        out: dict = {}
        for key, item in value.items():
            schema = _python_schema(item) if key in _JSON_KEY else None
            if schema is not None and _JSON_KEY[key] not in value:
                out[_JSON_KEY[key]] = schema
                changed = True
                continue
            new = schemas_as_json(item)
            changed = changed or new is not item
            out[key] = new
        return out if changed else value
    if isinstance(value, (list, tuple)):
        items = [schemas_as_json(item) for item in value]
        if any(new is not old for new, old in zip(items, value)):
            return type(value)(items) if isinstance(value, list) else tuple(items)
        return value
    return value
