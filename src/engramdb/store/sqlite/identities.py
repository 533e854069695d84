"""Repetition on a SqliteStore (docs/repetition.md): the ``identities`` table and its SQL.

One row per digest a memory holds (``store.identity``): the content identity of
an episode and each idempotency key a write of it carried, keyed by namespace and
digest, so finding what an add repeats is one primary-key lookup per item at any
size of namespace. The rows go with their memory (cascade), so a deleted or
erased memory's content and keys leave nothing behind, and a later add of the same
content stores it anew. In an encrypted namespace the digest is a keyed tag
(``Cipher.tag``): nothing readable, nothing a dictionary of likely sentences can
be checked against without the namespace's key.

The primary key makes a digest the namespace's once: ``claim`` runs inside the
insert's write transaction (``BEGIN IMMEDIATE``: one writer at a time), so two
processes adding the same content at once write one memory, and the later one
returns it. Namespaces written before this table existed are listed in
``identities_pending`` and filled from their rows by the first add that looks
(``fill``); of content already stored twice, the earlier memory holds it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from engramdb.clock import from_iso, to_iso
from engramdb.security.crypto import Cipher
from engramdb.store.codec import open_optional, stored_digest
from engramdb.store.identity import (
    Held,
    Repetition,
    check_key,
    content_identity,
    identity_rows,
    key_row,
)

__all__ = ["claim", "fill", "forget", "held", "pending", "renew", "repeat", "seal", "write"]

_CHUNK = 500  # digests per statement, well under SQLite's limit on parameters
_INSERT = (
    "INSERT INTO identities (namespace, tag, engram_rowid, content) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (namespace, tag) DO NOTHING"
)


def write(
    conn: sqlite3.Connection,
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
    conn.executemany(_INSERT, identity_rows(cipher, namespace, rowid, identity, key, request))


def held(
    conn: sqlite3.Connection, cipher: Cipher, namespace: str, digests: Sequence[str]
) -> dict[str, Held]:
    """The memories holding any of ``digests``, by digest (as given, not as stored)."""
    by_tag = {stored_digest(cipher, d): d for d in digests}
    tags = list(by_tag)
    found: dict[str, Held] = {}
    for start in range(0, len(tags), _CHUNK):
        chunk = tags[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        for tag, engram_id, content, repetitions, repeated_at, recorded_at in conn.execute(
            "SELECT i.tag, e.id, i.content, c.repetitions, c.repeated_at, e.recorded_at "
            "FROM identities i JOIN engrams e ON e.rowid = i.engram_rowid "
            # the content row of the same memory, for its count and last encounter
            "LEFT JOIN identities c ON c.namespace = i.namespace AND c.tag = i.content "
            "AND c.engram_rowid = i.engram_rowid "
            f"WHERE i.namespace = ? AND i.tag IN ({marks})",
            (namespace, *chunk),
        ):
            found[by_tag[tag]] = Held(
                engram_id=engram_id,
                # as the caller knows digests: a stored tag cannot be turned back into
                # its digest, but the caller's own is named when it matches
                content=by_tag.get(content, content),
                repetitions=int(repetitions or 0),
                encountered_at=from_iso(repeated_at or recorded_at),
            )
    return found


def claim(
    conn: sqlite3.Connection,
    cipher: Cipher,
    namespace: str,
    identity: str | None,
    key: str | None,
    request: str | None = None,
) -> int | None:
    """Inside an insert's transaction: the row of the memory that already holds this
    write's key or content (None: nobody; write it). A key held for other content is a
    ``ConflictError``. Found by content with a new key, the key is recorded for it."""
    if identity is None:
        return None
    content = stored_digest(cipher, identity)
    if key is not None:
        row = conn.execute(
            "SELECT engram_rowid, content FROM identities WHERE namespace = ? AND tag = ?",
            (namespace, stored_digest(cipher, key)),
        ).fetchone()
        if row is not None:
            check_key(cipher, namespace, row[1], identity, request)
            return int(row[0])
    row = conn.execute(
        "SELECT engram_rowid FROM identities WHERE namespace = ? AND tag = ?",
        (namespace, content),
    ).fetchone()
    if row is None:
        return None
    rowid = int(row[0])
    conn.execute(
        "UPDATE identities SET repetitions = repetitions + 1 WHERE namespace = ? AND tag = ?",
        (namespace, content),
    )
    if key is not None:
        write_key(conn, cipher, namespace, rowid, request or identity, key)
    return rowid


def write_key(
    conn: sqlite3.Connection,
    cipher: Cipher,
    namespace: str,
    rowid: int,
    request: str,
    key: str,
) -> None:
    """Record an idempotency key for a memory, with its request's content."""
    conn.execute(_INSERT, key_row(cipher, namespace, rowid, key, request))


