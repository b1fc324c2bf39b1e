"""Turn whatever the SDK, httpx or aiohttp raised into one of our typed errors, key redacted."""

from __future__ import annotations

import json
from typing import Any

from ..exceptions import (
    GeminiApiError,
    GeminiAuthError,
    GeminiInvalidRequestError,
    GeminiNotFoundError,
    GeminiTransientError,
    GeminiUnreachableError,
)
from ..retry_policy import is_transient_code, redact


def error_from_status(code: int, body: Any, what: str, secret: str | None,
                      key_origin: str = "the connection") -> GeminiApiError:
    """An error for an HTTP reply `code` whose body is the API's {"error": {...}} (or anything).
    `key_origin` names where the refused key came from (e.g. "connection 'gemini_default'")."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body or b"{}")
        except ValueError:
            body = {"error": {"message": body.decode("utf-8", "replace")[:500] if isinstance(body, bytes) else body[:500]}}
    err = (body or {}).get("error", {}) if isinstance(body, dict) else {}
    status = err.get("status") or ""
    message = err.get("message") or "no message"
    reasons = {d.get("reason") for d in err.get("details") or [] if isinstance(d, dict)}
    text = redact(f"{what} failed: HTTP {code} {status}: {message}", secret)
    if code in (401, 403) or "API_KEY_INVALID" in reasons or "API key not valid" in message:
        return GeminiAuthError(text + f" (check the API key in {key_origin})")
    if code == 404:
        return GeminiNotFoundError(text, code=code, status=status)
    if is_transient_code(code):
        return GeminiTransientError(text, code=code, status=status)
    return GeminiInvalidRequestError(text, code=code, status=status)


def error_from_sdk(exc: Exception, what: str, secret: str | None,
                   key_origin: str = "the connection") -> GeminiApiError | None:
    from google.genai import errors as genai_errors

    if isinstance(exc, genai_errors.APIError):
        body = {"error": {"message": exc.message or str(exc), "status": exc.status or "",
                          "details": (exc.details or {}).get("error", {}).get("details")
                          if isinstance(exc.details, dict) else None}}
        return error_from_status(int(exc.code or 0), body, what, secret, key_origin)
    return None


def transport_error(exc: Exception, what: str, secret: str | None,
                    base_url: str | None = None) -> GeminiTransientError | GeminiUnreachableError:
    """A refused connection (nothing listens at the base URL), or a timeout / dropped connection
    (the server may or may not have acted). Both are retried; the first says where it looked."""
    import aiohttp
    import httpx

    if isinstance(exc, (httpx.ConnectError, aiohttp.ClientConnectorError)):
        return GeminiUnreachableError(redact(f"{what} failed: cannot reach {base_url} ({exc})", secret))
    return GeminiTransientError(redact(f"{what} failed: {type(exc).__name__}: {exc}", secret))


def key_origin(settings: Any) -> str:
    """Where a refused key came from, for the auth error: the connection by id, or the environment
    variable the hook fell back to (the connection being absent)."""
    source = getattr(settings, "key_source", "connection")
    conn_id = getattr(settings, "conn_id", None)
    if source == "connection":
        return f"connection {conn_id!r}"
    return f"{source} (connection {conn_id!r} is not defined)"
