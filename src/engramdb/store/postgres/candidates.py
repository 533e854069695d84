"""What a two-stage search reads of a PostgresStore besides its indexes (docs/recall.md).

Indexed reads of a few memories at a time, each confined to one namespace, as the
SQLite store's (``store/sqlite/candidates.py``): the catalog of given ids (by the
``id`` key), the turns around given memories in their sessions (``engrams_session``),
the memories whose event time falls in a window, and the latest episodes of one
(``engrams_occurred_rowid``), the provenance links of given memories (the key of
``provenance`` and ``provenance_source``); and what a fade weighs (``active``: the
dynamics of the namespace's active memories, no texts but their sizes, no vectors).
None of them reads the namespace's catalog (``PostgresStore.catalog``, kept until the
namespace's change mark moves: ``store.postgres.changes``), which is what ``Store``'s
defaults of these reads rank over; at 100,000 memories that read is seconds.

A catalog of ids is decoded by ``rows.catalog``'s decoder: sealed values opened with
the namespace's cipher, a sealed vector opened from ``sealed_vector``, a pending one a
row of zeros. Expired memories are left out above the store, as every search leaves
them out (``Filter.unexpired_at``, docs/expiry.md), not here. ``CandidateReads`` is
``PostgresStore``'s share of the ``Store`` methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from engramdb.store.base import Active, Catalog, Link
from engramdb.store.postgres import rows

if TYPE_CHECKING:
    from engramdb.security.crypto import Cipher
    from engramdb.store.postgres.database import Connection, Database

__all__ = ["CandidateReads"]


class CandidateReads:
    """The indexed reads of a two-stage search, a mood and a fade, for ``PostgresStore``."""

    _db: Database
    dims: int

    if TYPE_CHECKING:

        def _cipher(self, conn: Connection, namespace: str, *, create: bool = False) -> Cipher: ...

    def catalog_of(self, namespace: str, ids: Sequence[str]) -> Catalog:
        wanted = list(dict.fromkeys(ids))
        with self._db.read() as conn:
            cipher = self._cipher(conn, namespace)
            # ``id`` first: its key names the rows, then the namespace confines them
            return rows.catalog(
                conn, "id = ANY(%s) AND namespace = %s", (wanted, namespace), self.dims, cipher
            )

    def around(self, namespace: str, ids: Sequence[str], span: int) -> list[str]:
        wanted, span = list(dict.fromkeys(ids)), max(span, 0)
        with self._db.read() as conn:
            found = conn.execute(
                # each seed by the id key, its session's turns by (namespace, session, seq)
                "SELECT m.rowid, m.id FROM engrams s JOIN engrams m "
                "ON m.namespace = s.namespace AND m.session = s.session "
                "AND m.seq BETWEEN s.seq - %s AND s.seq + %s "
                "WHERE s.id = ANY(%s) AND s.namespace = %s "
                "UNION SELECT rowid, id FROM engrams WHERE id = ANY(%s) AND namespace = %s "
                "ORDER BY 1",
                (span, span, wanted, namespace, wanted, namespace),
            ).fetchall()
        return [str(engram_id) for _, engram_id in found]

    def occurred_between(
        self, namespace: str, start: datetime, end: datetime, limit: int
    ) -> list[str]:
        if limit <= 0:
            return []
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT id FROM engrams WHERE namespace = %s AND occurred_at >= %s "
                "AND occurred_at < %s ORDER BY occurred_at, rowid LIMIT %s",
                (namespace, start, end, limit),
            ).fetchall()
        return [str(engram_id) for (engram_id,) in found]

    def latest_episodes(
        self, namespace: str, start: datetime, end: datetime, limit: int
    ) -> list[str]:
        if limit <= 0:
            return []
        with self._db.read() as conn:
            # (namespace, occurred_at, rowid) read backwards from ``end``
            found = conn.execute(
                "SELECT id FROM engrams WHERE namespace = %s AND occurred_at >= %s "
                "AND occurred_at <= %s AND kind = 'episode' "
                "ORDER BY occurred_at DESC, rowid DESC LIMIT %s",
                (namespace, start, end, limit),
            ).fetchall()
        return [str(engram_id) for (engram_id,) in found]

    def links_of(self, namespace: str, ids: Sequence[str]) -> list[Link]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        with self._db.read() as conn:
            # the derived end by provenance's key, the source end by provenance_source;
            # ordered as ``links`` orders a namespace's
            found = conn.execute(
                "SELECT d.id, s.id, u.relation FROM ("
                "SELECT p.derived_rowid, p.source_rowid, p.relation FROM engrams x "
                "JOIN provenance p ON p.derived_rowid = x.rowid "
                "WHERE x.id = ANY(%s) AND x.namespace = %s "
                "UNION SELECT p.derived_rowid, p.source_rowid, p.relation FROM engrams x "
                "JOIN provenance p ON p.source_rowid = x.rowid "
                "WHERE x.id = ANY(%s) AND x.namespace = %s) AS u "
                "JOIN engrams d ON d.rowid = u.derived_rowid "
                "JOIN engrams s ON s.rowid = u.source_rowid "
                "ORDER BY u.derived_rowid, u.source_rowid",
                (wanted, namespace, wanted, namespace),
            ).fetchall()
        return [Link(str(d), str(s), str(relation)) for d, s, relation in found]

    def active(self, namespace: str) -> Active:
        """The namespace's active memories as a fade weighs them: their dynamics and
        text sizes (measured by PostgreSQL, or of the opened text when sealed), in
        insertion order; no vector is read."""
        with self._db.read() as conn:
            cipher = self._cipher(conn, namespace)
            text = "text" if cipher.encrypted else "NULL"
            found = conn.execute(
                "SELECT id, occurred_at, last_recalled_at, stability_days, importance, "
                f"octet_length(text), {text} FROM engrams "
                "WHERE namespace = %s AND NOT dormant ORDER BY rowid",
                (namespace,),
            ).fetchall()
        last_used = [
            at.timestamp() if recalled is None else max(at, recalled).timestamp()
            for _, at, recalled, *_ in found
        ]
        sizes = [
            size if sealed is None else len(cipher.open(sealed, f"engrams.text:{eid}").encode())
            for eid, *_, size, sealed in found
        ]
        return Active(
            ids=tuple(str(r[0]) for r in found),
            last_used_at=np.array(last_used, dtype=np.float64),
            stability_days=np.array([float(r[3]) for r in found], dtype=np.float64),
            importance=np.array([float(r[4]) for r in found], dtype=np.float64),
            sizes=np.array(sizes, dtype=np.int64),
        )
