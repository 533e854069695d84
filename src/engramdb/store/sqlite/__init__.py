"""The embedded SQLite backend."""

from engramdb.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