def repeat(
    conn: sqlite3.Connection,
    cipher: Cipher,
    namespace: str,
    rowids: dict[str, int],
    repetitions: Sequence[Repetition],
) -> None:
    """Count each repetition and make its time the memory's last encounter; record its
    new key. Memories gone since (``rowids`` lacks them) are skipped."""
    for r in repetitions:
        rowid = rowids.get(r.engram_id)
        if rowid is None:
            continue
        conn.execute(
            "UPDATE identities SET repetitions = repetitions + 1, repeated_at = ? "
            "WHERE namespace = ? AND tag = ? AND engram_rowid = ?",
            (to_iso(r.at), namespace, stored_digest(cipher, r.content), rowid),
        )
        if r.key is not None:
            write_key(conn, cipher, namespace, rowid, r.request or r.content, r.key)


def renew(
    conn: sqlite3.Connection, cipher: Cipher, namespace: str, rowid: int, identity: str
) -> None:
    """A memory's new version: its content identity becomes the new content's (unless
    another memory holds that already); the keys it was written with stay its own."""
    conn.execute("DELETE FROM identities WHERE engram_rowid = ? AND tag = content", (rowid,))
    write(conn, cipher, namespace, rowid, identity, None)


def pending(conn: sqlite3.Connection, namespace: str) -> bool:
    """Whether the namespace's rows predate ``identities`` and are not filled yet."""
    found = conn.execute(
        "SELECT 1 FROM identities_pending WHERE namespace = ?", (namespace,)
    ).fetchone()
    return found is not None


def fill(conn: sqlite3.Connection, cipher: Cipher, namespace: str) -> int:
    """Give every episode of a pending namespace its content identity, oldest first,
    inside the caller's write; how many."""
    done = 0
    for rowid, eid, text, speaker, session, occurred_at in conn.execute(
        "SELECT rowid, id, text, speaker, session, occurred_at FROM engrams "
        "WHERE namespace = ? AND kind = 'episode' ORDER BY rowid",
        (namespace,),
    ).fetchall():
        identity = content_identity(
            cipher.open(text, f"engrams.text:{eid}"),
            open_optional(cipher, speaker, f"engrams.speaker:{eid}"),
            session,
            from_iso(occurred_at),
        )
        write(conn, cipher, namespace, int(rowid), identity, None)
        done += 1
    conn.execute("DELETE FROM identities_pending WHERE namespace = ?", (namespace,))
    return done


def forget(conn: sqlite3.Connection, namespace: str) -> None:
    """Drop what is left of a forgotten namespace here (its rows went by cascade)."""
    conn.execute("DELETE FROM identities WHERE namespace = ?", (namespace,))
    conn.execute("DELETE FROM identities_pending WHERE namespace = ?", (namespace,))


def seal(conn: sqlite3.Connection, cipher_of: Callable[[str], Cipher]) -> None:
    """Encryption in place: every stored digest becomes its keyed tag (the digests of a
    plaintext store are the digests themselves, so no content is read)."""
    for namespace, tag, content in conn.execute(
        "SELECT namespace, tag, content FROM identities"
    ).fetchall():
        c = cipher_of(namespace)
        conn.execute(
            "UPDATE identities SET tag = ?, content = ? WHERE namespace = ? AND tag = ?",
            (c.tag(tag), c.tag(content), namespace, tag),
        )
