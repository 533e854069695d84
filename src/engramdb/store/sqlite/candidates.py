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

import numpy as np

from engramdb.clock import to_iso
from engramdb.security.crypto import Cipher
from engramdb.store.base import Catalog, Link
from engramdb.store.sqlite import dynamics, rows
from engramdb.store.sqlite.rows import chunks

__all__ = ["around", "catalog_of", "count", "latest_episodes", "links_of", "occurred_between"]

# ``+namespace`` keeps SQLite from choosing the namespace index (a scan of the
# namespace) over the unique index on ``id`` when both could serve the query.
_COLUMNS = (
    "SELECT e.rowid, e.id, e.kind, e.session, e.seq, e.speaker, e.occurred_at, e.text, e.keys"
    f"{dynamics.DYNAMICS_JOINED} FROM engrams e LEFT JOIN dynamics d ON d.engram_rowid = e.rowid"
)


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
    found: list[sqlite3.Row] = []
    for chunk in chunks(list(dict.fromkeys(ids))):
        marks = ",".join("?" * len(chunk))
        found += conn.execute(
            f"{_COLUMNS} WHERE e.id IN ({marks}) AND +e.namespace = ?", (*chunk, namespace)
        ).fetchall()
    found.sort(key=lambda r: int(r["rowid"]))
    vectors = _vectors(conn, cipher, found, dims, sealed=vectors_sealed)
    return rows.catalog(found, cipher, {}, vectors)


def _vectors(
    conn: sqlite3.Connection,
    cipher: Cipher,
    found: Sequence[sqlite3.Row],
    dims: int,
    *,
    sealed: bool,
) -> np.ndarray:
    """The stored vectors of ``found``'s rows, dequantised as ``store.vectors.dequantize``
    does (all at once), zeros where one is missing."""
    out = np.zeros((len(found), dims), dtype=np.float32)
    position = {int(r["rowid"]): i for i, r in enumerate(found)}
    rows: list[int] = []
    scales: list[float] = []
    data: list[bytes] = []
    for chunk in chunks(list(position)):
        marks = ",".join("?" * len(chunk))
        for rowid, scale, stored in conn.execute(
            f"SELECT engram_rowid, scale, data FROM vectors WHERE engram_rowid IN ({marks})",
            chunk,
        ):
            i = position[int(rowid)]
            raw = cipher.open_bytes(stored, f"vectors:{found[i]['id']}") if sealed else stored
            if len(raw) == dims:
                rows.append(i)
                scales.append(float(scale))
                data.append(raw)
    if rows:
        quantised = np.frombuffer(b"".join(data), dtype=np.int8).reshape(len(rows), dims)
        matrix = quantised.astype(np.float32) * np.array(scales, dtype=np.float32)[:, None]
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        out[rows] = matrix / np.where(norms > 0, norms, np.float32(1.0))
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
