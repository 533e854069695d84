"""The PostgreSQL store (docs/postgres.md); needs the ``postgres`` extra."""

from engramdb.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
