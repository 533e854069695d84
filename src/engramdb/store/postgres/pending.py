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

Several processes share the catch-up (each server runs its own): each claims
its round (``claim``), in a short transaction that takes the oldest pending rows
no other process holds (``FOR UPDATE SKIP LOCKED``, so two claims at once never
take the same row) and stamps them ``claimed_until`` a lease from now. A claim
stands until its memories arrive (the rows go) or the lease runs out: a process
killed mid-round leaves its rows to whoever claims after the lease. Should two
processes still embed the same memory (a round that outlived its lease, or
``pending_vectors`` read without a claim), the first arrival to commit deletes
the row, the others find it gone (the delete waits on the first's lock, then
matches nothing) and write nothing, so the stored vector is the first's.
"""

from __future__ import annotations

from collections.abc import Sequence

from engramdb.security.crypto import Cipher
from engramdb.store.base import PendingVector, VectorArrival
from engramdb.store.codec import seal_emotion
from engramdb.store.postgres import rows
from engramdb.store.postgres.database import Connection

__all__ = ["arrive", "claim", "count", "oldest", "release"]

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


def claim(
    conn: Connection, limit: int, lease_s: float, cipher_of: rows.CipherOf
) -> list[PendingVector]:
    """Claim up to ``limit`` of the oldest pending memories that no live claim holds,
    for ``lease_s`` seconds from now (database time), and return them in the order
    written. Run in a transaction of its own, committed before the embedding starts."""
    found = conn.execute(
        "WITH taken AS (SELECT engram_rowid FROM vectors_pending "
        "WHERE claimed_until IS NULL OR claimed_until < clock_timestamp() "
        "ORDER BY engram_rowid LIMIT %s FOR UPDATE SKIP LOCKED), "
        "claimed AS (UPDATE vectors_pending p "
        "SET claimed_until = clock_timestamp() + make_interval(secs => %s) "
        "FROM taken WHERE p.engram_rowid = taken.engram_rowid "
        "RETURNING p.engram_rowid, p.importance_given, p.emotion_given) "
        f"SELECT {_COLUMNS}, c.importance_given, c.emotion_given "
        "FROM claimed c JOIN engrams e ON e.rowid = c.engram_rowid ORDER BY c.engram_rowid",
        (limit, lease_s),
    ).fetchall()
    return [
        PendingVector(
            rows.engram(row[:-2], cipher_of),
            importance_given=bool(row[-2]),
            emotion_given=bool(row[-1]),
        )
        for row in found
    ]


def release(conn: Connection, ids: Sequence[str]) -> None:
    """End the claims on the pending memories ``ids``: the next claim takes them."""
    conn.execute(
        "UPDATE vectors_pending p SET claimed_until = NULL FROM engrams e "
        "WHERE e.rowid = p.engram_rowid AND e.id = ANY(%s)",
        (list(ids),),
    )


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
