"""Candidate generation: which memories a search of a large namespace ranks (docs/recall.md).

The first stage of two. The store's persistent indexes name the memories
that could answer the query, and only those reach the attention ranker
(``recall.engine``), so a search reads what it ranks, not the namespace:

- **seeds**: the nearest vectors (``Store.vector_search``) and the best BM25
  matches of the store's full-text index (``Store.lexical_search``, given
  the query's plain words: the index stems them as it stemmed the memories,
  or blinds them on an encrypted store), merged by reciprocal rank; then the
  memories nearest the conversation so far (a search with a context) and
  those whose event time falls in a time window the query names ("when",
  "last May": ``recall.when``);
- **structure** the signals read: the turns just before and after the
  strongest seeds (the windows and neighbours of ``recall.features``), then
  their sessions up to ``SESSION_SPAN`` turns either side (session maxima and
  means), then the facts and summaries linked to what was chosen, and their
  sources (``Store.links_of``).

Every step is bounded by the pool ``size``; what is left of it goes to
further seeds. Which memories are chosen is decided here; how they rank,
and which a search may return (dormancy, emotions, kinds, ``as_of``), is
the engine's.

A search with a filter (``within``: ``where``, event-time bounds, ``as_of``)
chooses among the memories that pass it (docs/filters.md, "Large
namespaces"). The store counts them first (``Store.few_matching``, up to
``FEW`` pools): when they are that few, they are the search's universe, their
nearest found by exact cosine over their vectors (as the store's index holds
them); when more pass, the seeds are read oversampled (``OVERSAMPLE``), the
store keeping those that pass as it reads them
(``Store.vector_search_within``, ``Store.lexical_search_within``). Either way
every seed, context, time-window and session step keeps only memories that
pass; facts and summaries linked to them still join the pool as keys, as they
rank without being returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import numpy.typing as npt

from engramdb.filters import Filter
from engramdb.recall.features import Query
from engramdb.recall.lexical import words
from engramdb.store.base import Store

__all__ = [
    "ALLOCATION",
    "FEW",
    "LEXICAL_FEW",
    "OVERSAMPLE",
    "SESSION_SPAN",
    "Allocation",
    "gather",
    "gathered",
]

#: Turns either side of a strong seed read with it: a LoCoMo session has ~20-30
#: turns, so its session aggregates see the whole session (BENCHMARKS.md).
SESSION_SPAN = 16
_FUSION_K = 60  # reciprocal rank fusion's constant (Cormack et al. 2009)
#: A filter passed by at most this many pools' worth of memories makes them the
#: search's universe: exact cosine over their vectors as the index holds them, which
#: costs less than reading the graph as deep (``OVERSAMPLE``) for a share that passes
#: (BENCHMARKS.md, "Filters at scale").
FEW = 16
#: How deep a search among few passing memories reads the lexical index, in pools: each
#: row read is looked up, so not as deep as the few themselves may be.
LEXICAL_FEW = 4
#: The most seeds of each kind a filtered search reads when more pass, in pools: the
#: nearest are read again, this many times deeper at most, until half a pool's worth
#: pass. More than ``FEW`` pools pass then, so four pools deep holds a few dozen that
#: pass at the least; 16 found the same on the benchmark's probes at twice the cost of
#: the slowest searches (BENCHMARKS.md, "Filtered seeds checked as they are read").
OVERSAMPLE = 4


@dataclass(frozen=True, slots=True)
class Allocation:
    """How far each step may fill the pool, as shares of its size: each step adds
    memories until the pool holds that share (the steps run in this order)."""

    seeds: float = 0.4
    extra: float = 0.5  # the context's and the time windows' memories
    neighbours: float = 0.7  # the turns just before and after the strongest
    sessions: float = 0.9  # their sessions, SESSION_SPAN turns either side


ALLOCATION = Allocation()


def gather(
    store: Store,
    namespace: str,
    query: Query,
    size: int,
    allocation: Allocation = ALLOCATION,
    *,
    within: Filter | None = None,
) -> list[str]:
    """At most ``size`` ids of the namespace's memories worth ranking for ``query``,
    the strongest reasons first; with ``within``, chosen among those that pass it."""
    return list(gathered(store, namespace, query, size, allocation, within=within))


def gathered(
    store: Store,
    namespace: str,
    query: Query,
    size: int,
    allocation: Allocation = ALLOCATION,
    *,
    within: Filter | None = None,
) -> dict[str, str]:
    """``gather``'s ids, each with the step that chose it: ``seed``, ``context``,
    ``time``, ``neighbour``, ``session``, ``link`` or ``more`` (further seeds)."""
    size = max(size, 1)
    universe = _Universe(store, namespace, within or None, size)
    dense = universe.nearest(query.vector, size)
    lexical = universe.lexical(words(query.text), size)
    seeds = _fused([dense, lexical])
    share = size // 8 + 1
    context: list[str] = []
    if query.context_vector is not None:
        context = universe.nearest(query.context_vector, share)
    timed: list[str] = []
    for window in query.windows:
        timed += universe.between(window.start, window.end, share)

    pool: dict[str, str] = {}
    _add(pool, seeds, _bound(size, allocation.seeds), "seed")
    extra = _bound(size, allocation.extra)
    _add(pool, context, extra, "context")
    _add(pool, timed, extra, "time")
    chosen = list(pool)
    for span, bound, step in (
        (1, _bound(size, allocation.neighbours), "neighbour"),
        (SESSION_SPAN, _bound(size, allocation.sessions), "session"),
    ):
        for group in _doubling(chosen):
            if len(pool) >= bound:
                break
            _add(pool, universe.keep(store.around(namespace, group, span)), bound, step)
    linked: list[str] = []
    for link in store.links_of(namespace, list(pool)):
        linked += (link.derived_id, link.source_id)
    _add(pool, linked, size, "link")
    _add(pool, seeds, size, "more")
    return pool


class _Universe:
    """The memories a search chooses from: the namespace's, or those passing a filter."""

    def __init__(self, store: Store, namespace: str, within: Filter | None, size: int) -> None:
        self.store, self.namespace, self.within = store, namespace, within
        self.deepest = OVERSAMPLE * size
        self._verdicts: dict[str, bool] = {}
        #: the memories passing ``within`` when they are few (None: all, or many)
        self.few: list[str] | None = None
        self._vectors: npt.NDArray[np.float32] | None = None
        # counted first: the passing memories in insertion order, up to a limit, cost a
        # sort of all that pass (an event-time bound at a million: most of them)
        few = None if within is None else store.few_matching(namespace, within, FEW * size)
        if few is not None:
            self.few, self._vectors = few
            self._verdicts = dict.fromkeys(self.few, True)

    def keep(self, ids: Sequence[str]) -> list[str]:
        """``ids`` that pass the filter, in their order."""
        if self.within is None:
            return list(ids)
        if self.few is None:
            unknown = [i for i in dict.fromkeys(ids) if i not in self._verdicts]
            if unknown:
                passing = set(self.store.matching(self.namespace, self.within, ids=unknown))
                self._verdicts.update((i, i in passing) for i in unknown)
        return [i for i in ids if self._verdicts.get(i, False)]

    def nearest(self, vector: npt.NDArray[np.float32], limit: int) -> list[str]:
        """The ``limit`` memories nearest ``vector`` by cosine, best first."""
        if self.few is not None:
            if not self.few or self._vectors is None:
                return []
            norms = np.linalg.norm(self._vectors, axis=1)
            cosine = (self._vectors @ vector) / np.where(norms > 0, norms, np.float32(1.0))
            best = np.argsort(-cosine, kind="stable")[:limit]
            return [self.few[int(i)] for i in best]
        if self.within is None:
            return [c.id for c in self.store.vector_search(self.namespace, vector, limit)]
        found = self.store.vector_search_within(
            self.namespace, vector, limit, self.within, self.deepest
        )
        return self._passing([c.id for c in found])

    def lexical(self, terms: Sequence[str], limit: int) -> list[str]:
        """The ``limit`` best BM25 matches of ``terms``, best first (among few passing: of
        the index's best ``LEXICAL_FEW`` times ``limit``)."""
        if self.few is not None:
            found = self.store.lexical_search(self.namespace, terms, LEXICAL_FEW * limit)
            return self.keep([c.id for c in found])[:limit]
        if self.within is None:
            return [c.id for c in self.store.lexical_search(self.namespace, terms, limit)]
        found = self.store.lexical_search_within(
            self.namespace, terms, limit, self.within, self.deepest
        )
        return self._passing([c.id for c in found])

    def between(self, start: datetime, end: datetime, limit: int) -> list[str]:
        """Up to ``limit`` memories whose event time is in ``[start, end)``."""
        if self.within is None:
            return self.store.occurred_between(self.namespace, start, end, limit)
        after, before = self.within.occurred_after, self.within.occurred_before
        start = start if after is None else max(start, after)
        end = end if before is None else min(end, before)
        if start >= end:
            return []
        bounded = replace(self.within, occurred_after=start, occurred_before=end)
        return self.store.matching(self.namespace, bounded, limit=limit)

    def _passing(self, ids: list[str]) -> list[str]:
        """``ids`` the store found passing the filter, noted as such for ``keep``."""
        self._verdicts.update(dict.fromkeys(ids, True))
        return ids


def _bound(size: int, share: float) -> int:
    return min(size, int(size * share + 1e-9))  # 90 * 0.7 is 62.99999999999999


def _fused(rankings: Sequence[Sequence[str]]) -> list[str]:
    """Ids of several best-first lists, by reciprocal rank fusion."""
    score: dict[str, float] = {}
    for ranking in rankings:
        for rank, engram_id in enumerate(ranking):
            score[engram_id] = score.get(engram_id, 0.0) + 1.0 / (_FUSION_K + rank)
    return sorted(score, key=lambda engram_id: -score[engram_id])


def _add(pool: dict[str, str], ids: Iterable[str], bound: int, step: str) -> None:
    for engram_id in ids:
        if len(pool) >= bound:
            return
        pool.setdefault(engram_id, step)


def _doubling(ids: Sequence[str]) -> list[list[str]]:
    """``ids`` in groups of 8, 16, 32, ...: the strongest are expanded first, in few queries."""
    groups, start, width = [], 0, 8
    while start < len(ids):
        groups.append(list(ids[start : start + width]))
        start, width = start + width, width * 2
    return groups
