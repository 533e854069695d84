"""The REST API's error responses: ``engramdb.wire``'s table of error codes, applied.

Every error leaves as ``{"error": {"code": ..., "message": ...}}``. Library
errors take their status and code from the shared table; the edge's own
refusals (auth, rate limit, schema, body size, unknown route) are
``HttpError``s; anything else is a bug and leaves as a bare 500 whose message
says nothing about the input.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from engramdb import EngramError
from engramdb.wire import error_code

__all__ = ["HttpError", "error_response", "install_error_handlers", "validation_message"]

log = logging.getLogger("engramdb.server")

# 400: FastAPI's own refusal of a body it cannot decode (not UTF-8, say): not JSON either.
_STARLETTE_CODES = {400: "bad_request", 404: "route_not_found", 405: "method_not_allowed"}


class HttpError(Exception):
    """A refusal made by the HTTP edge itself, with its status and stable code."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def validation_message(errors: Any) -> str:
    """The first few schema violations as one line; never the input values."""
    parts = []
    for error in list(errors)[:3]:
        loc = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {error.get('msg', 'invalid')}")
    more = len(list(errors)) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HttpError)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _on_engram_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EngramError)
    code = error_code(exc)
    if code.status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
    return error_response(code.status, code.code, str(exc) or type(exc).__name__)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "bad_request", "the request body is not valid JSON")
    return error_response(422, "invalid_request", validation_message(errors))


async def _on_starlette_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STARLETTE_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        message = f"no route {request.method} {request.url.path}"
    else:
        message = str(exc.detail)
    if exc.status_code == 405:
        headers["Allow"] = _allowed(request, headers.get("Allow", ""))
    return error_response(exc.status_code, code, message, headers)


def _allowed(request: Request, fallback: str) -> str:
    """The methods the OpenAPI document gives the path: Starlette's 405 names only those
    of the first route it tried, and each method of a path is a route of its own."""
    app = request.app
    if isinstance(app, FastAPI):
        for path, operations in app.openapi()["paths"].items():
            if compile_path(path)[0].match(request.url.path):
                return ", ".join(sorted(m.upper() for m in operations))
    return fallback


async def _on_bug(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s: unexpected error", request.method, request.url.path)
    return error_response(500, "internal_error", "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HttpError, _on_http_error)
    app.add_exception_handler(EngramError, _on_engram_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_starlette_error)
    app.add_exception_handler(Exception, _on_bug)
