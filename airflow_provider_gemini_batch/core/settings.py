"""From an Airflow connection (or the environment) to the settings every client is built from.

Pure: takes a Connection-like object, knows nothing of how it was fetched.
Key order: the connection's password; only when the connection does not exist, GEMINI_API_KEY
(then GOOGLE_API_KEY) from the environment. An existing connection with an empty key is an error,
never silently replaced by whatever key the worker's environment happens to hold.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import GeminiConnectionError

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
DEFAULT_API_VERSION = "v1beta"
DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_RETRIES = 5
ENV_KEYS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")


@dataclass(frozen=True)
class GeminiSettings:
    conn_id: str
    base_url: str
    api_version: str
    timeout_seconds: float
    max_retries: int
    retry_max_wait_seconds: float
    api_key: str = field(repr=False)
    key_source: str = "connection"

    def __repr__(self) -> str:  # the key never reaches a log line through repr
        return (f"GeminiSettings(conn_id={self.conn_id!r}, base_url={self.base_url!r}, "
                f"api_version={self.api_version!r}, key_source={self.key_source!r})")

    def url(self, path: str) -> str:
        return f"{self.base_url}/{self.api_version}/{path.lstrip('/')}"


def default_settings(conn_id: str, api_key: str, base_url: str | None = None, api_version: str | None = None,
                     key_source: str = "connection") -> GeminiSettings:
    """Settings from a key and an optional base URL, everything else at its default."""
    return GeminiSettings(conn_id=conn_id, base_url=(base_url or DEFAULT_BASE_URL).rstrip("/"),
                          api_version=api_version or DEFAULT_API_VERSION, timeout_seconds=DEFAULT_TIMEOUT_SECONDS,
                          max_retries=DEFAULT_MAX_RETRIES, retry_max_wait_seconds=60.0, api_key=api_key,
                          key_source=key_source)


def _base_url(conn: Any) -> str:
    host = (getattr(conn, "host", None) or "").strip()
    if not host:
        return DEFAULT_BASE_URL
    if "://" not in host:
        scheme = getattr(conn, "schema", None) or "https"
        port = getattr(conn, "port", None)
        host = f"{scheme}://{host}" + (f":{port}" if port else "")
    return host.rstrip("/")


def _extras(conn: Any) -> dict:
    extra = getattr(conn, "extra_dejson", None)
    if extra is None:
        raw = getattr(conn, "extra", None) or "{}"
        extra = json.loads(raw) if isinstance(raw, str) else dict(raw)
    return extra or {}


def resolve_settings(conn: Any | None, conn_id: str, environ: Mapping[str, str]) -> GeminiSettings:
    if conn is None:
        for name in ENV_KEYS:
            if environ.get(name, "").strip():
                return default_settings(conn_id, environ[name].strip(), environ.get("GOOGLE_GEMINI_BASE_URL"),
                                        environ.get("GOOGLE_GENAI_API_VERSION"),
                                        key_source=f"environment variable {name}")
        raise GeminiConnectionError(
            f"Connection {conn_id!r} is not defined and neither GEMINI_API_KEY nor GOOGLE_API_KEY is set. "
            f"Create the connection (type 'gemini', API key in the password field), e.g. "
            f"AIRFLOW_CONN_{conn_id.upper()}='{{\"conn_type\": \"gemini\", \"password\": \"<your key>\"}}'."
        )
    key = (getattr(conn, "password", None) or "").strip()
    if not key:
        raise GeminiConnectionError(
            f"Connection {conn_id!r} has no API key: put the Gemini API key in its password field."
        )
    extra = _extras(conn)
    try:
        return GeminiSettings(
            conn_id=conn_id,
            base_url=_base_url(conn),
            api_version=str(extra.get("api_version") or DEFAULT_API_VERSION),
            timeout_seconds=float(extra.get("timeout_seconds") or DEFAULT_TIMEOUT_SECONDS),
            max_retries=int(extra.get("max_retries", DEFAULT_MAX_RETRIES)),
            retry_max_wait_seconds=float(extra.get("retry_max_wait_seconds") or 60.0),
            api_key=key,
        )
    except (TypeError, ValueError) as exc:
        raise GeminiConnectionError(f"Connection {conn_id!r} has an invalid extra: {exc}") from None
