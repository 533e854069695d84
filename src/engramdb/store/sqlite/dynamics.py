"""Memory dynamics in a SqliteStore: the ``dynamics`` table and namespace usage.

Owns the SQL of a memory's dynamic state (docs/dynamics.md): written with the
memory, read beside it as extra columns of a query over ``engrams``, changed
by ``set_dynamics``; and each namespace's ``usage`` (its budget's bounds are
``budgets``'). The values themselves
(stability after a recall, what fades) are computed above the store, by
``engramdb.dynamics``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from engramdb.clock import from_iso, to_iso
from engramdb.model import DEFAULT_IMPORTANCE, DEFAULT_STABILITY_DAYS
from engramdb.security.crypto import Cipher
from engramdb.store.base import Active, Dynamics, DynamicState, DynamicsUpdate, EngramRecord
from engramdb.store.codec import open_emotion, seal_emotion, seconds

__all__ = [
    "DYNAMICS_COLUMNS",
    "DYNAMICS_JOINED",
    "FIELDS",
    "active",
    "catalog_dynamics",
    "fill_sizes",
    "insert",
    "state",
    "text_size",
    "unknown_sizes",
    "update",
    "usage",
]

#: A memory's dynamics, in the order of its columns in a catalog's rows.
FIELDS = (
    "stability_days",
    "importance",
    "valence",
    "arousal",
    "emotion",
    "recalls",
    "last_recalled_at",
    "dormant",
)
# A memory's dynamics as extra columns ``d_<field>``, appended to the columns of a
# query over ``engrams`` (unaliased); ``state`` reads them when present.
# (One scalar subquery per column, not json_array: SQLite's JSON prints REALs with
# 15 significant digits, and a stored float must come back exactly.)
DYNAMICS_COLUMNS = "".join(
    f", (SELECT d.{name} FROM dynamics d WHERE d.engram_rowid = engrams.rowid) AS d_{name}"
    for name in FIELDS
)
# The same columns for a query that joins ``dynamics d`` itself (many rows at once).
DYNAMICS_JOINED = "".join(f", d.{name} AS d_{name}" for name in FIELDS)


def state(row: sqlite3.Row, cipher: Cipher) -> DynamicState:
    """The row's dynamics (``DYNAMICS_COLUMNS``); the defaults where the memory has none."""
    present = "d_stability_days" in row.keys()  # noqa: SIM118 (sqlite3.Row)
    if not present or row["d_stability_days"] is None:
        return DynamicState()
    valence, arousal, emotion = open_emotion(
        cipher, row["id"], row["d_valence"], row["d_arousal"], row["d_emotion"]
    )
    recalled = row["d_last_recalled_at"]
    return DynamicState(
        stability_days=float(row["d_stability_days"]),
        importance=float(row["d_importance"]),
        valence=float(valence),
        arousal=float(arousal),
        emotion=str(emotion),
        recalls=int(row["d_recalls"]),
        last_recalled_at=None if recalled is None else from_iso(recalled),
        dormant=bool(row["d_dormant"]),
    )


