"""Stores: the interface and the one registry that maps a location to a backend."""

from __future__ import annotations

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
]


def open_store(
    location: str,
    *,
    ann_threshold: int = 20_000,
    dims: int = 384,
    read_only: bool = False,
    encryption: EncryptionKey | None = None,
    encrypt_vectors: bool = True,
) -> Store:
    """The store a location names: a path or ``:memory:`` (SQLite), or a database URL.

    ``read_only`` opens an existing store for reads only (writes raise ``StoreError``).
    ``encryption`` is the master key of an encrypted store, or the key a new
    store is created encrypted with (docs/security.md).
    """
    scheme = location.split("://", 1)[0].lower() if "://" in location else ""
    if scheme in {"", "file", "sqlite"}:
        from engramdb.store.sqlite import SqliteStore

        path = location.split("://", 1)[1] if scheme else location
        return SqliteStore(
            path,
            ann_threshold=ann_threshold,
            dims=dims,
            read_only=read_only,
            encryption=encryption,
            encrypt_vectors=encrypt_vectors,
        )
    raise InvalidInputError(
        f"unsupported store location {location!r}: use a directory, a .db file or ':memory:'"
    )
