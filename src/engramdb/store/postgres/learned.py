"""What a namespace learned, in a PostgresStore: the ``learned`` table (docs/learning.md).

One row per (namespace, kind, key), replaced by a later value, as in the SQLite
store (``store/sqlite/learning.py``). In an encrypted store the value is sealed,
bound to its namespace, kind and key (``store.codec.learned_aad``).
``LearnedTable`` is ``PostgresStore``'s share of the ``Store`` methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from engramdb.store.base import Learned
from engramdb.store.codec import learned_aad

if TYPE_CHECKING:
    from engramdb.security.crypto import Cipher
    from engramdb.store.postgres.database import Connection, Database

__all__ = ["LearnedTable"]


class LearnedTable:
    """The ``Store`` methods of what a namespace learned, for ``PostgresStore``."""

    _db: Database

    if TYPE_CHECKING:

        def _cipher(self, conn: Connection, namespace: str, *, create: bool = False) -> Cipher: ...

    def learn(self, namespace: str, items: Sequence[Learned]) -> None:
        with self._db.write("learn") as conn:
            c = self._cipher(conn, namespace, create=True)
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO learned (namespace, kind, key, value, recorded_at) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (namespace, kind, key) DO UPDATE "
                    "SET value = excluded.value, recorded_at = excluded.recorded_at",
                    [
                        (
                            namespace,
                            i.kind,
                            i.key,
                            c.seal(i.value, learned_aad(namespace, i.kind, i.key)),
                            at,
                        )
                        for i in items
                        for at in (i.recorded_at,)
                    ],
                )

    def learned(self, namespace: str, kind: str) -> list[Learned]:
        with self._db.read() as conn:
            c = self._cipher(conn, namespace)
            found = conn.execute(
                "SELECT key, value, recorded_at FROM learned WHERE namespace = %s AND kind = %s "
                "ORDER BY recorded_at, key",
                (namespace, kind),
            ).fetchall()
            return [
                Learned(kind, key, c.open(value, learned_aad(namespace, kind, key)), at)
                for key, value, at in found
            ]

    def unlearn(self, namespace: str, kinds: Sequence[str]) -> int:
        with self._db.write("unlearn") as conn:
            gone = conn.execute(
                "DELETE FROM learned WHERE namespace = %s AND kind = ANY(%s)",
                (namespace, list(kinds)),
            )
        return max(gone.rowcount, 0)
