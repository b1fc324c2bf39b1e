"""Turn whatever the SDK, httpx or aiohttp raised into one of our typed errors, key redacted."""

from __future__ import annotations

import json
from typing import Any

from ..core.redact import redact
from ..core.retry_policy import is_transient_code, retry_hint
from ..exceptions import (
    GeminiApiError,
    GeminiAuthError,
    GeminiInvalidRequestError,
    GeminiMalformedReplyError,
    GeminiNotFoundError,
    GeminiRedirectError,
    GeminiTransientError,
    GeminiUnreachableError,
)


def error_from_status(code: int, body: Any, what: str, secret: str | None,
                      key_origin: str = "the connection", headers: Any = None) -> GeminiApiError | GeminiAuthError:
    """An error for an HTTP reply `code` whose body is the API's {"error": {...}} (or anything).
    `key_origin` names where the refused key came from (e.g. "connection 'gemini_default'"); a transient
    error carries `retry_after`: what Retry-After or RetryInfo asked for, if anything."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body or b"{}")
        except ValueError:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            body = {"error": {"message": text[:500]}}
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
        return GeminiTransientError(text, code=code, status=status, retry_after=retry_hint(headers, body))
    return GeminiInvalidRequestError(text, code=code, status=status)


def error_from_sdk(exc: Exception, what: str, secret: str | None,
                   key_origin: str = "the connection") -> GeminiApiError | GeminiAuthError | None:
    from google.genai import errors as genai_errors

    if isinstance(exc, genai_errors.APIError):
        if 300 <= int(exc.code or 0) < 400:  # a redirect the client did not follow: say so, as the raw path does
            return redirect_error(int(exc.code), _header(exc, "location"), what, _request_url(exc), secret)
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


def json_object(raw: bytes, what: str, url: str, secret: str | None) -> dict:
    """The body of a 200 as the JSON object every call returns. Anything else (an HTML page from a proxy,
    a JSON list, JSON cut short) is a transient fault that names the call and the URL, never a bare
    JSONDecodeError: the next try usually gets the real answer."""
    try:
        value = json.loads(raw or b"{}")
    except ValueError as exc:
        problem = f"is not JSON ({exc})"
    else:
        if isinstance(value, dict):
            return value
        problem = f"is a JSON {type(value).__name__}, not an object"
    snippet = raw[:120].decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)[:120]
    raise GeminiMalformedReplyError(redact(f"{what} failed: the 200 reply from {url} {problem}: {snippet!r}", secret),
                                    code=200, status="MALFORMED_REPLY")


def origin(url: Any) -> tuple[str, str, int | None]:
    from urllib.parse import urlsplit

    parts = urlsplit(str(url))
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def redirect_error(code: int, location: str | None, what: str, url: str, secret: str | None) -> GeminiRedirectError:
    """A redirect we did not follow. The API key travels in a header, so following a redirect to another
    origin would hand it to that origin; the error says where it pointed and what to fix."""
    target = origin(location or "")
    where = f"{target[0]}://{target[1]}" + (f":{target[2]}" if target[2] else "") if target[1] else repr(location)
    return GeminiRedirectError(redact(
        f"{what} failed: {url} answered HTTP {code} redirecting to another origin ({where}); not following it, so "
        f"the API key is not sent there. Point the connection's host at the API itself (no redirecting proxy).",
        secret), code=code, status="REDIRECT")


def key_origin(settings: Any) -> str:
    """Where a refused key came from, for the auth error: the connection by id, or the environment
    variable the hook fell back to (the connection being absent)."""
    source = getattr(settings, "key_source", "connection")
    conn_id = getattr(settings, "conn_id", None)
    if source == "connection":
        return f"connection {conn_id!r}"
    return f"{source} (connection {conn_id!r} is not defined)"


def check_job_reply(raw: dict, name: str, what: str, url: str) -> dict:
    """A 200 to a GET of a job that is not that job (a proxy's JSON, another resource) is a malformed
    reply, transient, rather than a snapshot in state UNSPECIFIED that would keep us waiting for ever."""
    if raw.get("name") != name or not isinstance(raw.get("metadata", {}), dict):
        snippet = str(raw)[:120]
        raise GeminiMalformedReplyError(f"{what} failed: the 200 reply from {url} is not the job {name}: {snippet}",
                                        code=200, status="MALFORMED_REPLY")
    return raw


def _header(exc: Exception, name: str) -> str | None:
    headers = getattr(getattr(exc, "response", None), "headers", None)
    return headers.get(name) if headers is not None and hasattr(headers, "get") else None


def _request_url(exc: Exception) -> str:
    try:
        return str(exc.response.request.url)  # type: ignore[attr-defined]  # httpx.Response of the SDK
    except Exception:  # noqa: BLE001 - no request on the response: name the API instead
        return "the API"
