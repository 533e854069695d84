"""Expiry in a SqliteStore (docs/expiry.md, ``store.expiring``): the ``expires_at``
column of ``engrams`` (migration 22), which the row's checksum covers when it is set
(``checksums.of_engram``), its index of the memories that expire, and the
``expiry_ttl`` table. A mixin of ``SqliteStore``: it reads and writes through the
store's database and data keys, and owns nothing of its own.
"""

from __future__ import annotations

from datetime import datetime

from engramdb.clock import to_iso
from engramdb.errors import NotFoundError
from engramdb.model import Engram
from engramdb.store.sqlite import checksums, rows
from engramdb.store.sqlite.database import Database
from engramdb.store.sqlite.sealing import DataKeys

__all__ = ["ExpiryRows"]


class ExpiryRows:
    """``Store``'s expiry methods over SQLite (``SqliteStore`` inherits them)."""

    _db: Database
    _keys: DataKeys

    def set_expiry(self, namespace: str, engram_id: str, expires_at: datetime | None) -> Engram:
        stored = None if expires_at is None else to_iso(expires_at)
        with self._db.write("set_expiry") as conn:
            cipher = self._keys.cipher(conn, namespace)
            found = conn.execute(
                "SELECT rowid FROM engrams WHERE id = ? AND namespace = ?", (engram_id, namespace)
            ).fetchone()
            if found is None:
                raise NotFoundError(f"no memory {engram_id!r} in namespace {namespace!r}")
            rowid = int(found[0])
            checksums.reseal_engram(
                conn,
                cipher,
                rowid,
                lambda: conn.execute(
                    "UPDATE engrams SET expires_at = ? WHERE rowid = ?", (stored, rowid)
                ),
            )
            return rows.by_rowid(conn, cipher, rowid)

    def expired(self, namespace: str, now: datetime, limit: int | None = None) -> list[str]:
        # by ``engrams_expiry``: only the memories that expire are read
        sql = (
            "SELECT id FROM engrams WHERE namespace = ? AND expires_at IS NOT NULL "
            "AND expires_at <= ? ORDER BY rowid"
        )
        if limit is not None:
            sql += f" LIMIT {max(int(limit), 0)}"
        with self._db.read() as conn:
            return [str(r[0]) for r in conn.execute(sql, (namespace, to_iso(now)))]

    def ttl(self, namespace: str) -> float | None:
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT ttl_s FROM expiry_ttl WHERE namespace = ?", (namespace,)
            ).fetchone()
        return None if found is None else float(found[0])

    def set_ttl(self, namespace: str, ttl_s: float | None) -> None:
        with self._db.write("set_ttl") as conn:
            if ttl_s is None:
                conn.execute("DELETE FROM expiry_ttl WHERE namespace = ?", (namespace,))
            else:
                conn.execute(
                    "INSERT INTO expiry_ttl (namespace, ttl_s) VALUES (?, ?) "
                    "ON CONFLICT (namespace) DO UPDATE SET ttl_s = excluded.ttl_s",
                    (namespace, float(ttl_s)),
                )
