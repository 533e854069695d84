"""The error responses every /v1 route documents in the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from engramdb.server.schemas import ErrorOut

__all__ = ["ERRORS"]

_CODES = {
    400: "The body is not JSON (bad_request).",
    401: "No API key, or a malformed, unknown or revoked one (unauthorized).",
    403: "The key's scope does not cover this namespace or action (forbidden).",
    404: "No such memory in this namespace (not_found).",
    413: "A value or the body is over a limit (limit_exceeded, payload_too_large).",
    422: "A value does not fit the schema or the library refused it "
    "(invalid_request, invalid_input).",
    429: "The key is over its rate limit; see Retry-After (rate_limited).",
    503: "The store or the embedding model failed (store_error, embedding_error).",
}

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text} for status, text in _CODES.items()
}
