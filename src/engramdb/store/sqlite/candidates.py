"""What a two-stage search reads of a SqliteStore besides its indexes (docs/recall.md).

Indexed reads of a few memories at a time, each confined to one namespace:
the catalog of given ids, the turns around given memories in their sessions,
the memories whose event time falls in a window, the provenance links of
given memories, and a bounded count of the namespace. None of them reads the namespace
row by row; the loaded vector index and the cached full catalog
(``store/sqlite/cache.py``) are neither used nor changed here. Every function
runs inside the caller's snapshot.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from engramdb.clock import to_iso
from engramdb.security.crypto import Cipher
from engramdb.store.base import Catalog, Link
from engramdb.store.sqlite import dynamics, rows
from engramdb.store.sqlite.rows import chunks

__all__ = ["around", "catalog_of", "count", "latest_episodes", "links_of", "occurred_between"]

# ``+namespace`` keeps SQLite from choosing the namespace index (a scan of the
# namespace) over the unique index on ``id`` when both could serve the query.
# One query reads a candidate's row, dynamics and vector (each by its primary key).
_CATALOG = (
    "SELECT {fields}{dynamics}, v.scale, v.data FROM engrams e "
    "LEFT JOIN dynamics d ON d.engram_rowid = e.rowid "
    "LEFT JOIN vectors v ON v.engram_rowid = e.rowid "
    "WHERE e.id IN ({marks}) AND +e.namespace = ?"
)
_FIELDS = ", ".join(f"e.{name.strip()}" for name in rows.CATALOG_FIELDS.split(","))


def count(conn: sqlite3.Connection, namespace: str, limit: int) -> int:
    """The namespace's memories, counted on the (namespace, rowid) index up to ``limit``."""
    return int(
        conn.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM engrams WHERE namespace = ? LIMIT ?)",
            (namespace, max(limit, 0)),
        ).fetchone()[0]
    )


def catalog_of(
    conn: sqlite3.Connection,
    cipher: Cipher,
    namespace: str,
    ids: Sequence[str],
    *,
    dims: int,
    vectors_sealed: bool,
) -> Catalog:
    """The catalog of the memories of ``ids`` in the namespace, in rowid order."""
    found: list[tuple[Any, ...]] = []
    cursor = conn.cursor()
    cursor.row_factory = None  # plain tuples: ``rows.catalog`` reads columns by position
    for chunk in chunks(list(dict.fromkeys(ids))):
        marks = ",".join("?" * len(chunk))
        sql = _CATALOG.format(fields=_FIELDS, dynamics=dynamics.DYNAMICS_JOINED, marks=marks)
        found += cursor.execute(sql, (*chunk, namespace)).fetchall()
    found.sort(key=itemgetter(0))
    vectors = _vectors(cipher, found, dims, sealed=vectors_sealed)
    return rows.catalog(found, cipher, {}, vectors)


def _vectors(
    cipher: Cipher, found: Sequence[tuple[Any, ...]], dims: int, *, sealed: bool
) -> npt.NDArray[np.float32]:
    """The stored vectors of ``found``'s rows (their last two columns: scale and data),
    dequantised as ``store.vectors.dequantize`` does (all at once), zeros where one is
    missing."""
    blobs = [row[-1] for row in found]
    if sealed:
        blobs = [
            None if b is None else cipher.open_bytes(b, f"vectors:{row[1]}")
            for b, row in zip(blobs, found, strict=True)
        ]
    at = [i for i, b in enumerate(blobs) if b is not None and len(b) == dims]
    if not at:
        return np.zeros((len(found), dims), dtype=np.float32)
    data = b"".join(blobs[i] for i in at)
    # in place: each temporary matrix of a pool is megabytes to fault in
    matrix = np.frombuffer(data, dtype=np.int8).reshape(len(at), dims).astype(np.float32)
    matrix *= np.array([found[i][-2] for i in at], dtype=np.float32)[:, None]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix /= np.where(norms > 0, norms, np.float32(1.0))
    if len(at) == len(found):
        return matrix
    out = np.zeros((len(found), dims), dtype=np.float32)
    out[at] = matrix
    return out


def around(conn: sqlite3.Connection, namespace: str, ids: Sequence[str], span: int) -> list[str]:
    """``ids`` that exist and their session's turns within ``span``, in rowid order."""
    found: dict[int, str] = {}
    for chunk in chunks(list(dict.fromkeys(ids))):
        marks = ",".join("?" * len(chunk))
        # each seed by the id index, its session's turns by (namespace, session, seq)
        for rowid, engram_id in conn.execute(
            "SELECT m.rowid, m.id FROM engrams s JOIN engrams m "
            "ON m.namespace = s.namespace AND m.session = s.session "
            "AND m.seq BETWEEN s.seq - ? AND s.seq + ? "
            f"WHERE s.id IN ({marks}) AND +s.namespace = ? "
            "UNION SELECT rowid, id FROM engrams "
            f"WHERE id IN ({marks}) AND +namespace = ?",
            (span, span, *chunk, namespace, *chunk, namespace),
        ):
            found[int(rowid)] = engram_id
    return [found[rowid] for rowid in sorted(found)]


def occurred_between(
    conn: sqlite3.Connection, namespace: str, start: datetime, end: datetime, limit: int
) -> list[str]:
    """Up to ``limit`` memories with ``start <= occurred_at < end``, earliest first (the
    stored form sorts as time sorts: ``clock.to_iso``)."""
    rows = conn.execute(
        "SELECT id FROM engrams WHERE namespace = ? AND occurred_at >= ? AND occurred_at < ? "
        "ORDER BY occurred_at, rowid LIMIT ?",
        (namespace, to_iso(start), to_iso(end), max(limit, 0)),
    )
    return [r[0] for r in rows]


def links_of(conn: sqlite3.Connection, namespace: str, ids: Sequence[str]) -> list[Link]:
    """The provenance links with one of ``ids`` (of the namespace) at either end."""
    if conn.execute("SELECT 1 FROM provenance LIMIT 1").fetchone() is None:
        return []  # nothing consolidated: no lookup of each id at every search
    found: dict[tuple[str, str], Link] = {}
    for chunk in chunks(list(dict.fromkeys(ids))):
        marks = ",".join("?" * len(chunk))
        for end in ("derived_rowid", "source_rowid"):
            for derived, source, relation in conn.execute(
                "SELECT d.id, s.id, p.relation FROM engrams x "
                f"JOIN provenance p ON p.{end} = x.rowid "
                "JOIN engrams d ON d.rowid = p.derived_rowid "
                "JOIN engrams s ON s.rowid = p.source_rowid "
                f"WHERE x.id IN ({marks}) AND +x.namespace = ?",
                (*chunk, namespace),
            ):
                found[(derived, source)] = Link(derived, source, relation)
    return list(found.values())


def latest_episodes(
    conn: sqlite3.Connection, namespace: str, start: datetime, end: datetime, limit: int
) -> list[str]:
    """Up to ``limit`` episodes with ``start <= occurred_at <= end``, latest first: the
    (namespace, occurred_at) index read backwards from ``end``."""
    rows = conn.execute(
        "SELECT id FROM engrams WHERE namespace = ? AND occurred_at >= ? AND occurred_at <= ? "
        "AND kind = 'episode' ORDER BY occurred_at DESC, rowid DESC LIMIT ?",
        (namespace, to_iso(start), to_iso(end), max(limit, 0)),
    )
    return [r[0] for r in rows]
