"""A PostgresStore's connections: opening, migrations, transactions, errors.

Owns the pool of connections a store holds (``psycopg_pool``, at most
``pool_size``: docs/scaling.md), the schema it works in, the migrations of
``store.postgres.schema``, session advisory locks (``exclusive``) and how a
database error becomes a ``StoreError``. It knows nothing of memories.

Every write runs in one transaction (``write``); a read runs in one too
(``read``), so a read of several statements sees one committed state of each
table at a time. Each operation takes a connection from the pool for its
transaction and gives it back, so the threads of a server run their
operations side by side, up to ``pool_size`` at once (the next waits for a
connection). Times are exchanged in UTC (the session's ``TimeZone``), so every
``timestamptz`` comes back timezone-aware.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from engramdb.errors import NotFoundError, SchemaError, StoreError
from engramdb.store.postgres.schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["DEFAULT_POOL_SIZE", "Connection", "Database"]

Connection = psycopg.Connection[tuple[Any, ...]]

#: Connections a store holds at most (``Settings.postgres_pool_size`` sets it).
DEFAULT_POOL_SIZE = 8
# How long an operation waits for a free connection of a full pool before it fails.
_POOL_WAIT_S = 30.0

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    integer     PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class Database:
    """A pool of connections to the database at ``url``, working in ``schema``."""

    def __init__(
        self,
        url: str,
        schema: str,
        *,
        dims: int,
        read_only: bool = False,
        pool_size: int = DEFAULT_POOL_SIZE,
    ) -> None:
        if pool_size < 1:
            raise StoreError(f"a PostgreSQL store needs a pool of at least 1, not {pool_size}")
        self.schema = schema
        self.read_only = read_only
        self.lock = threading.RLock()
        try:
            conn: Connection = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {_said(exc)}") from exc
        try:
            home = self._open_existing(conn, dims) if read_only else self._prepare(conn, dims)
        finally:
            conn.close()
        self._session: list[sql.SQL | sql.Composed] = [
            sql.SQL("SET TIME ZONE 'UTC'"),
            sql.SQL("SET search_path TO {}, {}").format(
                sql.Identifier(self.schema), sql.Identifier(home)
            ),
        ]
        if read_only:
            self._session.append(sql.SQL("SET default_transaction_read_only = on"))
        self._pool: ConnectionPool[Connection] | None = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": 10},
            configure=self._configure,
            timeout=_POOL_WAIT_S,
            name=f"engramdb {schema}",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=_POOL_WAIT_S)
        except (PoolTimeout, psycopg.Error) as exc:
            self._pool.close()
            raise StoreError(f"cannot connect to PostgreSQL: {_said(exc)}") from exc

    def _configure(self, conn: Connection) -> None:
        """A new connection of the pool: the store's session settings and vector types."""
        for statement in self._session:
            conn.execute(statement)
        register_vector(conn)

    def _prepare(self, conn: Connection, dims: int) -> str:
        """Create the schema and apply migrations; the schema pgvector lives in."""
        encoding = conn.execute("SHOW server_encoding").fetchone()
        if encoding is None or encoding[0] != "UTF8":
            raise StoreError(f"the database's encoding is {encoding}: engramdb needs UTF8")
        conn.execute("SET TIME ZONE 'UTC'")
        lock_key = f"engramdb schema {self.schema}"
        with _translated("opening the store"), conn.transaction():
            # processes opening one store at once: one creates, the others wait and see it
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (lock_key,))
            if not conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            (home,) = conn.execute(
                "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'vector'"
            ).fetchone() or ("public",)
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )
            conn.execute(
                sql.SQL("SET search_path TO {}, {}").format(
                    sql.Identifier(self.schema), sql.Identifier(home)
                )
            )
            conn.execute(_VERSION_TABLE)
            self._migrate(conn, dims)
        return str(home)

    def _open_existing(self, conn: Connection, dims: int) -> str:
        """A read-only open: the schema must hold a store of this version; nothing is
        created, and every transaction of the session is read-only."""
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute("SET default_transaction_read_only = on")
        with _translated("opening the store"), conn.transaction():
            home = conn.execute(
                "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'vector'"
            ).fetchone()
            table = conn.execute(
                "SELECT to_regclass(format('%%I.schema_version', %s::text))", (self.schema,)
            ).fetchone()
            if home is None or table is None or table[0] is None:
                raise NotFoundError(f"no engramdb store in schema {self.schema!r} of the database")
            conn.execute(
                sql.SQL("SET search_path TO {}, {}").format(
                    sql.Identifier(self.schema), sql.Identifier(home[0])
                )
            )
            row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
            current = int(row[0]) if row and row[0] is not None else 0
            if current != SCHEMA_VERSION:
                raise SchemaError(
                    f"schema {self.schema!r} is at version {current}, this engramdb at "
                    f"{SCHEMA_VERSION}: open it writable once to migrate it"
                    if current < SCHEMA_VERSION
                    else f"schema {self.schema!r} is at version {current}; this engramdb "
                    f"knows {SCHEMA_VERSION}: upgrade engramdb"
                )
            self._check_dims(conn, dims)
        return str(home[0])

    def _migrate(self, conn: Connection, dims: int) -> None:
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        current = int(row[0]) if row and row[0] is not None else 0
        if current > SCHEMA_VERSION:
            raise SchemaError(
                f"schema {self.schema!r} is at version {current}; this engramdb knows "
                f"{SCHEMA_VERSION}: upgrade engramdb"
            )
        for number, migration in enumerate(MIGRATIONS[current:], start=current + 1):
            conn.execute(migration.replace("{dims}", str(int(dims))).encode())
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
        self._check_dims(conn, dims)

    def _check_dims(self, conn: Connection, dims: int) -> None:
        info = conn.execute("SELECT dims FROM store_info").fetchone()
        if info is None or int(info[0]) != dims:
            stored = None if info is None else int(info[0])
            raise SchemaError(
                f"schema {self.schema!r} holds {stored}-dimension vectors, not {dims}"
            )

    @contextmanager
    def connection(self, what: str) -> Iterator[Connection]:
        """A connection of the pool, given back (and rolled back if left in a
        transaction) when the block ends."""
        pool = self._pool
        if pool is None:
            raise StoreError("the store is closed")
        try:
            with pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise StoreError(
                f"{what} failed: no free PostgreSQL connection within {_POOL_WAIT_S:g} s "
                "(postgres_pool_size: docs/scaling.md)"
            ) from exc

    @contextmanager
    def write(self, what: str) -> Iterator[Connection]:
        """One transaction: all of it is written, or nothing when it raises."""
        if self.read_only:
            raise StoreError(f"cannot write ({what}): the store is read-only")
        with self.connection(what) as conn, _translated(what), conn.transaction():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One transaction that writes nothing."""
        with self.connection("a read") as conn, _translated("a read"), conn.transaction():
            yield conn

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold the session advisory lock ``name`` (within this schema) for the block,
        waiting while another process or thread holds it: work that must run in one
        place at a time across every process on the database (docs/scaling.md)."""
        key = f"engramdb {self.schema} {name}"
        with self.connection(name) as conn, _translated(name):
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))

    def close(self) -> None:
        with self.lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def _said(exc: psycopg.Error) -> str:
    """What the server or the driver said, on one line."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    return (
        str(primary or exc).strip().splitlines()[0] if (primary or str(exc)) else type(exc).__name__
    )


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """A database error inside becomes a ``StoreError`` naming ``what`` was refused."""
    try:
        yield
    except psycopg.errors.UniqueViolation as exc:
        raise StoreError(f"{what} refused: a memory with that id exists ({_said(exc)})") from exc
    except psycopg.Error as exc:
        raise StoreError(f"{what} failed: {_said(exc)}") from exc
