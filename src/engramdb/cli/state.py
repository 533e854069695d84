"""What every command shares: the global options, the open Memory, value parsing.

It owns the root callback (``--store``, ``--json``, ``--namespace``), the one
place the CLI reads the environment (``Settings.from_env()``), how a command
opens the store (``memory`` creates a missing one; ``existing_memory``, for
commands that only read, refuses it), and the parsing of command-line
datetimes and metadata into what the facade takes. It does not
render output (``output``) or decide exit codes (``errors``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Any

import typer

from engramdb import InvalidInputError, Memory, Settings
from engramdb.memory import DEFAULT_NAMESPACE
from engramdb.options import SEARCH
from engramdb.store import is_postgres, require_store

__all__ = [
    "DEFAULT_NAMESPACE",
    "AfterOption",
    "BeforeOption",
    "MinRelevanceOption",
    "NamespaceOption",
    "State",
    "WhereOption",
    "parse_filters",
    "parse_metadata",
    "parse_time",
    "root_options",
    "state",
]

NamespaceOption = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        "-n",
        help="Namespace to use (overrides the global --namespace).",
        show_default=False,
    ),
]

# A search's filters (docs/filters.md), on ``search`` and ``context`` alike.
WhereOption = Annotated[
    str | None, typer.Option("--where", metavar="JSON", help=SEARCH.help("where"))
]
AfterOption = Annotated[
    str | None,
    typer.Option("--occurred-after", metavar="ISO", help=SEARCH.help("occurred_after")),
]
BeforeOption = Annotated[
    str | None,
    typer.Option("--occurred-before", metavar="ISO", help=SEARCH.help("occurred_before")),
]
# The relevance floor (docs/recall.md, "Relevance"), on ``search`` and ``context`` alike.
MinRelevanceOption = Annotated[
    float,
    typer.Option("--min-relevance", metavar="P", help=SEARCH.help("min_relevance")),
]


@dataclass(frozen=True, slots=True)
class State:
    """The global options of one ``engram`` invocation."""

    settings: Settings
    json: bool
    namespace: str | None

    def memory(self) -> Memory:
        """A Memory on the configured store, created if missing; use it as a context manager."""
        return Memory(settings=self.settings)

    def existing_memory(self) -> Memory:
        """Like ``memory``, for commands that only read: a missing store is not created.

        ``NotFoundError`` (exit 3) names the path when there is no store. The store
        still opens read-write, so an existing one behaves as with ``memory``:
        ``search`` reinforces what it recalls, an older schema is migrated and
        ``check`` runs the lexical index's own check.
        """
        self.require_store()
        return self.memory()

    def require_store(self) -> None:
        """``NotFoundError`` naming the path when no store is there; creates nothing."""
        require_store(self.settings.path)

    def sqlite_only(self, refusal: str) -> None:
        """``InvalidInputError`` saying ``refusal`` (the PostgreSQL way) when the store is
        a PostgreSQL database: the command works on a SQLite store's files."""
        if is_postgres(self.settings.path):
            raise InvalidInputError(refusal)

    def resolve(self, namespace: str | None) -> str:
        """The namespace a command acts on: its own option, the global one, or the default."""
        chosen = self.resolve_optional(namespace)
        return DEFAULT_NAMESPACE if chosen is None else chosen

    def resolve_optional(self, namespace: str | None) -> str | None:
        """Like ``resolve``, but None (all namespaces) when neither option was given."""
        # ``is None``, not falsiness: ``-n ""`` must reach validation and be refused.
        return namespace if namespace is not None else self.namespace


def root_options(
    ctx: typer.Context,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Store: a directory, a .db file or a postgresql:// URL. "
            "(default: $ENGRAMDB_STORE or ./engram-data)",
            show_default=False,
        ),
    ] = None,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON document on stdout instead of text."),
    ] = False,
    namespace: Annotated[
        str | None,
        typer.Option(
            "--namespace",
            "-n",
            help="Default namespace for every command. (default: default)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """engram: a local memory engine for AI agents."""
    try:
        settings = Settings.from_env()
    except ValueError as exc:  # e.g. ENGRAMDB_EMBED_BATCH_SIZE=abc
        raise InvalidInputError(f"bad ENGRAMDB_* environment variable: {exc}") from None
    if store is not None:
        settings = settings.with_path(store)
    ctx.obj = State(settings=settings, json=json_output, namespace=namespace)


def state(ctx: typer.Context) -> State:
    """The global options, set by ``root_options``."""
    found = ctx.find_object(State)
    if found is None:  # a command invoked without the root group
        found = State(settings=Settings.from_env(), json=False, namespace=None)
    return found


def parse_time(value: str | None, option: str) -> datetime | None:
    """A timezone-aware ISO 8601 datetime (a trailing ``Z`` is UTC); naive ones are refused."""
    if value is None:
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(
            f"{option} {value!r} is not an ISO 8601 datetime (e.g. 2023-05-08T13:56:00Z)"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        example = text if "T" in text or " " in text else f"{text}T00:00:00"
        raise InvalidInputError(
            f"{option} {value!r} has no timezone; add one, e.g. {example}Z or {example}+02:00"
        )
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01 at +02:00 has no UTC form
        raise InvalidInputError(
            f"{option} {value!r} is out of the range of times (docs/limits.md)"
        ) from None


def parse_metadata(value: str | None, option: str = "--metadata") -> dict[str, Any] | None:
    """A JSON object given on the command line."""
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{option} is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise InvalidInputError(f"{option} must be a JSON object, got {type(parsed).__name__}")
    return parsed


def parse_filters(where: str | None, after: str | None, before: str | None) -> dict[str, Any]:
    """``--where``, ``--occurred-after`` and ``--occurred-before`` as the facade's keyword
    arguments; the facade checks the filter itself."""
    return {
        "where": parse_metadata(where, "--where"),
        "occurred_after": parse_time(after, "--occurred-after"),
        "occurred_before": parse_time(before, "--occurred-before"),
    }
