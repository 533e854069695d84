"""The lexical index of a SqliteStore: one FTS5 table, ``engram_fts``, shared by namespaces.

Owns the FTS5 SQL: a memory's index row (its words, or in an encrypted store
their blind tokens), the BM25 query confined to one namespace by a token of
its own inside the index, rebuilding the index from the ``engrams`` table, and
FTS5's own housekeeping (merging segments, its integrity check). Every
function runs inside the caller's transaction or snapshot; which words a
memory is indexed under (its text and index keys) is decided above the store.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence

from engramdb.security.crypto import Cipher
from engramdb.store.base import Candidate

__all__ = [
    "check_integrity",
    "index_text",
    "namespace_token",
    "optimize",
    "refill",
    "reindex",
    "row_counts",
    "search",
    "unindex",
]


def namespace_token(namespace: str) -> str:
    """The single FTS token that marks a namespace's rows inside the shared index."""
    return "ns" + hashlib.sha256(namespace.encode()).hexdigest()[:24]


def _fts_query(namespace: str, terms: Sequence[str]) -> str:
    # Terms are quoted, so FTS5 operators and punctuation in them are inert.
    # NUL is dropped: FTS5's query parser stops at it and reports "unterminated
    # string" (conformance check_special_characters_inert).
    quoted = " OR ".join('"' + term.replace("\x00", "").replace('"', '""') + '"' for term in terms)
    return f'ns : "{namespace_token(namespace)}" AND {{text keys}} : ({quoted})'


def search(
    conn: sqlite3.Connection, cipher: Cipher, namespace: str, terms: Sequence[str], limit: int
) -> list[Candidate]:
    """Memories of ``namespace`` matching any of ``terms``, best BM25 first."""
    if not terms or limit <= 0:
        return []
    blinded = cipher.blind_terms(list(terms))
    if not blinded:
        return []
    rows = conn.execute(
        "SELECT e.id, bm25(engram_fts, 0.0, 1.0, 0.6) AS rank FROM engram_fts "
        "JOIN engrams e ON e.rowid = engram_fts.rowid "
        "WHERE engram_fts MATCH ? ORDER BY rank LIMIT ?",
        (_fts_query(namespace, blinded), limit),
    ).fetchall()
    return [Candidate(r["id"], -float(r["rank"])) for r in rows]


def index_text(
    conn: sqlite3.Connection,
    cipher: Cipher,
    rowid: int,
    namespace: str,
    text: str,
    keys: str,
    *,
    replace: bool = False,
) -> None:
    """Write the memory's lexical index row: its words, or their blind tokens."""
    if replace:
        conn.execute("DELETE FROM engram_fts WHERE rowid = ?", (rowid,))
    conn.execute(
        "INSERT INTO engram_fts (rowid, ns, text, keys) VALUES (?, ?, ?, ?)",
        (rowid, namespace_token(namespace), cipher.blind(text), cipher.blind(keys)),
    )


def unindex(conn: sqlite3.Connection, rowids: Sequence[int]) -> None:
    """Remove the index rows of memories about to be deleted."""
    conn.executemany("DELETE FROM engram_fts WHERE rowid = ?", [(r,) for r in rowids])


def reindex(
    conn: sqlite3.Connection, cipher_of: Callable[[str], Cipher], namespace: str | None
) -> int:
    """Rebuild the index rows of one namespace (or all) from ``engrams``; how many."""
    if namespace is None:
        conn.execute("DELETE FROM engram_fts")
        rows = conn.execute("SELECT rowid, id, namespace, text, keys FROM engrams")
    else:
        conn.execute(
            "DELETE FROM engram_fts WHERE rowid IN (SELECT rowid FROM engrams WHERE namespace = ?)",
            (namespace,),
        )
        rows = conn.execute(
            "SELECT rowid, id, namespace, text, keys FROM engrams WHERE namespace = ?",
            (namespace,),
        )
    return refill(
        conn,
        (
            (
                rowid,
                ns,
                cipher_of(ns).open(text, f"engrams.text:{eid}"),
                cipher_of(ns).open(keys, f"engrams.keys:{eid}"),
            )
            for rowid, eid, ns, text, keys in rows.fetchall()
        ),
        cipher_of,
    )


def refill(
    conn: sqlite3.Connection,
    rows: Iterable[tuple[int, str, str, str]],
    cipher_of: Callable[[str], Cipher],
) -> int:
    """Index ``rows`` (rowid, namespace, text, keys; plaintext) after their FTS rows
    were deleted, then merge the segments; the number of rows indexed.

    DELETE removes index entries by re-tokenising FTS5's stored copy of each
    row, so an index that no longer matches that copy (the damage ``check()``
    reports as "lexical index: ...") keeps stray entries; 'rebuild' first
    resets the index from the rows that remain.
    """
    conn.execute("INSERT INTO engram_fts (engram_fts) VALUES ('rebuild')")
    count = 0
    for rowid, namespace, text, keys in rows:
        index_text(conn, cipher_of(namespace), rowid, namespace, text, keys)
        count += 1
    optimize(conn)
    return count


def optimize(conn: sqlite3.Connection) -> None:
    """Merge the index's segments into one: deleted rows' tokens are gone from the file
    only then (SQLite 3.40 has no FTS5 secure-delete; docs/security.md)."""
    conn.execute("INSERT INTO engram_fts (engram_fts) VALUES ('optimize')")


def check_integrity(conn: sqlite3.Connection) -> None:
    """FTS5's own check of the index against its rows; raises when they disagree.
    SQLite counts it as a write: it needs a write transaction."""
    conn.execute("INSERT INTO engram_fts (engram_fts, rank) VALUES ('integrity-check', 0)")


def row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Index rows per namespace token (``namespace_token``)."""
    return dict(conn.execute("SELECT ns, COUNT(*) FROM engram_fts GROUP BY ns").fetchall())
