"""The lexical index of a SqliteStore: one FTS5 table, ``engram_fts``, shared by namespaces.

Owns the FTS5 SQL: a memory's index row (its words, or in an encrypted store
their blind tokens), the search of one namespace confined by a token of its
own inside the index, rebuilding the index from the ``engrams`` table, and
FTS5's own housekeeping (merging segments, its integrity check). Every
function runs inside the caller's transaction or snapshot; which words a
memory is indexed under (its text and index keys) is decided above the store.

A search reads a bounded number of rows whatever the store's size
(docs/recall.md, "Lexical seeds"): FTS5's ``bm25()`` scores every row that
holds any query term and counts each term's rows again for its weight, so an
OR of common words costs a scan of most of a large namespace. Here a term's
rows are read newest first up to ``COMMON``: a term held by fewer is *rare*
and all its rows are scored; one held by more is *common*, its newest rows are
scored and its weight is estimated from how far back they reach; and the
memories holding the query's rarest terms together are found wherever they
are. Rows are read from the whole index and kept to the namespace afterwards,
so a term's rarity is judged over the store.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import numpy.typing as npt

from engramdb.filters import Filter
from engramdb.security.crypto import Cipher
from engramdb.store import lexrank
from engramdb.store.base import Candidate
from engramdb.store.lexrank import COMMON, CONJUNCTION
from engramdb.store.sqlite import fields

__all__ = [
    "COMMON",
    "CONJUNCTION",
    "MAX_TERMS",
    "Walk",
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


#: The most query terms a search reads (a pasted paragraph keeps its first words).
MAX_TERMS = 16
# Candidate rows looked up at once for their ids and namespace.
_CHUNK = 500

# The rows are joined into one string in SQLite: a third of the cost of a Python row each.
_NEWEST = (
    "SELECT group_concat(rowid) FROM (SELECT rowid FROM engram_fts "
    "WHERE engram_fts MATCH ? ORDER BY rowid DESC LIMIT ?)"
)
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def search(
    conn: sqlite3.Connection, cipher: Cipher, namespace: str, terms: Sequence[str], limit: int
) -> list[Candidate]:
    """Memories of ``namespace`` holding ``terms``, best first (docs/recall.md).

    A memory scores the BM25 weight (inverse document frequency over the whole
    index) of each term it holds, as far as the rows read show it: all of a
    rare term's rows and the newest ``COMMON`` of a common one, so the
    memories that share most words with the query come first, as under BM25,
    the recent ones for the common words. A memory anywhere in the index that
    holds the ``CONJUNCTION`` rarest terms together scores the common ones
    among them too (FTS5 finds those by stepping through the rarest term's
    rows). FTS5's own ``bm25()`` is not used: it scores every row holding any
    term and counts each term's rows, the namespace's token among them, so it
    reads most of a large namespace for a query of common words.
    """
    if not terms or limit <= 0:
        return []
    return Walk(conn, cipher, namespace, terms, Filter()).read(limit)[1]


class Walk:
    """A read of the ranking down to the namespace's rows (``search``; filtered, for
    ``FilteredReads.lexical_search_within``): ranked once, then ``read(depth)`` gives
    how many of the namespace's first ``depth`` rows it read and those of them that pass
    ``within``, without ranking again for a deeper read. The rows read are the whole
    index's, so the namespace is checked here, best first, a chunk at a time: in a
    store of one namespace no more than ``depth`` rows are looked up."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        cipher: Cipher,
        namespace: str,
        terms: Sequence[str],
        within: Filter,
    ) -> None:
        self.conn, self.namespace = conn, namespace
        self.clause = fields.clause(cipher, namespace, within)
        ranked = _ranked(conn, cipher, terms)
        empty: tuple[I64, F64] = (np.zeros(0, np.int64), np.zeros(0, np.float64))
        self.rowids, self.scores = ranked if ranked is not None else empty
        self.walked = 0  # rows of the ranking read, of any namespace
        self.read_rows: list[tuple[str, float, bool]] = []  # the namespace's: id, score, passes

    def read(self, depth: int) -> tuple[int, list[Candidate]]:
        sql, params = self.clause
        while len(self.read_rows) < depth and self.walked < len(self.rowids):
            chunk = [int(r) for r in self.rowids[self.walked : self.walked + _CHUNK]]
            scores = self.scores[self.walked : self.walked + _CHUNK]
            self.walked += len(chunk)
            marks = ",".join("?" * len(chunk))
            found = {
                int(row[0]): (str(row[1]), bool(row[2]))
                for row in self.conn.execute(
                    f"SELECT e.rowid, e.id, ({sql}) FROM engrams e "
                    f"WHERE e.rowid IN ({marks}) AND +e.namespace = ?",
                    [*params, *chunk, self.namespace],
                )
            }
            for rowid, score in zip(chunk, scores, strict=True):
                if rowid in found:
                    engram_id, passes = found[rowid]
                    self.read_rows.append((engram_id, float(score), passes))
        first = self.read_rows[:depth]
        return len(first), [Candidate(i, score) for i, score, passes in first if passes]


def _ranked(
    conn: sqlite3.Connection, cipher: Cipher, terms: Sequence[str]
) -> tuple[I64, F64] | None:
    """The index's rows holding ``terms`` (of every namespace), best first, with their
    scores (``search``; ``store.lexrank.ranked``); None when none does."""
    phrases = list(dict.fromkeys(cipher.blind_terms(list(terms))))[:MAX_TERMS]
    if not phrases:
        return None
    size = float(conn.execute("SELECT max(rowid) FROM engrams").fetchone()[0] or 0)
    # of common terms only, the newest rows holding them all are of any namespace: the
    # namespace's own token would have FTS5 step through all of its rows
    return lexrank.ranked(phrases, size, lambda held, most: _rows(conn, _every(held), most))


def _rows(conn: sqlite3.Connection, match: str, most: int) -> I64:
    """The newest ``most`` rows of the index that ``match`` finds."""
    joined = conn.execute(_NEWEST, (match, most)).fetchone()[0]
    return np.fromstring(joined, dtype=np.int64, sep=",") if joined else np.zeros(0, np.int64)


def _quoted(phrase: str) -> str:
    # Terms are quoted, so FTS5 operators and punctuation in them are inert.
    # NUL is dropped: FTS5's query parser stops at it and reports "unterminated
    # string" (conformance check_special_characters_inert).
    return '"' + phrase.replace("\x00", "").replace('"', '""') + '"'


def _every(phrases: Sequence[str]) -> str:
    """The FTS5 query for the rows holding every one of ``phrases`` in their text or keys."""
    return "{text keys} : (" + " AND ".join(_quoted(phrase) for phrase in phrases) + ")"


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


def stored_bytes(conn: sqlite3.Connection) -> int:
    """The bytes of the pages the index's segments fill: what ``optimize`` writes anew."""
    try:
        row = conn.execute(
            "SELECT pgsize FROM dbstat WHERE name = 'engram_fts_data' AND aggregate = TRUE"
        ).fetchone()
        return int(row[0] or 0)
    except sqlite3.OperationalError:  # a SQLite without dbstat: a page per block at most
        blocks, length = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(length(block)), 0) FROM engram_fts_data"
        ).fetchone()
        return int(length) + int(blocks) * int(conn.execute("PRAGMA page_size").fetchone()[0])


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
