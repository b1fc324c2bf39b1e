"""Structured output checked on the way out: every answer parsed and validated against the schema the
requests asked for. Pure: no Airflow, no HTTP.

A record whose text is not JSON, or not valid against the schema, gets status ``invalid_output``
with the validation error; a valid one carries the parsed value as ``parsed``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel


def schema_from_python(value: Any) -> dict | None:
    """A JSON schema for a pydantic model class or any type pydantic understands (list[Model])."""
    if isinstance(value, (dict, str, list, BaseModel)) or value is None:
        return None
    try:
        from pydantic import TypeAdapter

        return TypeAdapter(value).json_schema()
    except Exception:
        return None


MAX_ERROR_CHARS = 500


class OutputValidator:
    """Built from a pydantic model (or any type pydantic understands) or a JSON schema dict."""

    def __init__(self, schema: Any):
        self.json_schema: dict
        self._validate: Callable[[str], Any]
        if isinstance(schema, dict):
            import jsonschema

            validator = jsonschema.Draft202012Validator(schema)
            self.json_schema = schema

            def validate(text: str) -> Any:
                value = json.loads(text)
                errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
                if errors:
                    first = errors[0]
                    where = "/".join(str(p) for p in first.path) or "(root)"
                    raise ValueError(f"at {where}: {first.message}")
                return value
        else:
            from pydantic import TypeAdapter

            adapter = TypeAdapter(schema)
            converted = schema_from_python(schema)
            if converted is None:
                raise TypeError(f"cannot build a JSON schema from {schema!r}")
            self.json_schema = converted

            def validate(text: str) -> Any:
                return adapter.dump_python(adapter.validate_json(text), mode="json")
        self._validate = validate

    def check(self, record: dict) -> dict:
        """The record, with `parsed` or turned into an `invalid_output` record."""
        if record.get("status") != "ok" or "embedding" in record:
            return record
        try:
            record["parsed"] = self._validate(record.get("text") or "")
        except Exception as exc:  # ValueError, pydantic.ValidationError, JSONDecodeError: all mean "invalid"
            record["status"] = "invalid_output"
            record["validation_error"] = str(exc)[:MAX_ERROR_CHARS]
        return record
