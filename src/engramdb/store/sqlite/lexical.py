"""The lexical index of a SqliteStore: one FTS5 table, ``engram_fts``, shared by namespaces.

Owns the FTS5 SQL: a memory's index row (its words, or in an encrypted store
their blind tokens), the search of one namespace confined by a token of its
own inside the index, rebuilding the index from the ``engrams`` table, and
FTS5's own housekeeping (merging segments, its integrity check). Every
function runs inside the caller's transaction or snapshot; which words a
memory is indexed under (its text and index keys) is decided above the store.

A search reads a bounded number of postings whatever the namespace's size
(docs/recall.md, "Lexical seeds"): FTS5's BM25 scores every row that holds
any query term and counts each term's rows again for its weight, so an OR of
common words costs a scan of most of a large namespace. Here each term's
postings in the namespace are read up to ``COMMON`` rows: a term held by
fewer is *rare* and weighs by how rare it is; one held by more is *common*
and counts only where a memory holds every term of the query, which FTS5
finds by stepping through the rarest postings.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from engramdb.security.crypto import Cipher
from engramdb.store.base import Candidate

__all__ = [
    "COMMON",
    "CONJUNCTION",
    "MAX_TERMS",
    "check_integrity",
    "index_text",
    "levels",
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


#: A term held by more rows of the index than this is *common*: a search reads no
#: more of its postings than this, so it costs the same in any size of store
#: (docs/recall.md, "Lexical seeds"; BENCHMARKS.md, "Scale").
COMMON = 1_000
#: How many of the rarest terms a memory must hold together to count a common one.
CONJUNCTION = 3
#: The most query terms a search reads (a pasted paragraph keeps its first words).
MAX_TERMS = 16
# The chunk of candidate rows looked up at once for their ids and namespace.
_CHUNK = 500

_POSTINGS = "SELECT rowid FROM engram_fts WHERE engram_fts MATCH ?"
_REACH = (
    "SELECT count(*), max(rowid) FROM "
    "(SELECT rowid FROM engram_fts WHERE engram_fts MATCH ? LIMIT ?)"
)
_NEWEST = "SELECT rowid FROM engram_fts WHERE engram_fts MATCH ? ORDER BY rowid DESC LIMIT ?"


@dataclass(frozen=True, slots=True)
class _Term:
    """A query term as the index holds it, and the first of its postings."""

    phrase: str
    rowids: list[int]  # the rows holding it; none read for a common term
    rows: float  # how many: exact for a rare term, estimated for a common one

    @property
    def common(self) -> bool:
        return self.rows > COMMON


def search(
    conn: sqlite3.Connection, cipher: Cipher, namespace: str, terms: Sequence[str], limit: int
) -> list[Candidate]:
    """Memories of ``namespace`` holding ``terms``, best first (docs/recall.md).

    A memory scores the BM25 weight (inverse document frequency over the
    whole index) of each rare term it holds; a common one counts only in the
    memories that hold it together with the rarest terms of the query, which
    FTS5 finds by stepping through the rarest postings. FTS5's own ``bm25()``
    is not used: it scores every row holding any term and counts each term's
    rows, the namespace's token among them, so it reads most of a large
    namespace for a query of common words.
    """
    if not terms or limit <= 0:
        return []
    phrases = list(dict.fromkeys(cipher.blind_terms(list(terms))))[:MAX_TERMS]
    if not phrases:
        return []
    size = float(conn.execute("SELECT max(rowid) FROM engrams").fetchone()[0] or 0)
    found = sorted(
        (term for term in (_read(conn, phrase, size) for phrase in phrases) if term.rows),
        key=lambda term: term.rows,
    )
    if not found:
        return []
    score: dict[int, float] = {}
    for term in found:
        if term.common:
            break
        weight = _weight(term.rows, size)
        for rowid in term.rowids:
            score[rowid] = score.get(rowid, 0.0) + weight
    rarest = found[:CONJUNCTION]
    if rarest[-1].common:
        weight = sum(_weight(term.rows, size) for term in rarest if term.common)
        if rarest[0].common:  # common terms only: the namespace's newest rows holding them
            every, most = _every(rarest, namespace), limit
        else:  # FTS5 steps through the rare term's rows, no more than COMMON
            every, most = _every(rarest), COMMON
        for (rowid,) in conn.execute(_NEWEST, (every, most)):
            score[rowid] = score.get(rowid, 0.0) + weight
    return _of_namespace(conn, namespace, score, limit)


def _read(conn: sqlite3.Connection, phrase: str, size: float) -> _Term:
    """How many rows hold ``phrase`` and, when it is rare, which (counted in SQLite up
    to ``COMMON + 1``, a third of the cost of reading them here)."""
    match = _every([phrase])
    held, reach = conn.execute(_REACH, (match, COMMON + 1)).fetchone()
    if held <= COMMON:
        return _Term(phrase, [r[0] for r in conn.execute(_POSTINGS, (match,))], float(held))
    # Its first rows (index order) were met by rowid ``reach``: about as many again in
    # each such stretch of the index.
    return _Term(phrase, [], max(held * size / max(reach, 1), float(held)))


def _weight(rows: float, size: float) -> float:
    """BM25's inverse document frequency of a term held by ``rows`` of ``size`` rows."""
    return math.log(1.0 + (max(size, rows) - rows + 0.5) / (rows + 0.5))


