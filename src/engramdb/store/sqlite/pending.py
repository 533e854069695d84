"""Memories a SqliteStore holds without their vector (docs/write-path.md).

A memory written with ``EngramRecord.vector`` None gets a row of
``vectors_pending`` (schema migration 15) instead of a ``vectors`` row
(``rows.insert``); writing a vector for it, by ``set_vectors`` or by an
``update``, removes the row (``rows.write_vector``), and a delete takes it along
(foreign key). This module owns the reads of that table (the oldest pending
memories) and the write of an arrival: the vector and what is derived from it,
in the caller's transaction. Which values those are is the background
embedder's business (``engramdb.catchup``), not the store's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from engramdb.security.crypto import Cipher
from engramdb.store.base import PendingVector, VectorArrival
from engramdb.store.codec import seal_emotion
from engramdb.store.sqlite import rows

__all__ = ["arrive", "oldest", "rowid_of"]


def oldest(
    conn: sqlite3.Connection, cipher_of: Callable[[str], Cipher], limit: int
) -> list[PendingVector]:
    """Up to ``limit`` pending memories of every namespace, in the order written."""
    found = conn.execute(
        "SELECT p.engram_rowid, e.namespace, p.importance_given, p.emotion_given "
        "FROM vectors_pending p JOIN engrams e ON e.rowid = p.engram_rowid "
        "ORDER BY p.engram_rowid LIMIT ?",
        (limit,),
    ).fetchall()
    return [
        PendingVector(
            rows.by_rowid(conn, cipher_of(namespace), int(rowid)),
            importance_given=bool(importance_given),
            emotion_given=bool(emotion_given),
        )
        for rowid, namespace, importance_given, emotion_given in found
    ]


def rowid_of(conn: sqlite3.Connection, namespace: str, engram_id: str) -> int | None:
    """The rowid of a memory of the namespace that is still pending, else None."""
    row = conn.execute(
        "SELECT e.rowid FROM engrams e JOIN vectors_pending p ON p.engram_rowid = e.rowid "
        "WHERE e.namespace = ? AND e.id = ?",
        (namespace, engram_id),
    ).fetchone()
    return None if row is None else int(row[0])


def arrive(
    conn: sqlite3.Connection,
    cipher: Cipher,
    rowid: int,
    arrival: VectorArrival,
    *,
    seal_vectors: bool,
) -> None:
    """Write a pending memory's vector and the values derived from it."""
    rows.write_vector(
        conn, cipher, rowid, arrival.id, arrival.vector, arrival.model_id, seal_vectors
    )
    conn.execute(
        "UPDATE dynamics SET importance = COALESCE(?, importance), "
        "stability_days = COALESCE(?, stability_days) WHERE engram_rowid = ?",
        (arrival.importance, arrival.stability_days, rowid),
    )
    if arrival.emotion is None:
        return
    emotion = seal_emotion(cipher, arrival.id, arrival.valence, arrival.arousal, arrival.emotion)
    conn.execute(
        "UPDATE dynamics SET valence = ?, arousal = ?, emotion = ? WHERE engram_rowid = ?",
        (*emotion, rowid),
    )
