"""The ranking of both stores' lexical search, bounded by its common terms
(docs/recall.md, "Lexical seeds").

A store gives ``ranked`` one read: the newest rows of its whole index holding
every one of some terms, at most a given number. A memory scores the BM25
weight (inverse document frequency over the whole index) of each query term it
holds, as far as the rows read show it: all of a rare term's rows and the
newest ``COMMON`` of a common one, so the memories that share most words with
the query come first, as under BM25, the recent ones for the common words. A
memory anywhere in the index that holds the ``CONJUNCTION`` rarest terms
together scores the common ones among them too. What a search costs is then
bounded by its terms, not by the size of the store.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["COMMON", "CONJUNCTION", "Newest", "ranked", "weight"]

#: A term held by more rows of the index than this is *common*: a search reads no
#: more of its rows than this (the newest), so it costs the same in any size of
#: store (docs/recall.md, "Lexical seeds"; BENCHMARKS.md, "Scale").
COMMON = 1_000
#: How many of the query's rarest terms a memory anywhere in the index is sought by.
CONJUNCTION = 3

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
#: The newest rows (row numbers, newest first) holding every one of the terms, at most
#: that many.
Newest = Callable[[Sequence[str], int], I64]


@dataclass(frozen=True, slots=True)
class _Term:
    """A query term as the index holds it, and the rows read of it."""

    phrase: str
    rowids: I64  # every row holding a rare term; the newest COMMON of a common one
    rows: float  # how many rows hold it: exact for a rare term, estimated for a common one

    @property
    def common(self) -> bool:
        return self.rows > COMMON


def ranked(phrases: Sequence[str], size: float, newest: Newest) -> tuple[I64, F64] | None:
    """The index's rows holding any of ``phrases`` (of every namespace), best first,
    with their scores; None when none does. ``size``: the index's largest row number."""
    found = sorted(
        (term for term in (_read(newest, phrase, size) for phrase in phrases) if term.rows),
        key=lambda term: term.rows,
    )
    if not found:
        return None
    rowids = [term.rowids for term in found]
    weights = [np.full(len(term.rowids), weight(term.rows, size)) for term in found]
    rarest = found[:CONJUNCTION]
    if len(rarest) > 1 and rarest[-1].common:
        # With a rare term among them the rare term's rows are all read already; of
        # common terms only, the newest rows holding them all.
        every = newest([term.phrase for term in rarest], COMMON)
        missed = np.zeros(len(every))
        for term in rarest:
            if term.common:
                missed += weight(term.rows, size) * ~np.isin(every, term.rowids)
        rowids.append(every)
        weights.append(missed)
    held, at = np.unique(np.concatenate(rowids), return_inverse=True)
    score = np.bincount(at, weights=np.concatenate(weights), minlength=len(held)).astype(np.float64)
    best = np.lexsort((-held, -score))  # the highest score first, then the newest
    return held[best], score[best]


def _read(newest: Newest, phrase: str, size: float) -> _Term:
    """The newest ``COMMON + 1`` rows holding ``phrase``: all of them, or a sign that
    it is common and how common."""
    rowids = newest([phrase], COMMON + 1)
    if len(rowids) <= COMMON:
        return _Term(phrase, rowids, float(len(rowids)))
    # Its newest rows reach back to rowid rowids[-1]: about as many again in each such
    # stretch of the index.
    reach = max(size - float(rowids[-1]) + 1.0, 1.0)
    return _Term(phrase, rowids[:COMMON], max(len(rowids) * size / reach, float(len(rowids))))


def weight(rows: float, size: float) -> float:
    """BM25's inverse document frequency of a term held by ``rows`` of ``size`` rows."""
    return math.log(1.0 + (max(size, rows) - rows + 0.5) / (rows + 0.5))
