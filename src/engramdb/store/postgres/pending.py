"""Memories a PostgresStore holds without their vector (docs/write-path.md).

A memory written with ``EngramRecord.vector`` empty has no ``embedding`` (NULL)
and a row of ``vectors_pending`` (schema migration 8) that says whether the
caller gave its importance and emotion (``rows.insert``); writing a vector for
it, by ``set_vectors`` or by an ``update`` (``rows.new_version``), removes the
row, and a delete takes it along (foreign key). This module owns the reads of
that table (the oldest pending memories) and the write of an arrival: the vector
and what is derived from it, in the caller's transaction. Which values those
are is the background embedder's business (``engramdb.catchup``), not the
store's.

Several processes may embed the same pending memory at once (each server runs
its own catch-up): the first arrival to commit deletes the row, the others find
it gone (the delete waits on the first's lock, then matches nothing) and write
nothing, so the stored vector is the first's.
"""

from __future__ import annotations

from engramdb.security.crypto import Cipher
from engramdb.store.base import PendingVector, VectorArrival
from engramdb.store.codec import seal_emotion
from engramdb.store.postgres import rows
from engramdb.store.postgres.database import Connection

__all__ = ["arrive", "count", "oldest"]

_COLUMNS = ", ".join(f"e.{c}" for c in rows.ENGRAM_COLUMNS.split(", "))


def oldest(conn: Connection, limit: int, cipher_of: rows.CipherOf) -> list[PendingVector]:
    """Up to ``limit`` pending memories of every namespace, in the order written."""
    found = conn.execute(
        f"SELECT {_COLUMNS}, p.importance_given, p.emotion_given "
        "FROM vectors_pending p JOIN engrams e ON e.rowid = p.engram_rowid "
        "ORDER BY p.engram_rowid LIMIT %s",
        (limit,),
    ).fetchall()
    return [
        PendingVector(
            rows.engram(row[:-2], cipher_of),
            importance_given=bool(row[-2]),
            emotion_given=bool(row[-1]),
        )
        for row in found
    ]


def count(conn: Connection, namespace: str) -> int:
    """How many of the namespace's memories are pending."""
    row = conn.execute(
        "SELECT count(*) FROM vectors_pending p JOIN engrams e ON e.rowid = p.engram_rowid "
        "WHERE e.namespace = %s",
        (namespace,),
    ).fetchone()
    return 0 if row is None else int(row[0])


def arrive(
    conn: Connection, namespace: str, arrival: VectorArrival, cipher: Cipher, *, seal_vectors: bool
) -> bool:
    """Write a pending memory's vector and the values derived from it, sealed in an
    encrypted store as ``rows.insert`` seals them; False (nothing written) when the
    namespace holds no such memory still pending: deleted, or updated with its vector
    since."""
    gone = conn.execute(
        "DELETE FROM vectors_pending p USING engrams e WHERE p.engram_rowid = e.rowid "
        "AND e.namespace = %s AND e.id = %s RETURNING p.engram_rowid",
        (namespace, arrival.id),
    ).fetchone()
    if gone is None:
        return False
    emotion = arrival.emotion is not None
    valence, arousal, label = seal_emotion(
        cipher, arrival.id, arrival.valence, arrival.arousal, arrival.emotion or ""
    )
    conn.execute(
        "UPDATE engrams SET embedding = %s, sealed_vector = %s, model_id = %s, "
        "importance = coalesce(%s, importance), stability_days = coalesce(%s, stability_days), "
        "emotion = CASE WHEN %s THEN %s ELSE emotion END, "
        "valence = CASE WHEN %s THEN %s ELSE valence END, "
        "arousal = CASE WHEN %s THEN %s ELSE arousal END "
        "WHERE rowid = %s",
        (
            *rows.stored_vector(cipher, arrival.id, arrival.vector, seal_vectors),
            arrival.model_id,
            arrival.importance,
            arrival.stability_days,
            emotion,
            label,
            emotion,
            valence,
            emotion,
            arousal,
            gone[0],
        ),
    )
    return True
