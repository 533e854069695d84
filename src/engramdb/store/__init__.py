"""Stores: the interface and the one registry that maps a location to a backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engramdb.config import EncryptionKey
from engramdb.errors import InvalidInputError
from engramdb.store.base import (
    Candidate,
    Capability,
    Catalog,
    EngramRecord,
    Store,
    VersionRecord,
)

__all__ = [
    "Candidate",
    "Capability",
    "Catalog",
    "EngramRecord",
    "Store",
    "VersionRecord",
    "open_store",
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
) -> Store:
    """The store a location names: a path or ``:memory:`` (SQLite), or a database URL.

    ``read_only`` opens an existing store for reads only (writes raise
    ``StoreError``); where there is none it raises ``NotFoundError`` and creates
    nothing. Otherwise a missing store is created, its files owner-only
    (``store.files``).
    ``encryption`` is the master key of an encrypted store, or the key a new
    store is created encrypted with (docs/security.md). ``analyser`` makes what
    recall reads of each memory, kept beside it (docs/recall.md, "What a search reads").
    """
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


def require_store(location: str) -> None:
    """Raise ``NotFoundError`` naming ``location`` when no store is there.

    It only looks, so a command that only reads can refuse a mistyped path
    before anything opens (and so creates) a store there. ``:memory:`` is not a
    path: it is always there.
    """
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


def _sqlite_path(location: str) -> str:
    """The path of a SQLite store location (a path, ``file://`` or ``sqlite://``)."""
    scheme = location.split("://", 1)[0].lower() if "://" in location else ""
    if scheme in {"", "file", "sqlite"}:
        return location.split("://", 1)[1] if scheme else location
    raise InvalidInputError(
        f"unsupported store location {location!r}: use a directory, a .db file or ':memory:'"
    )