def catalog_dynamics(
    columns: Sequence[Sequence[Any]],
    occurred_at: npt.NDArray[np.float64],
    texts: Sequence[str],
    ids: Sequence[str],
    cipher: Cipher,
) -> Dynamics:
    """The dynamics of a catalog's rows from their ``FIELDS`` columns (one sequence per
    field, None where a memory has no dynamics row: the defaults), what ``Dynamics.of``
    makes of each row's ``state``; ``occurred_at`` (seconds) and ``texts`` are theirs."""
    stability, importance, valence, arousal, emotion, recalls, recalled, dormant = columns
    kept = [s is not None for s in stability]
    if cipher.encrypted:
        feelings = [
            open_emotion(cipher, i, v, a, e) if k else (0.0, 0.0, "neutral")
            for k, i, v, a, e in zip(kept, ids, valence, arousal, emotion, strict=True)
        ]
        valence, arousal, emotion = zip(*feelings, strict=True) if feelings else ((), (), ())
    last_used = occurred_at.copy()
    at = [i for i, r in enumerate(recalled) if r is not None]
    if at:
        last_used[at] = np.maximum(occurred_at[at], seconds([recalled[i] for i in at]))
    if not all(kept):  # memories without a dynamics row have the defaults
        valence, arousal, emotion = (
            [v if k else d for v, k in zip(column, kept, strict=True)]
            for column, d in ((valence, 0.0), (arousal, 0.0), (emotion, "neutral"))
        )
    return Dynamics(
        stability_days=_column(stability, DEFAULT_STABILITY_DAYS, np.float64),
        importance=_column(importance, DEFAULT_IMPORTANCE, np.float64),
        valence=_column(valence, 0.0, np.float64),
        arousal=_column(arousal, 0.0, np.float64),
        emotions=tuple(map(str, emotion)),
        last_used_at=last_used,
        recalls=_column(recalls, 0, np.int64),
        dormant=_column(dormant, False, np.bool_),
        sizes=np.fromiter(map(len, map(str.encode, texts)), np.int64, len(texts)),
    )


def _column(values: Sequence[Any], default: object, dtype: type[Any]) -> npt.NDArray[Any]:
    """``values`` as an array of ``dtype``, ``default`` where None."""
    if None in values:
        values = [default if v is None else v for v in values]
    return np.array(values, dtype=dtype)


def insert(conn: sqlite3.Connection, cipher: Cipher, rowid: int, record: EngramRecord) -> None:
    """A new memory's dynamics row, as the facade computed them, with its text's size
    (the triggers count it in the namespace's ``usage``)."""
    conn.execute(
        "INSERT INTO dynamics (engram_rowid, stability_days, importance, valence, arousal, "
        "emotion, size) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            rowid,
            record.stability_days,
            record.importance,
            *seal_emotion(cipher, record.id, record.valence, record.arousal, record.emotion),
            text_size(record.text),
        ),
    )


def text_size(text: str) -> int:
    """A text's size as budgets count it: its UTF-8 bytes."""
    return len(text.encode("utf-8"))


def update(
    conn: sqlite3.Connection, rowids: Mapping[str, int], updates: Sequence[DynamicsUpdate]
) -> list[DynamicsUpdate]:
    """Apply ``updates`` to the memories of ``rowids``; those applied (the others' ids
    are not there: deleted since the recall was queued)."""
    applied: list[DynamicsUpdate] = []
    for u in updates:
        rowid = rowids.get(u.id)
        if rowid is None:
            continue
        conn.execute(
            "INSERT OR IGNORE INTO dynamics (engram_rowid, stability_days, "
            "importance) VALUES (?, ?, ?)",
            (rowid, DEFAULT_STABILITY_DAYS, DEFAULT_IMPORTANCE),
        )
        # Recalls are added to what the row holds (DynamicsUpdate.recalled): another
        # process may have written its own since this one read the row, and a count
        # written as this process saw it would lose them; the later recall time and
        # the larger stability are kept (fixed-width times sort as text).
        conn.execute(
            "UPDATE dynamics SET "
            "stability_days = CASE WHEN :recalled > 0 AND :stability IS NOT NULL "
            "THEN MAX(stability_days, :stability) "
            "ELSE COALESCE(:stability, stability_days) END, "
            "importance = COALESCE(:importance, importance), "
            "last_recalled_at = CASE WHEN :recalled > 0 AND last_recalled_at IS NOT NULL "
            "AND :last IS NOT NULL THEN MAX(last_recalled_at, :last) "
            "ELSE COALESCE(:last, last_recalled_at) END, "
            "recalls = CASE WHEN :recalled > 0 THEN recalls + :recalled "
            "ELSE COALESCE(:recalls, recalls) END, "
            "dormant = COALESCE(:dormant, dormant) "
            "WHERE engram_rowid = :rowid",
            {
                "recalled": u.recalled,
                "stability": u.stability_days,
                "importance": u.importance,
                "last": None if u.last_recalled_at is None else to_iso(u.last_recalled_at),
                "recalls": u.recalls,
                "dormant": None if u.dormant is None else int(u.dormant),
                "rowid": rowid,
            },
        )
        applied.append(u)
    return applied


