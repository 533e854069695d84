"""Expiry in a PostgresStore (docs/expiry.md, ``store.expiring``): the ``expires_at``
column of ``engrams`` with its index of the memories that expire, and the
``expiry_ttl`` table (migration 10). A mixin of ``PostgresStore``: it reads and writes
through the store's database and data keys, and owns nothing of its own. The
expiry is in clear, as every time of a memory is (docs/security.md, "What stays in
clear").
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from engramdb.errors import StoreError
from engramdb.model import Engram
from engramdb.store.postgres import macs, rows
from engramdb.store.postgres.database import Connection, Database

__all__ = ["ExpiryRows"]


class ExpiryRows:
    """``Store``'s expiry methods over PostgreSQL (``PostgresStore`` inherits them)."""

    _db: Database

    if TYPE_CHECKING:  # ConsolidationTables' (the data keys of the store)

        def _ciphers(self, conn: Connection, *, create: bool = False) -> rows.CipherOf: ...

    def set_expiry(self, namespace: str, engram_id: str, expires_at: datetime | None) -> Engram:
        with self._db.write("set_expiry") as conn:
            cipher_of = self._ciphers(conn)
            rowid, _ = rows.locate(conn, namespace, engram_id)
            macs.verify(conn, cipher_of, [rowid])  # never reseal an altered row
            conn.execute("UPDATE engrams SET expires_at = %s WHERE rowid = %s", (expires_at, rowid))
            macs.seal(conn, cipher_of, [rowid])
            row = conn.execute(
                f"SELECT {rows.ENGRAM_COLUMNS} FROM engrams WHERE rowid = %s", (rowid,)
            ).fetchone()
            if row is None:
                raise StoreError("a memory written in this transaction was not found")
            return rows.engram(row, cipher_of)

    def expired(self, namespace: str, now: datetime, limit: int | None = None) -> list[str]:
        # by ``engrams_expiry``: only the memories that expire are read
        sql = (
            "SELECT id FROM engrams WHERE namespace = %s AND expires_at IS NOT NULL "
            "AND expires_at <= %s ORDER BY rowid"
        )
        params: list[object] = [namespace, now]
        if limit is not None:
            sql += " LIMIT %s"
            params.append(max(int(limit), 0))
        with self._db.read() as conn:
            return [str(r[0]) for r in conn.execute(sql, params).fetchall()]

    def ttl(self, namespace: str) -> float | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT ttl_s FROM expiry_ttl WHERE namespace = %s", (namespace,)
            ).fetchone()
        return None if row is None else float(row[0])

    def set_ttl(self, namespace: str, ttl_s: float | None) -> None:
        with self._db.write("set_ttl") as conn:
            if ttl_s is None:
                conn.execute("DELETE FROM expiry_ttl WHERE namespace = %s", (namespace,))
                return
            conn.execute(
                "INSERT INTO expiry_ttl (namespace, ttl_s) VALUES (%s, %s) "
                "ON CONFLICT (namespace) DO UPDATE SET ttl_s = excluded.ttl_s",
                (namespace, float(ttl_s)),
            )
