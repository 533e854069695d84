"""SqliteAuditLog: the append-only audit log, in its own SQLite file (docs/security.md).

It owns the SQL of the ``audit`` table: who (an API key id, or ``"local"``)
did what (an action verb) to which namespace and when, with the target id, the
outcome and, for a batch, how many memories it wrote. It never stores memory
content: the row has no column that could hold text, metadata or a query.
Like ``keys.db`` it is a file of its own (``audit.db`` beside the store,
created 0600), so ``forget_namespace``, export and backup never touch it. The
table is append-only: this class has no update or delete, and triggers refuse
them. Each entry also carries a link of a hash chain (SHA-256 over the link
before it and the entry), so ``engram check`` finds an entry altered on disk
(docs/reliability.md, "Damage"); entries written before the chain have none.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from engramdb.clock import from_iso, to_iso
from engramdb.store.side import AuditRecord, audit_link
from engramdb.store.sqlite.sidefile import SideFile

__all__ = ["AuditRecord", "SqliteAuditLog"]

# Schema 1 is released: never edit it. Later steps are applied by ``_upgrade``.
_SCHEMA_VERSION = 3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    namespace TEXT,
    target    TEXT,
    status    INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""
# Step 2: how many memories a batch action wrote (``engram import``, ``consolidate``).
_ADD_COUNT = "ALTER TABLE audit ADD COLUMN count INTEGER"
# Step 3: the hash chain (each entry's link: SHA-256 of the link before it and the entry).
_ADD_CHAIN = "ALTER TABLE audit ADD COLUMN chain BLOB"
_INSERT = (
    "INSERT INTO audit (at, actor, action, namespace, target, status, count, chain) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT = "SELECT at, actor, action, namespace, target, status, count FROM audit WHERE 1 = 1"
_LAST_LINK = "SELECT chain FROM audit ORDER BY seq DESC LIMIT 1"


class SqliteAuditLog(SideFile):
    """The ``audit`` table in one SQLite file (or ``":memory:"``); thread-safe."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, label="audit file", schema=_SCHEMA, version=_SCHEMA_VERSION)
        try:
            self._upgrade()
        except BaseException:
            self.close()
            raise

    def _upgrade(self) -> None:
        """Apply step 2 to a file schema 1 made (or a fresh one); a no-op once done.

        ``SideFile`` runs an idempotent script, which cannot add a column, so the
        step checks the table's shape inside one write transaction: two processes
        opening the same old file at once add the column once.
        """
        with self._locked() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                columns = {str(row[1]) for row in conn.execute("PRAGMA table_info(audit)")}
                if "count" not in columns:
                    conn.execute(_ADD_COUNT)
                if "chain" not in columns:
                    conn.execute(_ADD_CHAIN)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def append(self, record: AuditRecord) -> None:
        values = (
            to_iso(record.at),
            record.actor,
            record.action,
            record.namespace,
            record.target,
            record.status,
            record.count,
        )
        with self._locked() as conn:
            conn.execute("BEGIN IMMEDIATE")  # the last link, then ours, with no entry between
            try:
                row = conn.execute(_LAST_LINK).fetchone()
                previous = b"" if row is None or row[0] is None else bytes(row[0])
                conn.execute(_INSERT, (*values, audit_link(previous, values)))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def entries(
        self,
        *,
        namespace: str | None = None,
        since: datetime | None = None,
        last: int | None = None,
    ) -> list[AuditRecord]:
        """Entries oldest first, optionally of one namespace and at or after ``since``;
        with ``last``, only the last ``last`` of them."""
        sql = _SELECT
        params: list[object] = []
        if namespace is not None:
            sql += " AND namespace = ?"
            params.append(namespace)
        if since is not None:
            sql += " AND at >= ?"
            params.append(to_iso(since))
        with self._locked() as conn:
            if last is None:
                rows = conn.execute(sql + " ORDER BY seq", params).fetchall()
            else:
                newest = sql + " ORDER BY seq DESC LIMIT ?"
                rows = conn.execute(newest, [*params, last]).fetchall()[::-1]
        with self._decoding():
            return [
                AuditRecord(
                    at=from_iso(str(at)),
                    actor=str(actor),
                    action=str(action),
                    namespace=None if ns is None else str(ns),
                    target=None if target is None else str(target),
                    status=int(status),
                    count=None if count is None else int(count),
                )
                for at, actor, action, ns, target, status, count in rows
            ]

    def _row_problems(self) -> list[str]:
        """Entries that do not decode, or whose link of the chain does not match."""
        self.entries()
        with self._locked() as conn:
            rows = conn.execute(
                "SELECT seq, at, actor, action, namespace, target, status, count, chain "
                "FROM audit ORDER BY seq"
            ).fetchall()
        found: list[str] = []
        previous = b""
        for seq, *values, chain in rows:
            if chain is None:  # written before the chain: nothing to hold it to
                continue
            if bytes(chain) != audit_link(previous, tuple(values)):
                found.append(f"audit entry {seq} does not match the chain (altered on disk)")
            previous = bytes(chain)
        return found
