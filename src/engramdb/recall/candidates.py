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
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engramdb.recall.features import Query
from engramdb.recall.lexical import words
from engramdb.store.base import Store

__all__ = ["ALLOCATION", "SESSION_SPAN", "Allocation", "gather", "gathered"]

#: Turns either side of a strong seed read with it: a LoCoMo session has ~20-30
#: turns, so its session aggregates see the whole session (BENCHMARKS.md).
SESSION_SPAN = 16
_FUSION_K = 60  # reciprocal rank fusion's constant (Cormack et al. 2009)


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
    store: Store, namespace: str, query: Query, size: int, allocation: Allocation = ALLOCATION
) -> list[str]:
    """At most ``size`` ids of the namespace's memories worth ranking for ``query``,
    the strongest reasons first."""
    return list(gathered(store, namespace, query, size, allocation))


def gathered(
    store: Store, namespace: str, query: Query, size: int, allocation: Allocation = ALLOCATION
) -> dict[str, str]:
    """``gather``'s ids, each with the step that chose it: ``seed``, ``context``,
    ``time``, ``neighbour``, ``session``, ``link`` or ``more`` (further seeds)."""
    size = max(size, 1)
    dense = [c.id for c in store.vector_search(namespace, query.vector, size)]
    lexical = [c.id for c in store.lexical_search(namespace, words(query.text), size)]
    seeds = _fused([dense, lexical])
    share = size // 8 + 1
    context: list[str] = []
    if query.context_vector is not None:
        context = [c.id for c in store.vector_search(namespace, query.context_vector, share)]
    timed: list[str] = []
    for window in query.windows:
        timed += store.occurred_between(namespace, window.start, window.end, share)

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
            _add(pool, store.around(namespace, group, span), bound, step)
    linked: list[str] = []
    for link in store.links_of(namespace, list(pool)):
        linked += (link.derived_id, link.source_id)
    _add(pool, linked, size, "link")
    _add(pool, seeds, size, "more")
    return pool


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
