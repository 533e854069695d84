"""API keys and the audit log of a PostgreSQL store: tables in its schema.

A PostgreSQL store is shared by several servers (docs/scaling.md), so what a
SQLite store keeps in files beside it (``keys.db``, ``audit.db``) lives in the
store's own schema: a key made or revoked on one server counts on every server
at its next request, and every server appends to one audit log, in one hash
chain. The tables are not the store's memories: export, import,
``forget_namespace`` and ``check`` of memories never read them. They are made
on first use, under the advisory lock the store's migrations take, and are
``api_keys`` and ``audit`` with the SQLite files' columns (``store.side``
holds the rows and the chain). The audit table is append-only here too:
``PostgresAuditLog`` has no update or delete, and a trigger refuses them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from engramdb.config import shown_location
from engramdb.errors import StoreError
from engramdb.store.side import AuditRecord, KeyRecord, audit_link

__all__ = ["PostgresAuditLog", "PostgresKeyStore"]

_KEYS = """
CREATE TABLE IF NOT EXISTS api_keys (
    id         text        PRIMARY KEY,
    name       text        NOT NULL,
    salt       bytea       NOT NULL,
    digest     bytea       NOT NULL,
    namespaces text        NOT NULL,
    access     text        NOT NULL CHECK (access IN ('read', 'write', 'admin')),
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
)
"""
_AUDIT = """
CREATE TABLE IF NOT EXISTS audit (
    seq       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL,
    actor     text        NOT NULL,
    action    text        NOT NULL,
    namespace text,
    target    text,
    status    integer     NOT NULL,
    count     integer,
    chain     bytea       NOT NULL
);
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
DROP TRIGGER IF EXISTS audit_append_only ON audit;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
"""
_KEY_COLUMNS = "id, name, salt, digest, namespaces, access, created_at, revoked_at"


class _Table:
    """One connection to the schema of the store at ``location``, with its table made."""

    def __init__(self, location: str, *, label: str, ddl: str) -> None:
        from engramdb.store import postgres_location

        url, schema = postgres_location(location)
        self.path = shown_location(location)  # never the password: errors name it
        self._label = label
        self._lock = threading.Lock()
        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open the {label} in {self.path}: {_said(exc)}") from exc
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = conn
        try:
            with self._failing("opening"), conn.transaction():
                conn.execute("SET TIME ZONE 'UTC'")
                # the store's migrations take the same lock: one process makes the schema
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"engramdb schema {schema}",)
                )
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                )
                conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
                conn.execute(ddl.encode())
        except BaseException:
            conn.close()
            raise

    @contextmanager
    def _failing(self, what: str) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise StoreError(
                f"{what} the {self._label} in {self.path} failed: {_said(exc)}"
            ) from exc

    @contextmanager
    def _transaction(self, what: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        with self._lock:
            if self._conn is None:
                raise StoreError(f"the {self._label} is closed")
            with self._failing(what), self._conn.transaction():
                yield self._conn

    def problems(self) -> list[str]:
        """What is wrong with the table's rows, each naming it (empty when sound)."""
        try:
            return self._row_problems()
        except (ValueError, TypeError) as exc:
            return [f"{self._label} in {self.path}: a row does not decode ({exc})"]

    def _row_problems(self) -> list[str]:
        return []

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class PostgresKeyStore(_Table):
    """The ``api_keys`` table of a PostgreSQL store; thread-safe."""

    def __init__(self, location: str) -> None:
        super().__init__(location, label="key table", ddl=_KEYS)

    def insert(self, record: KeyRecord) -> None:
        with self._transaction("writing to") as conn:
            conn.execute(
                f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    record.id, record.name, record.salt, record.digest,
                    json.dumps(list(record.namespaces)), record.access, record.created_at,
                    record.revoked_at,
                ),
            )  # fmt: skip

    def get(self, key_id: str) -> KeyRecord | None:
        with self._transaction("reading") as conn:
            row = conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = %s", (key_id,)
            ).fetchone()
        return None if row is None else _key(row)

    def all(self) -> list[KeyRecord]:
        with self._transaction("reading") as conn:
            found = conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
            ).fetchall()
        return [_key(row) for row in found]

    def _row_problems(self) -> list[str]:
        self.all()
        return []

    def revoke(self, key_id: str, at: datetime) -> bool:
        """Mark a key revoked (the first time stays); False when there is no such key."""
        with self._transaction("writing to") as conn:
            done = conn.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, %s) WHERE id = %s",
                (at, key_id),
            )
        return done.rowcount > 0


