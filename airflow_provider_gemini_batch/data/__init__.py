"""Package data: the request schema snapshot (request_schema.json)."""
