"""The CLI's one translation table from engramdb errors to exit codes.

It owns the exit codes of ``engram`` and the one-line ``engram: error: ...``
message on stderr, and the command group that applies them to every command.
It deliberately does not catch anything outside the table: an unexpected
exception is a bug and keeps its traceback.

    exit  raised as
    ----  ---------------------------------------------------------------
      0   success
      1   ``check`` found problems; a declined confirmation; a file could
          not be read or written (``OSError``); a command's optional extra
          is not installed (``MissingExtraError``: ``serve``, ``mcp``,
          ``curve``); any other ``EngramError``
      2   usage errors (typer/click), ``InvalidInputError``,
          ``LimitExceededError`` and ``ConflictError`` (an idempotency key
          reused with other content); ``forget-namespace`` without ``--yes``
          and without a terminal to ask on
      3   ``NotFoundError``
      4   ``StoreError``, ``SchemaError``, ``IntegrityError``
      5   ``EmbeddingError``, ``ModelIntegrityError``
      6   ``DecryptionError``: no master key for an encrypted store, a wrong
          one, or ciphertext altered on disk
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from engramdb import (
    DecryptionError,
    EmbeddingError,
    EngramError,
    InvalidInputError,
    MissingExtraError,
    NotFoundError,
    StoreError,
)

__all__ = [
    "EXIT_CODES",
    "EXIT_FAILURE",
    "EXIT_USAGE",
    "EngramGroup",
    "exit_code",
    "fail",
]

EXIT_FAILURE = 1
EXIT_USAGE = 2

#: Most specific first: the first class an error is an instance of decides.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (InvalidInputError, EXIT_USAGE),  # LimitExceededError, ConflictError are subclasses
    (NotFoundError, 3),
    (DecryptionError, 6),
    (StoreError, 4),  # SchemaError, IntegrityError
    (EmbeddingError, 5),  # ModelIntegrityError
    (MissingExtraError, EXIT_FAILURE),
    (EngramError, EXIT_FAILURE),
    (OSError, EXIT_FAILURE),
)


def exit_code(exc: BaseException) -> int | None:
    """The exit code for ``exc``, or None when the table does not cover it."""
    for kind, code in EXIT_CODES:
        if isinstance(exc, kind):
            return code
    return None


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        text = f"{exc.strerror}{where}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def fail(message: str, code: int) -> typer.Exit:
    """Print ``engram: error: message`` on stderr; return the Exit to raise."""
    typer.echo(f"engram: error: {' '.join(message.split())}", err=True)
    return typer.Exit(code)


class EngramGroup(TyperGroup):
    """The root command group: runs a command and applies ``EXIT_CODES``."""

    # ``ctx`` is typed Any: recent typer vendors click, and its Context class is private.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise  # the reader went away (engram ... | head); click exits quietly
        except (EngramError, OSError) as exc:
            code = exit_code(exc)
            if code is None:  # pragma: no cover - the except clause lists the table's roots
                raise
            raise fail(_one_line(exc), code) from None