class PostgresAuditLog(_Table):
    """The ``audit`` table of a PostgreSQL store: appended by every server; thread-safe."""

    def __init__(self, location: str) -> None:
        super().__init__(location, label="audit table", ddl=_AUDIT)

    def append(self, record: AuditRecord) -> None:
        values = _values(record)
        with self._transaction("writing to") as conn:
            # the last link, then ours, with no other server's entry between
            conn.execute("LOCK TABLE audit IN SHARE ROW EXCLUSIVE MODE")
            row = conn.execute("SELECT chain FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            previous = b"" if row is None else bytes(row[0])
            conn.execute(
                "INSERT INTO audit (at, actor, action, namespace, target, status, count, chain) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    record.at, record.actor, record.action, record.namespace, record.target,
                    record.status, record.count, audit_link(previous, values),
                ),
            )  # fmt: skip

    def entries(
        self,
        *,
        namespace: str | None = None,
        since: datetime | None = None,
        last: int | None = None,
    ) -> list[AuditRecord]:
        """Entries oldest first, optionally of one namespace and at or after ``since``;
        with ``last``, only the last ``last`` of them."""
        query = "SELECT at, actor, action, namespace, target, status, count FROM audit WHERE true"
        params: list[object] = []
        if namespace is not None:
            query, params = f"{query} AND namespace = %s", [*params, namespace]
        if since is not None:
            query, params = f"{query} AND at >= %s", [*params, since]
        with self._transaction("reading") as conn:
            if last is None:
                found = conn.execute(f"{query} ORDER BY seq", params).fetchall()
            else:
                newest = f"{query} ORDER BY seq DESC LIMIT %s"
                found = conn.execute(newest, [*params, last]).fetchall()[::-1]
        return [
            AuditRecord(
                at=at, actor=str(actor), action=str(action), namespace=ns, target=target,
                status=int(status), count=None if count is None else int(count),
            )
            for at, actor, action, ns, target, status, count in found
        ]  # fmt: skip

    def _row_problems(self) -> list[str]:
        """Entries whose link of the chain does not match."""
        with self._transaction("reading") as conn:
            found = conn.execute(
                "SELECT seq, at, actor, action, namespace, target, status, count, chain "
                "FROM audit ORDER BY seq"
            ).fetchall()
        problems: list[str] = []
        previous = b""
        for seq, at, actor, action, namespace, target, status, count, chain in found:
            entry = AuditRecord(at, actor, action, namespace, target, int(status), count)
            if bytes(chain) != audit_link(previous, _values(entry)):
                problems.append(f"audit entry {seq} does not match the chain (altered)")
            previous = bytes(chain)
        return problems


def _values(record: AuditRecord) -> tuple[object, ...]:
    """What the chain covers of an entry, as the SQLite log writes it."""
    from engramdb.clock import to_iso

    return (
        to_iso(record.at), record.actor, record.action, record.namespace, record.target,
        record.status, record.count,
    )  # fmt: skip


_ACCESS = ("read", "write", "admin")


def _key(row: tuple[Any, ...]) -> KeyRecord:
    key_id, name, salt, digest, namespaces, access, created_at, revoked_at = row
    if access not in _ACCESS:
        raise ValueError(f"key {key_id!r}: access {access!r} is not one of {', '.join(_ACCESS)}")
    patterns = json.loads(str(namespaces))
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise ValueError(f"key {key_id!r}: its namespaces are not a list of patterns")
    return KeyRecord(
        id=str(key_id), name=str(name), salt=bytes(salt), digest=bytes(digest),
        namespaces=tuple(patterns), access=str(access), created_at=created_at,
        revoked_at=revoked_at,
    )  # fmt: skip


def _said(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    text = str(primary or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
