"""The whole exception tree of engramdb.

Every error the library raises on purpose is an ``EngramError``. Each one also
subclasses the builtin it resembles, so callers who already catch ``ValueError``
or ``KeyError`` keep working::

    EngramError
    ├── InvalidInputError (ValueError)       bad text, label, datetime, metadata, option
    │   ├── LimitExceededError               input above a documented size limit
    │   └── ConflictError                    an idempotency key reused with other content
    ├── NotFoundError (KeyError)             no such id in this namespace; no store at a path
    ├── StoreError (RuntimeError)            the store failed to read or write
    │   ├── SchemaError                      the store's schema is newer or unknown
    │   ├── IntegrityError                   the store's files are inconsistent
    │   └── DecryptionError                  wrong or missing master key, altered ciphertext
    ├── EmbeddingError (RuntimeError)        the embedding model could not be loaded or run
    │   └── ModelIntegrityError              a model file does not match its pinned hash
    ├── AccessDeniedError (PermissionError)  a server refused the API key (none, bad, out of scope)
    ├── RateLimitedError (RuntimeError)      a server refused a request over the key's rate limit
    └── MissingExtraError (ImportError)      a feature's optional extra is not installed

``AccessDeniedError`` and ``RateLimitedError`` come only from ``engramdb.Client``
(a server said 401/403 or 429): an embedded ``Memory`` has no keys to refuse.
``MissingExtraError`` names the extra to install (``engramdb.extras``).

The edges (CLI, HTTP, MCP) translate this tree into exit codes and status codes
in one table each; nothing else catches broad exceptions.
"""

from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "ConflictError",
    "DecryptionError",
    "EmbeddingError",
    "EngramError",
    "IntegrityError",
    "InvalidInputError",
    "LimitExceededError",
    "MissingExtraError",
    "ModelIntegrityError",
    "NotFoundError",
    "RateLimitedError",
    "SchemaError",
    "StoreError",
]


class EngramError(Exception):
    """Root of every error engramdb raises on purpose."""


class InvalidInputError(EngramError, ValueError):
    """An argument is malformed: empty text, naive datetime, bad label, bad metadata."""


class LimitExceededError(InvalidInputError):
    """An input is larger than a documented limit (text, metadata, batch, query)."""


class ConflictError(InvalidInputError):
    """An ``add`` carried an idempotency key already used for other content in the
    namespace: the earlier write stands, nothing is written (docs/repetition.md)."""


class NotFoundError(EngramError, KeyError):
    """No memory with that id exists in the namespace asked for.

    Also: no store at the path of a read-only open (``Memory(path, read_only=True)``)
    or of a CLI command that only reads; the message names the path.
    """

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else "not found"


class StoreError(EngramError, RuntimeError):
    """The store could not complete a read or a write; nothing was half-written."""


class SchemaError(StoreError):
    """The store was written by a newer engramdb, or is not an engramdb store."""


class IntegrityError(StoreError):
    """The store's files are inconsistent (failed integrity or index checks)."""


class DecryptionError(StoreError):
    """Encrypted data did not open: no key, a wrong key, or ciphertext altered on disk.

    Raised before anything is returned or written; nothing is ever read as
    plaintext instead (docs/security.md).
    """


class EmbeddingError(EngramError, RuntimeError):
    """The embedding model could not be loaded or failed to run."""


class ModelIntegrityError(EmbeddingError):
    """A packaged model file does not match the sha256 pinned in engramdb."""


class AccessDeniedError(EngramError, PermissionError):
    """A server refused the request's API key: missing, unknown, revoked or out of scope."""


class RateLimitedError(EngramError, RuntimeError):
    """A server refused a request over its key's rate limit; retry after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class MissingExtraError(EngramError, ImportError):
    """A feature's optional extra is not installed; the message says what to pip install."""