def usage(conn: sqlite3.Connection, namespace: str) -> tuple[int, int | None]:
    """The namespace's active memories and their text bytes, as the triggers keep them
    (schema migration 11); bytes None while some active memory's size is unknown."""
    row = conn.execute(
        "SELECT active, active_bytes FROM usage WHERE namespace = ?", (namespace,)
    ).fetchone()
    return (0, 0) if row is None else (int(row[0]), None if row[1] is None else int(row[1]))


def unknown_sizes(conn: sqlite3.Connection, cipher: Cipher, namespace: str) -> dict[int, int]:
    """Row -> text size of the namespace's memories whose size is not stored (sealed
    texts written before sizes were kept, or a dynamics row made by ``update``)."""
    found = conn.execute(
        "SELECT e.rowid, e.id, e.text FROM engrams e JOIN dynamics d ON d.engram_rowid = e.rowid "
        "WHERE e.namespace = ? AND d.size IS NULL",
        (namespace,),
    ).fetchall()
    return {int(r[0]): text_size(cipher.open(r[2], f"engrams.text:{r[1]}")) for r in found}


def fill_sizes(conn: sqlite3.Connection, sizes: Mapping[int, int], namespace: str) -> None:
    """Store ``unknown_sizes`` and count the namespace's ``usage`` row again from them."""
    conn.executemany(
        "UPDATE dynamics SET size = ? WHERE engram_rowid = ?",
        [(size, rowid) for rowid, size in sizes.items()],
    )
    conn.execute(
        "INSERT INTO usage (namespace, active, active_bytes) "
        "SELECT ?, COALESCE(SUM(d.dormant = 0), 0), "
        "COALESCE(SUM(CASE WHEN d.dormant = 0 THEN d.size ELSE 0 END), 0) "
        "FROM engrams e JOIN dynamics d ON d.engram_rowid = e.rowid WHERE e.namespace = ? "
        "ON CONFLICT (namespace) DO UPDATE SET active = excluded.active, "
        "active_bytes = excluded.active_bytes",
        (namespace, namespace),
    )


def active(conn: sqlite3.Connection, cipher: Cipher, namespace: str) -> Active:
    """The namespace's active memories as a fade weighs them (``Store.active``): one
    pass over its rows and their dynamics, no vector; a plain text is measured by
    SQLite, a sealed one opened; the defaults where a memory has no dynamics row."""
    found = conn.execute(
        "SELECT e.id, e.occurred_at, d.last_recalled_at, d.stability_days, d.importance, "
        "CASE WHEN typeof(e.text) = 'text' THEN length(CAST(e.text AS BLOB)) END, "
        "CASE WHEN typeof(e.text) = 'text' THEN NULL ELSE e.text END "
        "FROM engrams e LEFT JOIN dynamics d ON d.engram_rowid = e.rowid "
        "WHERE e.namespace = ? AND d.dormant IS NOT 1 ORDER BY e.rowid",
        (namespace,),
    ).fetchall()
    last_used = [
        max(from_iso(r[1]).timestamp(), -np.inf if r[2] is None else from_iso(r[2]).timestamp())
        for r in found
    ]
    return Active(
        ids=tuple(r[0] for r in found),
        last_used_at=np.array(last_used, dtype=np.float64),
        stability_days=np.array(
            [DEFAULT_STABILITY_DAYS if r[3] is None else float(r[3]) for r in found]
        ),
        importance=np.array([DEFAULT_IMPORTANCE if r[4] is None else float(r[4]) for r in found]),
        sizes=np.array(
            [
                r[5]
                if r[5] is not None
                else len(cipher.open(r[6], f"engrams.text:{r[0]}").encode())
                for r in found
            ],
            dtype=np.int64,
        ),
    )
