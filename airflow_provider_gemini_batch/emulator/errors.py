"""Every error the emulator answers, in Google's envelope ({"error": {code, message, status}}), never FastAPI's."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .quota import QuotaExceeded

_ROUTE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 405: "NOT_FOUND", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED"}


class ApiError(Exception):
    def __init__(self, code: int, status: str, message: str, details: list | None = None):
        super().__init__(message)
        self.code, self.status, self.message, self.details = code, status, message, details


def invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_ARGUMENT", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError):
        body = {"error": {"code": exc.code, "message": exc.message, "status": exc.status}}
        if exc.details:
            body["error"]["details"] = exc.details
        return JSONResponse(body, status_code=exc.code)

    @app.exception_handler(QuotaExceeded)
    async def _quota(_request: Request, exc: QuotaExceeded):
        # Realistic profile: the real 429 says neither which limit nor when to retry (no Retry-After).
        return JSONResponse({"error": {"code": 429, "message": str(exc), "status": "RESOURCE_EXHAUSTED"}},
                            status_code=429)

    # Unknown routes and methods answer in Google's envelope too, never FastAPI's {"detail": ...}.
    @app.exception_handler(StarletteHTTPException)
    async def _route_error(request: Request, exc: StarletteHTTPException):
        code = 404 if exc.status_code == 405 else exc.status_code
        message = f"Method not found: {request.method} {request.url.path}" if code == 404 else str(exc.detail)
        return JSONResponse({"error": {"code": code, "message": message,
                                       "status": _ROUTE_STATUS.get(code, "UNKNOWN")}}, status_code=code)

    @app.exception_handler(RequestValidationError)
    async def _query_error(_request: Request, exc: RequestValidationError):
        where = ".".join(str(p) for p in (exc.errors() or [{}])[0].get("loc", ()) if p != "query")
        return JSONResponse({"error": {"code": 400, "message": f"Invalid value at '{where}'.",
                                       "status": "INVALID_ARGUMENT"}}, status_code=400)