def _quoted(phrase: str) -> str:
    # Terms are quoted, so FTS5 operators and punctuation in them are inert.
    # NUL is dropped: FTS5's query parser stops at it and reports "unterminated
    # string" (conformance check_special_characters_inert).
    return '"' + phrase.replace("\x00", "").replace('"', '""') + '"'


def _every(terms: Sequence[_Term] | Sequence[str], namespace: str | None = None) -> str:
    """The FTS5 query for the rows holding every one of ``terms`` in their text or keys
    (and, given a namespace, its token: FTS5 then steps through its rows too)."""
    phrases = [t if isinstance(t, str) else t.phrase for t in terms]
    every = "{text keys} : (" + " AND ".join(_quoted(phrase) for phrase in phrases) + ")"
    return every if namespace is None else f'ns : "{namespace_token(namespace)}" AND {every}'


def _of_namespace(
    conn: sqlite3.Connection, namespace: str, score: dict[int, float], limit: int
) -> list[Candidate]:
    """The best ``limit`` of the scored rows that belong to ``namespace``, with their ids.

    The postings read are the whole index's, so the namespace is checked here,
    best first, a chunk at a time: a store of one namespace looks up no more
    than ``limit`` rows."""
    ranked = sorted(score.items(), key=lambda item: (-item[1], -item[0]))
    out: list[Candidate] = []
    for start in range(0, len(ranked), _CHUNK):
        chunk = ranked[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        ids = dict(
            conn.execute(
                f"SELECT rowid, id FROM engrams WHERE rowid IN ({marks}) AND +namespace = ?",
                (*(rowid for rowid, _ in chunk), namespace),
            ).fetchall()
        )
        out += [Candidate(ids[rowid], value) for rowid, value in chunk if rowid in ids]
        if len(out) >= limit:
            break
    return out[:limit]


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


#: Levels of FTS5's index past which ``optimize`` rebuilds it (FTS5 refuses past 2,000).
MAX_LEVELS = 1_000


def optimize(conn: sqlite3.Connection) -> None:
    """Merge the index's segments into one: deleted rows' tokens are gone from the file
    only then (SQLite 3.40 has no FTS5 secure-delete; docs/security.md).

    SQLite 3.40's FTS5 puts what 'optimize' merges on a new level above the
    highest once the index outgrows a few pages, so the levels grow with each
    erasure (two at a few hundred memories), and past 2,000 it no longer opens
    the index ("vtable constructor failed", a malformed database): a store that
    had erased some 1,000 times could write no more (found by bench/soak.py).
    Past ``MAX_LEVELS`` the index is rebuilt from its rows, which leaves one
    level and no erased token (docs/reliability.md, "Damage").
    """
    conn.execute("INSERT INTO engram_fts (engram_fts) VALUES ('optimize')")
    if levels(conn) > MAX_LEVELS:
        conn.execute("INSERT INTO engram_fts (engram_fts) VALUES ('rebuild')")


def levels(conn: sqlite3.Connection) -> int:
    """How many levels the index's structure record lists: after its 4-byte cookie,
    a varint (FTS5's fts5_index.c, "Fts5Structure"); 0 for an empty index."""
    row = conn.execute("SELECT block FROM engram_fts_data WHERE id = 10").fetchone()
    if row is None or len(row[0]) < 5:
        return 0
    value = 0
    for byte in bytes(row[0][4:13]):
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    return value


def check_integrity(conn: sqlite3.Connection) -> None:
    """FTS5's own check of the index against its rows; raises when they disagree.
    SQLite counts it as a write: it needs a write transaction."""
    conn.execute("INSERT INTO engram_fts (engram_fts, rank) VALUES ('integrity-check', 0)")


def row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Index rows per namespace token (``namespace_token``)."""
    return dict(conn.execute("SELECT ns, COUNT(*) FROM engram_fts GROUP BY ns").fetchall())
