"""The JSON form of engramdb's public values, and the table of error codes.

Every surface that speaks JSON (the REST API, the MCP tools, ``engramdb.Client``,
the CLI's ``--json``, export and import) goes through this module, so a value
has one shape everywhere. It imports nothing heavy, so ``engramdb.Client``
can share it without the server.

Error codes
-----------

The REST API answers every error as ``{"error": {"code": ..., "message": ...}}``
with the status below; the MCP tools report ``<code>: <message>``;
``engramdb.Client`` reads the code back into the same exception class, so code
written against ``Memory`` catches the same errors from a server.

    status  code                 raised as / when
    ------  -------------------  ---------------------------------------------
      400   bad_request          the body is not JSON at all
      401   unauthorized         no API key, a malformed, unknown or revoked one
      403   forbidden            the key's scope does not cover the namespace or action
      404   not_found            ``NotFoundError``: no such id in this namespace
      404   route_not_found      no such route
      405   method_not_allowed   the route exists, the method does not
      413   limit_exceeded       ``LimitExceededError``: text, metadata, batch, query,
                                 limit above a documented limit
      413   payload_too_large    the request body is above ``max_body_bytes``
      422   invalid_input        ``InvalidInputError``: the library refused a value
      422   invalid_request      the body or parameters do not fit the schema
                                 (wrong types, unknown fields, naive datetimes)
      429   rate_limited         the key's token bucket is empty (``Retry-After`` says when)
      503   decryption_error     ``DecryptionError``: a value of the store failed to
                                 decrypt (altered on disk); the server never starts
                                 without the right master key
      503   store_error          ``StoreError``, ``SchemaError``, ``IntegrityError``
      503   embedding_error      ``EmbeddingError``, ``ModelIntegrityError``
      501   missing_extra        ``MissingExtraError``: the server was installed without
                                 the optional extra a feature needs
      500   engram_error         any other ``EngramError``
      500   internal_error       a bug; the message says nothing more

422 rather than 400 for refused values: FastAPI already answers schema
violations with 422, and a client should not have to tell which layer refused.
A ``StoreError`` is 503: the server is sound but its store cannot serve now.
"""

from __future__ import annotations

from dataclasses import dataclass

from engramdb.errors import (
    AccessDeniedError,
    DecryptionError,
    EmbeddingError,
    EngramError,
    InvalidInputError,
    LimitExceededError,
    MissingExtraError,
    NotFoundError,
    RateLimitedError,
    StoreError,
)

__all__ = ["ERROR_TABLE", "ErrorCode", "error_class", "error_code"]


@dataclass(frozen=True, slots=True)
class ErrorCode:
    status: int
    code: str


#: Library errors, most specific first: the first class an error is an instance of decides.
ERROR_TABLE: tuple[tuple[type[EngramError], ErrorCode], ...] = (
    (LimitExceededError, ErrorCode(413, "limit_exceeded")),
    (InvalidInputError, ErrorCode(422, "invalid_input")),
    (NotFoundError, ErrorCode(404, "not_found")),
    (DecryptionError, ErrorCode(503, "decryption_error")),
    (StoreError, ErrorCode(503, "store_error")),
    (EmbeddingError, ErrorCode(503, "embedding_error")),
    (MissingExtraError, ErrorCode(501, "missing_extra")),
    (AccessDeniedError, ErrorCode(403, "forbidden")),
    (RateLimitedError, ErrorCode(429, "rate_limited")),
    (EngramError, ErrorCode(500, "engram_error")),
)

# The edge's own refusals, and what a client raises for each code it reads back.
_CLIENT_CLASSES: dict[str, type[EngramError]] = {
    "bad_request": InvalidInputError,
    "invalid_request": InvalidInputError,
    "invalid_input": InvalidInputError,
    "limit_exceeded": LimitExceededError,
    "payload_too_large": LimitExceededError,
    "not_found": NotFoundError,
    "unauthorized": AccessDeniedError,
    "forbidden": AccessDeniedError,
    "rate_limited": RateLimitedError,
    "decryption_error": DecryptionError,
    "store_error": StoreError,
    "embedding_error": EmbeddingError,
    "missing_extra": MissingExtraError,
}


def error_code(exc: EngramError) -> ErrorCode:
    """The status and code for a library error."""
    for kind, code in ERROR_TABLE:
        if isinstance(exc, kind):
            return code
    raise AssertionError("EngramError is the table's last row")  # pragma: no cover


def error_class(code: str) -> type[EngramError]:
    """The exception a client raises for an error code (``EngramError`` when unknown)."""
    return _CLIENT_CLASSES.get(code, EngramError)
