"""The lexical index of a PostgresStore: each memory's terms, and a search over them.

A memory's terms are the words of its text and index keys as the SQLite
store's FTS5 tokenizer (``porter unicode61 remove_diacritics 2``) makes them:
runs of letters and digits, lowercased, diacritics removed, Porter-stemmed
(PyStemmer's Porter, applied as FTS5 applies its own: to tokens of 3 to 64
bytes, a character outside ASCII counting as consonants; PyStemmer's Porter is
Snowball's, which stems a few words apart from FTS5's: docs/postgres.md). They
are made here, in Python, and kept in the ``terms`` column (``text[]``, a
GIN index), so a search is the same on both stores and PostgreSQL's own text
search configurations (stop words, another stemmer) decide nothing.

A search ranks as the SQLite store's does, by ``store.lexrank`` (docs/recall.md,
"Lexical seeds"): each memory holding a query term gets that term's BM25
inverse document frequency over the whole store, summed over the terms it
holds, as far as the rows read show it (every row of a rare term, the newest
``COMMON`` of a common one); the highest first, the newest among equals; then
the namespace's among them.

In an encrypted namespace (docs/security.md, "Blind lexical index") ``terms``
holds the memory's blind tokens instead (``Cipher.blind``: each word folded,
Snowball-stemmed and hashed under the namespace's index key, as the SQLite
store's FTS5 index holds them), and a query's words are hashed the same way:
the same search over tokens no one can read back into words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import Stemmer

from engramdb.security.crypto import Cipher
from engramdb.store import lexrank
from engramdb.store.base import Candidate
from engramdb.store.postgres.database import Connection

__all__ = ["MAX_TERMS", "search", "terms_for", "terms_of", "tokens"]

#: The most query terms a search reads, as in the SQLite store.
MAX_TERMS = 16

_WORD = re.compile(r"[^\W_]+")
_STEMMER = Stemmer.Stemmer("porter")
_STEMMED = range(3, 65)  # FTS5's porter tokenizer passes shorter and longer tokens through

# The newest rows of the whole table holding every one of some terms: by the GIN
# index for rare terms, by the primary key read backwards for common ones (as the
# planner's statistics of the terms say).
_NEWEST = "SELECT rowid FROM engrams WHERE terms @> %s::text[] ORDER BY rowid DESC LIMIT %s"
# Ranked rows looked up at once for their ids, in the namespace searched.
_CHUNK = 500


def tokens(text: str) -> list[str]:
    """The index terms of ``text``, in order, repeats kept."""
    out = []
    for word in _WORD.findall(text):
        folded = "".join(
            c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c)
        ).lower()
        if folded:
            out.append(_stem(folded) if len(folded.encode()) in _STEMMED else folded)
    return out


def _stem(word: str) -> str:
    """``word`` Porter-stemmed as FTS5 stems it: byte by byte, so that a character
    outside ASCII counts as one consonant per UTF-8 byte (``Q``, which no rule of the
    algorithm names), and is never part of a suffix it removes."""
    if word.isascii():
        return str(_STEMMER.stemWord(word))
    masked = "".join(c if c.isascii() else "Q" * len(c.encode()) for c in word)
    stemmed = str(_STEMMER.stemWord(masked))
    kept = 0  # how much of ``masked`` the stem keeps as it was
    while kept < min(len(masked), len(stemmed)) and masked[kept] == stemmed[kept]:
        kept += 1
    prefix, at = [], 0
    for c in word:
        width = 1 if c.isascii() else len(c.encode())
        if at + width > kept:
            break
        prefix.append(c)
        at += width
    return "".join(prefix) + stemmed[at:].replace("Q", "")


def terms_of(text: str, keys: str) -> list[str]:
    """What the ``terms`` column holds for a memory: its distinct terms, sorted."""
    return sorted({*tokens(text), *tokens(keys)})


def terms_for(cipher: Cipher, text: str, keys: str) -> list[str]:
    """What the ``terms`` column holds for a memory of a namespace whose cipher is
    ``cipher``: ``terms_of``, or in an encrypted namespace its distinct blind tokens."""
    if not cipher.encrypted:
        return terms_of(text, keys)
    return sorted({*cipher.blind(text).split(), *cipher.blind(keys).split()})


def search(
    conn: Connection, namespace: str, terms: Sequence[str], limit: int, cipher: Cipher
) -> list[Candidate]:
    """Memories of ``namespace`` holding any of ``terms`` (plain words), best first."""
    if cipher.encrypted:
        words = [t for term in terms for t in cipher.blind(term).split()]
    else:
        words = [t for term in terms for t in tokens(term)]
    wanted = list(dict.fromkeys(words))[:MAX_TERMS]
    if not wanted or limit <= 0:
        return []
    row = conn.execute("SELECT coalesce(max(rowid), 0) FROM engrams").fetchone()
    size = float(row[0]) if row else 0.0
    order = lexrank.ranked(wanted, size, lambda held, most: _newest(conn, held, most))
    if order is None:
        return []
    rowids, scores = order
    found: list[Candidate] = []
    walked = 0  # the ranking is the whole table's: the namespace's rows, a chunk at a time
    while len(found) < limit and walked < len(rowids):
        chunk = [int(r) for r in rowids[walked : walked + _CHUNK]]
        weights = scores[walked : walked + _CHUNK]
        walked += len(chunk)
        ids: dict[int, str] = dict(
            conn.execute(
                "SELECT rowid, id FROM engrams WHERE rowid = ANY(%s) AND namespace = %s",
                (chunk, namespace),
            ).fetchall()
        )
        pairs = zip(chunk, weights, strict=True)
        found += [Candidate(str(ids[r]), float(w)) for r, w in pairs if r in ids]
    return found[:limit]


def _newest(conn: Connection, terms: Sequence[str], most: int) -> npt.NDArray[np.int64]:
    rows = conn.execute(_NEWEST, (list(terms), most)).fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64)
