"""Repetition on a PostgresStore (docs/repetition.md): the ``identities`` table and its SQL.

The PostgreSQL form of ``store/sqlite/identities.py``: one row per digest a
memory holds (``store.identity``: an episode's content identity and each
idempotency key a write of it carried), keyed by namespace and digest, going
with its memory (``ON DELETE CASCADE``), so a deleted or erased memory's
content and keys leave nothing behind.

What differs is how two writers are kept to one memory. SQLite has one writer
at a time; PostgreSQL runs writes side by side, and under READ COMMITTED two
inserts of the same content would each find nothing and each store it. So an
insert first takes a transaction advisory lock on each digest it carries
(``lock``, in sorted order, so that two batches never wait on each other in a
cycle): the second writer waits until the first commits, then finds its row
and returns that memory. Namespaces written before this table existed are
listed in ``identities_pending`` and filled from their rows by the first add
that looks (``fill``); of content already stored twice, the earlier memory
holds it.

In an encrypted namespace every digest is stored as a keyed tag
(``Cipher.tag``, as in the SQLite store): nothing readable, nothing a
dictionary of likely sentences can be hashed and looked for in. The advisory
locks name the digest, which never leaves the database session.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from engramdb.security.crypto import Cipher
from engramdb.store.codec import stored_digest
from engramdb.store.identity import (
    Held,
    Repetition,
    check_key,
    content_identity,
    identity_rows,
    key_row,
)
from engramdb.store.postgres.database import Connection

__all__ = [
    "claim",
    "fill",
    "forget",
    "held",
    "lock",
    "pending",
    "present",
    "renew",
    "repeat",
    "write",
    "write_all",
]

_INSERT = (
    "INSERT INTO identities (namespace, tag, engram_rowid, content) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (namespace, tag) DO NOTHING"
)


def lock(conn: Connection, schema: str, namespace: str, digests: Iterable[str | None]) -> None:
    """Hold, until the transaction ends, a lock on each of ``digests`` in the namespace:
    a writer of the same content or key waits here until this one commits. Two
    digests that share a lock key only wait on each other (it is a 64-bit hash). One
    statement takes them in sorted order (``unnest`` yields the array in its order)."""
    keys = sorted({f"{schema}\n{namespace}\n{d}" for d in digests if d is not None})
    if keys:
        conn.execute(
            "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) "
            "FROM unnest(%s::text[]) AS k",
            (keys,),
        )


def write(
    conn: Connection,
    cipher: Cipher,
    namespace: str,
    rowid: int,
    identity: str | None,
    key: str | None,
    request: str | None = None,
) -> None:
    """Record a new memory's content identity and idempotency key (with the content
    of the request it came with); a digest the namespace holds already stays with
    its memory."""
    write_all(conn, [(cipher, namespace, rowid, identity, key, request)])


#: What ``write_all`` records of a memory: (cipher, namespace, row, identity, key, request).
Written = tuple[Cipher, str, int, str | None, str | None, str | None]


def write_all(conn: Connection, memories: Iterable[Written]) -> None:
    """``write`` for many memories, in one statement."""
    namespaces: list[str] = []
    tags: list[str] = []
    rowids: list[int] = []
    contents: list[str] = []
    for cipher, namespace, rowid, identity, key, request in memories:
        for ns, tag, row, content in identity_rows(
            cipher, namespace, rowid, identity, key, request
        ):
            namespaces.append(ns)
            tags.append(tag)
            rowids.append(row)
            contents.append(content)
    if tags:  # in order: of two rows for one digest the first stays
        conn.execute(
            "INSERT INTO identities (namespace, tag, engram_rowid, content) "
            "SELECT * FROM unnest(%b::text[], %b::text[], %b::bigint[], %b::text[]) "
            "ON CONFLICT (namespace, tag) DO NOTHING",
            (namespaces, tags, rowids, contents),
        )


def present(conn: Connection, cipher: Cipher, namespace: str, digests: Iterable[str]) -> set[str]:
    """Which of ``digests`` the namespace holds: a write carrying none of them has
    nothing to ``claim``."""
    by_tag = {stored_digest(cipher, d): d for d in digests}
    found = conn.execute(
        "SELECT tag FROM identities WHERE namespace = %s AND tag = ANY(%s)",
        (namespace, list(by_tag)),
    )
    return {by_tag[str(tag)] for (tag,) in found}


def held(
    conn: Connection, cipher: Cipher, namespace: str, digests: Sequence[str]
) -> dict[str, Held]:
    """The memories holding any of ``digests``, by digest."""
    by_tag = {stored_digest(cipher, d): d for d in digests}
    found = conn.execute(
        "SELECT i.tag, e.id, i.content, c.repetitions, coalesce(c.repeated_at, e.recorded_at) "
        "FROM identities i JOIN engrams e ON e.rowid = i.engram_rowid "
        # the content row of the same memory, for its count and last encounter
        "LEFT JOIN identities c ON c.namespace = i.namespace AND c.tag = i.content "
        "AND c.engram_rowid = i.engram_rowid "
        "WHERE i.namespace = %s AND i.tag = ANY(%s)",
        (namespace, list(by_tag)),
    )
    return {
        by_tag[str(tag)]: Held(
            engram_id=str(engram_id),
            # as the caller knows digests: a tag cannot be turned back into its digest
            content=by_tag.get(str(content), str(content)),
            repetitions=int(repetitions or 0),
            encountered_at=encountered_at,
        )
        for tag, engram_id, content, repetitions, encountered_at in found
    }


def claim(
    conn: Connection,
    cipher: Cipher,
    namespace: str,
    identity: str | None,
    key: str | None,
    request: str | None = None,
) -> int | None:
    """Inside an insert's transaction, with ``lock`` held on the write's digests: the
    row of the memory that already holds its key or content (None: nobody; write
    it). A key held for other content is a ``ConflictError``. Found by content with
    a new key, the key is recorded for it."""
    if identity is None:
        return None
    if key is not None:
        row = conn.execute(
            "SELECT engram_rowid, content FROM identities WHERE namespace = %s AND tag = %s",
            (namespace, stored_digest(cipher, key)),
        ).fetchone()
        if row is not None:
            check_key(cipher, namespace, row[1], identity, request)
            return int(row[0])
    row = conn.execute(
        "UPDATE identities SET repetitions = repetitions + 1 "
        "WHERE namespace = %s AND tag = %s RETURNING engram_rowid",
        (namespace, stored_digest(cipher, identity)),
    ).fetchone()
    if row is None:
        return None
    rowid = int(row[0])
    if key is not None:
        conn.execute(_INSERT, key_row(cipher, namespace, rowid, key, request or identity))
    return rowid


def repeat(
    conn: Connection,
    cipher: Cipher,
    namespace: str,
    rowids: Mapping[str, int],
    repetitions: Sequence[Repetition],
) -> None:
    """Count each repetition and make its time the memory's last encounter; record its
    new key. Memories gone since (``rowids`` lacks them) are skipped."""
    for r in repetitions:
        rowid = rowids.get(r.engram_id)
        if rowid is None:
            continue
        conn.execute(
            "UPDATE identities SET repetitions = repetitions + 1, repeated_at = %s "
            "WHERE namespace = %s AND tag = %s AND engram_rowid = %s",
            (r.at, namespace, stored_digest(cipher, r.content), rowid),
        )
        if r.key is not None:
            conn.execute(_INSERT, key_row(cipher, namespace, rowid, r.key, r.request or r.content))


def renew(conn: Connection, cipher: Cipher, namespace: str, rowid: int, identity: str) -> None:
    """A memory's new version: its content identity becomes the new content's (unless
    another memory holds that already); the keys it was written with stay its own."""
    conn.execute("DELETE FROM identities WHERE engram_rowid = %s AND tag = content", (rowid,))
    write(conn, cipher, namespace, rowid, identity, None)


def pending(conn: Connection, namespace: str) -> bool:
    """Whether the namespace's rows predate ``identities`` and are not filled yet."""
    found = conn.execute(
        "SELECT 1 FROM identities_pending WHERE namespace = %s", (namespace,)
    ).fetchone()
    return found is not None


def fill(conn: Connection, cipher: Cipher, namespace: str) -> int:
    """Give every episode of a pending namespace its content identity, oldest first,
    inside the caller's write; how many."""
    found = conn.execute(
        "SELECT rowid, id, text, speaker, session, occurred_at FROM engrams "
        "WHERE namespace = %s AND kind = 'episode' ORDER BY rowid",
        (namespace,),
    ).fetchall()
    for rowid, eid, text, speaker, session, occurred_at in found:
        text = cipher.open(text, f"engrams.text:{eid}")
        speaker = None if speaker is None else cipher.open(speaker, f"engrams.speaker:{eid}")
        identity = content_identity(text, speaker, session, occurred_at)
        write(conn, cipher, namespace, int(rowid), identity, None)
    conn.execute("DELETE FROM identities_pending WHERE namespace = %s", (namespace,))
    return len(found)


def forget(conn: Connection, namespace: str) -> None:
    """Drop what is left of a forgotten namespace here (its rows went by cascade)."""
    conn.execute("DELETE FROM identities WHERE namespace = %s", (namespace,))
    conn.execute("DELETE FROM identities_pending WHERE namespace = %s", (namespace,))
