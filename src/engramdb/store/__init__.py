"""Stores: the interface and the one registry that maps a location to a backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engramdb.config import EncryptionKey
from engramdb.errors import InvalidInputError
from engramdb.extras import needs_extra
from engramdb.store.base import (
    Candidate,
    Capability,
    Catalog,
    EngramRecord,
    Store,
    VersionRecord,
)

if TYPE_CHECKING:
    from engramdb.store.postgres.sidetables import PostgresAuditLog, PostgresKeyStore
    from engramdb.store.sqlite.auditfile import SqliteAuditLog
    from engramdb.store.sqlite.keyfile import SqliteKeyStore

__all__ = [
    "Candidate",
    "Capability",
    "Catalog",
    "EngramRecord",
    "Store",
    "VersionRecord",
    "audit_table",
    "is_postgres",
    "key_table",
    "open_store",
    "postgres_location",
    "require_store",
    "salvage",
    "set_aside",
]


def open_store(
    location: str,
    *,
    ann_threshold: int = 20_000,
    dims: int = 384,
    read_only: bool = False,
    encryption: EncryptionKey | None = None,
    encrypt_vectors: bool = True,
    analyser: Callable[[str], str] | None = None,
    pool_size: int = 8,
) -> Store:
    """The store a location names: a path or ``:memory:`` (SQLite), or a database URL.

    ``read_only`` opens an existing store for reads only (writes raise
    ``StoreError``); where there is none it raises ``NotFoundError`` and creates
    nothing. Otherwise a missing store is created, its files owner-only
    (``store.files``).
    ``encryption`` is the master key of an encrypted store, or the key a new
    store is created encrypted with (docs/security.md). ``analyser`` makes what
    recall reads of each memory, kept beside it (docs/recall.md, "What a search reads").

    A ``postgresql://`` (or ``postgres://``) URL opens a ``PostgresStore`` in the
    schema its ``schema`` query parameter names (``engramdb`` by default), with the
    ``postgres`` extra (docs/postgres.md). It keeps no analysis beside its memories
    (recall makes it at each search). It holds up to ``pool_size`` connections to the
    database (docs/scaling.md).
    """
    if is_postgres(location):
        url, schema = postgres_location(location)
        with needs_extra("postgres", "a PostgreSQL store"):
            from engramdb.store.postgres import PostgresStore
        return PostgresStore(
            url,
            schema=schema,
            ann_threshold=ann_threshold,
            dims=dims,
            read_only=read_only,
            pool_size=pool_size,
            encryption=encryption,
            encrypt_vectors=encrypt_vectors,
        )
    path = _sqlite_path(location)
    from engramdb.store.sqlite import SqliteStore

    return SqliteStore(
        path,
        ann_threshold=ann_threshold,
        dims=dims,
        read_only=read_only,
        encryption=encryption,
        encrypt_vectors=encrypt_vectors,
        analyser=analyser,
    )


def key_table(where: str) -> SqliteKeyStore | PostgresKeyStore:
    """The API keys at ``where``: a key file (``keys.db``), or the table of the
    PostgreSQL store a URL names, which every server on the database shares."""
    if is_postgres(where):
        with needs_extra("postgres", "a PostgreSQL store"):
            from engramdb.store.postgres.sidetables import PostgresKeyStore
        return PostgresKeyStore(where)
    from engramdb.store.sqlite.keyfile import SqliteKeyStore

    return SqliteKeyStore(where)


def audit_table(where: str) -> SqliteAuditLog | PostgresAuditLog:
    """The audit log at ``where``: a file (``audit.db``), or the table of the
    PostgreSQL store a URL names, which every server on the database appends to."""
    if is_postgres(where):
        with needs_extra("postgres", "a PostgreSQL store"):
            from engramdb.store.postgres.sidetables import PostgresAuditLog
        return PostgresAuditLog(where)
    from engramdb.store.sqlite.auditfile import SqliteAuditLog

    return SqliteAuditLog(where)


def require_store(location: str) -> None:
    """Raise ``NotFoundError`` naming ``location`` when no store is there.

    It only looks, so a command that only reads can refuse a mistyped path
    before anything opens (and so creates) a store there. ``:memory:`` is not a
    path: it is always there.
    """
    if is_postgres(location):
        return  # no files to look at: a read-only open says whether a store is there
    path = _sqlite_path(location)
    if path != ":memory:":
        from engramdb.store.sqlite.store import existing_database

        existing_database(path)


def set_aside(location: str, label: str) -> Path:
    """Move the files of the store at ``location`` (one that does not open) into a
    folder beside it named after them and ``label``, to restore a backup in their
    place (docs/reliability.md, "Repair"); that folder. Nothing is deleted."""
    path = _sqlite_path(location)
    if path == ":memory:":
        raise InvalidInputError("':memory:' has no files to set aside")
    from engramdb.store.sqlite.maintenance import set_aside as move_aside
    from engramdb.store.sqlite.store import existing_database

    return move_aside(existing_database(path), label)


def salvage(location: str, target: str | Path) -> int:
    """Copy what is not derived of the store at ``location`` into a new store file at
    ``target``, for ``reindex`` to rebuild the rest (docs/reliability.md, "Repair");
    the number of memories copied. ``IntegrityError`` when the memories' own rows
    are damaged: then only a backup helps."""
    path = _sqlite_path(location)
    if path == ":memory:":
        raise InvalidInputError("':memory:' has no file to salvage")
    from engramdb.store.sqlite.maintenance import salvage as copy_rows
    from engramdb.store.sqlite.store import existing_database

    return copy_rows(existing_database(path), Path(target))


def is_postgres(location: str) -> bool:
    """Whether ``location`` names a PostgreSQL store (a ``postgresql://`` URL)."""
    return location.split("://", 1)[0].lower() in {"postgresql", "postgres"} and "://" in location


def postgres_location(location: str) -> tuple[str, str]:
    """The database URL of a PostgreSQL store location and the schema it names
    (its ``schema`` query parameter, taken out of the URL: libpq does not know it)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(location)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in query if key == "schema"]
    if len(schemas) > 1 or (schemas and not schemas[0]):
        raise InvalidInputError("a PostgreSQL store location names at most one non-empty schema")
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    return urlunsplit(parts._replace(query=rest)), schemas[0] if schemas else "engramdb"


def _sqlite_path(location: str) -> str:
    """The path of a SQLite store location (a path, ``file://`` or ``sqlite://``)."""
    scheme = location.split("://", 1)[0].lower() if "://" in location else ""
    if scheme in {"", "file", "sqlite"}:
        return location.split("://", 1)[1] if scheme else location
    if is_postgres(location):  # the URL is not repeated: it may hold a password
        raise InvalidInputError(
            "a PostgreSQL store has no files: this works on SQLite stores only (docs/postgres.md)"
        )
    raise InvalidInputError(
        f"unsupported store location {location!r}: use a directory, a .db file, ':memory:' "
        "or a postgresql:// URL"
    )
