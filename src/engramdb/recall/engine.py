"""The recall pipeline: signals for the memories of a namespace, ranking, hits.

``Recaller.search`` embeds the query, computes each memory's signals
(``features``), lets the attention ranker order them and returns the top hits
with explanations. A namespace no larger than the pool (``Settings.recall_pool``)
is scored exhaustively, from a view of the whole namespace kept between
searches. A larger one is searched in two stages (docs/recall.md): the store's
indexes name at most a pool of candidates (``recall.candidates``), and the
same signals rank that pool, read from the store for this search alone. It
sees only ``store.base`` and the ``Embedder`` protocol; validation happened
in the facade.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from engramdb.bounded import Bounded
from engramdb.dynamics.reinforce import applied
from engramdb.embed.base import Embedder
from engramdb.filters import Filter
from engramdb.model import Engram, Hit
from engramdb.recall.candidates import gather
from engramdb.recall.features import Knowledge, NamespaceView, Query, signals
from engramdb.recall.followup import Turn, resolve
from engramdb.recall.lexical import DocumentCache, LexicalIndex, analyze
from engramdb.recall.ranker import AttentionRanker, RankerWeights
from engramdb.recall.relevance import Calibration, names
from engramdb.store.base import Catalog, DynamicsUpdate, Link, Store

__all__ = ["CACHED_NAMESPACES", "Recaller", "SearchRequest"]

F64 = npt.NDArray[np.float64]
#: The namespaces whose views and analysed documents one recaller keeps, most recently
#: searched first (docs/limits.md, "Caches"): an evicted one is rebuilt at its next search.
CACHED_NAMESPACES = 64
_TICK = timedelta(microseconds=1)  # the stored event times' resolution (clock.to_iso)


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A validated search."""

    query: str
    namespace: str
    limit: int
    now: datetime
    neighbours: int = 0
    # memory dynamics (docs/dynamics.md): dormant memories (put aside, or with R(now) below
    # ``dormant_below``) are left out unless ``include_dormant``; ``emotions``
    # keeps only memories with those labels; ``mood`` makes recall mood-congruent.
    include_dormant: bool = False
    dormant_below: float = 0.0
    emotions: frozenset[str] | None = None
    mood: tuple[float, str] | None = None
    # context-conditioned recall (docs/context.md): the conversation so far, oldest first
    context: tuple[Turn, ...] = ()
    # consolidation (docs/consolidation.md): what was true at event time ``as_of`` (memories of
    # later events are left out; facts count by whether they held then), and
    # which kinds of memory to return (None: episodes, with facts and summaries
    # as their keys)
    as_of: datetime | None = None
    kinds: frozenset[str] | None = None
    # filters (docs/filters.md): only memories that pass ``where`` are ranked and returned
    where: Filter | None = None
    # relevance (docs/recall.md, "Relevance"): only hits at least this likely to be relevant
    min_relevance: float = 0.0
    # learning (docs/learning.md): the namespace's learned ranker weights (None: the prior's)
    weights: RankerWeights | None = None
    # concepts (docs/learning.md): only these memories (``concept``'s) are ranked and returned
    among: frozenset[str] | None = None
    concept: str | None = None
    # expiry (docs/expiry.md): the memories expired at this time (the store clock's now,
    # not ``now``) are left out as the candidates are read; None: none are
    unexpired_at: datetime | None = None


class Recaller:
    """Finds and ranks the memories of one namespace for a query."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        ranker: AttentionRanker | None = None,
        *,
        exact_limit: int = 20_000,
        ann_pool: int = 500,
        path_depth: int = 100,
        pool: int = 1_000,
        exhaustive_up_to: int | None = None,
        overlay: Callable[[str], Sequence[DynamicsUpdate]] | None = None,
        cached_namespaces: int = CACHED_NAMESPACES,
        calibration: Calibration | None = None,
    ) -> None:
        self.store = store
        #: maps what the ranker computes for a hit to its relevance (recall.relevance)
        self.calibration = calibration or Calibration.default()
        #: a namespace's reinforcement not yet written, laid over what the store holds
        #: (docs/dynamics.md); None: none
        self.overlay = overlay
        #: the most memories one search ranks; a larger namespace is searched in two stages
        self.pool = pool
        #: the largest namespace scored exhaustively (None: ``pool``); 0 sends every
        #: search through the candidates (benchmarks, tests: docs/recall.md)
        self.exhaustive_up_to = exhaustive_up_to
        self.embedder = embedder
        self.ranker = ranker or AttentionRanker()
        self.exact_limit = exact_limit
        self.ann_pool = ann_pool
        self.path_depth = path_depth
        self._views: Bounded[str, NamespaceView] = Bounded(cached_namespaces)
        self._documents: Bounded[str, DocumentCache] = Bounded(cached_namespaces)
        self._pooled_documents: Bounded[str, _PooledDocuments] = Bounded(cached_namespaces)
        self._lock = threading.Lock()

    def forget(self, namespace: str) -> None:
        """Drop what this recaller keeps of a namespace in memory: its view and the
        analysed documents (erasure reaches the process too; docs/security.md)."""
        with self._lock:
            self._views.pop(namespace, None)
            self._documents.pop(namespace, None)
            self._pooled_documents.pop(namespace, None)

    def view(self, namespace: str) -> NamespaceView:
        """The namespace's query-independent data, rebuilt when the namespace changed."""
        catalog = self._overlaid(namespace, self.store.catalog(namespace))
        with self._lock:
            view = self._views.get(namespace)
            if view is not None and view.catalog is not catalog:
                if view.catalog.ids is catalog.ids and view.catalog.vectors is catalog.vectors:
                    view = view.with_catalog(catalog)  # only dynamics changed: keep the indexes
                else:
                    view = None
            if view is None:
                # Documents analysed for an earlier view are not analysed again: an
                # agent that adds a turn and then searches pays only for the new turn.
                cache = self._documents.get_or_make(namespace, DocumentCache)
                view = NamespaceView(catalog, self._knowledge(namespace, catalog), cache=cache)
            self._views[namespace] = view
            return view

    def score(self, request: SearchRequest) -> tuple[NamespaceView, dict[str, F64]]:
        """What a search ranks (the whole namespace, or its candidates when it holds
        more than ``pool`` memories) and every signal over it, in its rows."""
        largest = self.pool if self.exhaustive_up_to is None else self.exhaustive_up_to
        if self.store.count(request.namespace, largest + 1) > largest:
            view, query = self._candidates(request)
            dense = (view.catalog.vectors @ query.vector).astype(np.float64)
            return view, signals(query, view, dense)
        view = self.view(request.namespace)
        if len(view.catalog) == 0:
            return view, {}
        text, vector, context_vector = self._understand(request, view)
        query = self._query(request, text, vector, context_vector)
        dense, rows = self._dense(request.namespace, view, vector)
        return view, signals(query, view, dense, rows)

    def _unexpired(self, request: SearchRequest) -> SearchRequest:
        """The request, with the memories expired at ``unexpired_at`` filtered out as
        every filtered search filters (``_within``, ``_eligible``): they take no place
        among the candidates. When the namespace has none, which an index answers,
        nothing changes, so neither does ranking (docs/expiry.md)."""
        at = request.unexpired_at
        if at is None or not self.store.expired(request.namespace, at, 1):
            return request
        return replace(request, where=replace(request.where or Filter(), unexpired_at=at))

    def search(self, request: SearchRequest) -> list[Hit]:
        request = self._unexpired(request)
        view, features = self.score(request)
        if len(view.catalog) == 0:
            return []
        eligible = self._eligible(request, view, features["retention"])
        ranker = self.ranker if request.weights is None else AttentionRanker(request.weights)
        ranking = ranker.rank(features, eligible)
        order = ranking.order if eligible is None else ranking.order[eligible[ranking.order]]
        # relevance drops hits below the floor, never reorders them (docs/recall.md)
        share = names(view.lexical, request.query)
        relevance = self.calibration.relevance(ranking, features, share, order)
        kept = relevance >= request.min_relevance
        top = [int(i) for i in order[kept][: request.limit]]
        chance = dict(zip(top, relevance[kept][: request.limit].tolist(), strict=True))
        paths = _paths(features, top, self.path_depth)
        ids = [view.catalog.ids[i] for i in top]
        pending = {u.id: u for u in self.overlay(request.namespace)} if self.overlay else {}
        engrams = {
            i: applied(e, pending.get(i))
            for i, e in self.store.get_many(request.namespace, ids).items()
        }
        hits: list[Hit] = []
        for index, engram_id in zip(top, ids, strict=True):
            engram = engrams.get(engram_id)
            if engram is None:  # deleted since the catalog was read
                continue
            around: tuple[Engram, ...] = ()
            if request.neighbours > 0:
                around = tuple(
                    applied(n, pending.get(n.id))
                    for n in self.store.neighbours(
                        request.namespace, engram_id, request.neighbours, request.neighbours
                    )
                )
            hits.append(
                Hit(
                    engram=engram,
                    score=float(ranking.attention[index]),
                    rank=len(hits) + 1,
                    relevance=chance[index],
                    explain=replace(
                        ranking.explain(index, paths[index]),
                        retention=float(features["retention"][index]),
                        stability_days=float(view.dynamics.stability_days[index]),
                        importance=float(view.dynamics.importance[index]),
                        emotion=view.dynamics.emotions[index],
                        # a memory's vector row is zeros until it arrives (docs/write-path.md)
                        without_vector=not view.catalog.vectors[index].any(),
                    ),
                    neighbours=around,
                )
            )
        return hits

    def _candidates(self, request: SearchRequest) -> tuple[NamespaceView, Query]:
        """The view of this search's candidates and the query as recall reads it.

        With a context, the pronouns of the query are resolved against the
        candidates' speakers and words, and the candidates gathered again for
        the resolved query when it changed.
        """
        namespace = request.namespace
        if not request.context:
            vector, context_vector = self.embedder.embed([request.query])[0], None
        else:
            vector, context_vector = self.embedder.embed([request.query, _said(request)])
        query = self._query(request, request.query, vector, context_vector)
        within = _within(request)
        view = self._pool_view(namespace, self._gather(request, query, within))
        if request.context:
            text = resolve(
                request.query, request.context, view.known_speakers, _rarity(view.lexical)
            ).text
            if text != request.query:
                vector = self.embedder.embed([text])[0]
                query = self._query(request, text, vector, context_vector)
                view = self._pool_view(namespace, self._gather(request, query, within))
        return view, query

    def _gather(self, request: SearchRequest, query: Query, within: Filter | None) -> list[str]:
        """The candidates of a two-stage search; with ``among`` (a concept's memories,
        docs/learning.md), those of them nearest the query, up to a pool."""
        if request.among is None:
            return gather(self.store, request.namespace, query, self.pool, within=within)
        ids = sorted(request.among)
        if within is not None:
            ids = self.store.matching(request.namespace, within, ids=ids)
        if len(ids) > self.pool:
            near = self.store.vectors(request.namespace, ids) @ query.vector
            ids = [ids[int(i)] for i in np.argsort(-near, kind="stable")[: self.pool]]
        return ids

    def _overlaid(self, namespace: str, catalog: Catalog) -> Catalog:
        if self.overlay is None:
            return catalog
        return catalog.with_dynamics(self.overlay(namespace))

    def _pool_view(self, namespace: str, ids: list[str]) -> NamespaceView:
        """A view of ``ids`` only, for one search. BM25's document frequencies and
        the session aggregates are those of the pool (BENCHMARKS.md, two-stage recall)."""
        catalog = self._overlaid(namespace, self.store.catalog_of(namespace, ids))
        knowledge = None
        if set(catalog.kinds) - {"episode"}:
            knowledge = self._knowledge(namespace, catalog, self.store.links_of(namespace, ids))
        with self._lock:  # the analysed documents are shared with other searches
            cache = self._pooled_documents.get_or_make(
                namespace, lambda: _PooledDocuments(8 * self.pool)
            )
            return NamespaceView(catalog, knowledge, cache=cache)

    @staticmethod
    def _query(
        request: SearchRequest,
        text: str,
        vector: npt.NDArray[np.float32],
        context_vector: npt.NDArray[np.float32] | None,
    ) -> Query:
        return Query.parse(
            text,
            vector,
            request.now,
            mood=request.mood,
            context_vector=context_vector,
            as_of=request.as_of,
        )

    def _understand(
        self, request: SearchRequest, view: NamespaceView
    ) -> tuple[str, npt.NDArray[np.float32], npt.NDArray[np.float32] | None]:
        """The query as recall reads it: pronouns resolved against the context, its
        vector, and the context's vector (None without a context). One embed call."""
        if not request.context:
            return request.query, self.embedder.embed([request.query])[0], None
        text = resolve(
            request.query, request.context, view.known_speakers, _rarity(view.lexical)
        ).text
        vectors = self.embedder.embed([text, _said(request)])
        return text, vectors[0], vectors[1]

    def _eligible(
        self, request: SearchRequest, view: NamespaceView, retention: F64
    ) -> npt.NDArray[np.bool_] | None:
        """Which memories this search may return (None: all of them)."""
        mask: npt.NDArray[np.bool_] | None = None
        if not request.include_dormant:
            mask = ~view.dynamics.dormant & (retention >= request.dormant_below)
        if request.emotions is not None:
            wanted = np.array([e in request.emotions for e in view.dynamics.emotions], dtype=bool)
            mask = wanted if mask is None else mask & wanted
        kinds = request.kinds or frozenset({"episode"})
        catalog = view.catalog
        if catalog.kinds and set(catalog.kinds) - kinds:
            wanted = np.array([k in kinds for k in catalog.kinds], dtype=bool)
            mask = wanted if mask is None else mask & wanted
        elif not catalog.kinds and "episode" not in kinds:
            wanted = np.zeros(len(catalog), dtype=bool)
            mask = wanted if mask is None else mask & wanted
        if request.as_of is not None:  # nothing that happened after as_of was known then
            wanted = catalog.occurred_at <= request.as_of.timestamp()
            mask = wanted if mask is None else mask & wanted
        if request.where is not None:
            wanted = self._passing(request.namespace, request.where, view)
            mask = wanted if mask is None else mask & wanted
        if request.among is not None:
            among = request.among
            wanted = np.fromiter((i in among for i in catalog.ids), dtype=bool, count=len(catalog))
            mask = wanted if mask is None else mask & wanted
        return mask

    def _passing(self, namespace: str, where: Filter, view: NamespaceView) -> npt.NDArray[np.bool_]:
        """Which rows of ``view`` pass ``where``, as the store's filter index answers
        (docs/filters.md). The kept view of a whole namespace asks about all of it in one
        indexed query; a two-stage pool asks about its own candidates only."""
        with self._lock:
            whole = self._views.get(namespace) is view
        ids = view.catalog.ids
        passing = set(self.store.matching(namespace, where, ids=None if whole else ids))
        return np.fromiter((i in passing for i in ids), dtype=bool, count=len(ids))

    def _knowledge(
        self, namespace: str, catalog: Catalog, links: list[Link] | None = None
    ) -> Knowledge | None:
        """Facts and provenance as recall keys, when the catalog holds derived memories
        (``links``: those that concern it, when not all of the namespace's). The
        facts read are the catalog's own, with their timelines (``Store.facts_of``)."""
        if not catalog.kinds or all(k == "episode" for k in catalog.kinds):
            return None
        if links is None:
            links = self.store.links(namespace)
        pairs = [(k.derived_id, k.source_id, k.relation) for k in links]
        facts = [i for i, kind in zip(catalog.ids, catalog.kinds, strict=True) if kind == "fact"]
        return Knowledge.build(catalog, self.store.facts_of(namespace, facts), pairs)

    def _dense(
        self, namespace: str, view: NamespaceView, vector: npt.NDArray[np.float32]
    ) -> tuple[F64, npt.NDArray[np.int64] | None]:
        """Cosine of every memory (exact), or of the ANN candidates and a floor elsewhere."""
        catalog = view.catalog
        if len(catalog) <= self.exact_limit:
            return (catalog.vectors @ vector).astype(np.float64), None
        found = self.store.vector_search(namespace, vector, self.ann_pool)
        floor = min((c.score for c in found), default=0.0)
        dense = np.full(len(catalog), floor, dtype=np.float64)
        rows = []
        for candidate in found:
            row = view.row_of.get(candidate.id)
            if row is not None:
                dense[row] = candidate.score
                rows.append(row)
        return dense, np.array(rows, dtype=np.int64)


class _PooledDocuments(DocumentCache):
    """Analysed documents kept across the searches of a large namespace: each search
    ranks other candidates, so analyses are kept up to ``keep`` documents (the
    latest searches' pools), not only the last pool's."""

    def __init__(self, keep: int) -> None:
        super().__init__()
        self.keep = keep

    def retain(self, documents: Sequence[str]) -> None:
        if len(self) > self.keep:
            super().retain(documents)


def _within(request: SearchRequest) -> Filter | None:
    """What a two-stage search's candidates must pass (``recall.candidates``): ``where``
    and its time bounds, and ``as_of`` as a bound on event time (``occurred_at <= as_of``).
    None: no filter. Which memories may be returned is decided again by ``_eligible``."""
    where = request.where
    if request.as_of is not None:
        cut = request.as_of + _TICK  # occurred_before is exclusive
        where = where or Filter()
        before = where.occurred_before
        where = replace(where, occurred_before=cut if before is None else min(before, cut))
    return where if where else None


def _said(request: SearchRequest) -> str:
    """The last turns of the conversation, as the context's vector embeds them."""
    return " ".join(f"{t.speaker}: {t.text}" if t.speaker else t.text for t in request.context[-3:])


def _rarity(lexical: LexicalIndex) -> Callable[[str], float]:
    """A word's IDF in the namespace (0 for a word no memory has): which phrase of a
    context turn an anaphor most likely means (recall.followup)."""

    def rarity(word: str) -> float:
        terms = analyze(word)
        found = lexical.frequency(terms[0]) if terms else 0
        return math.log(1.0 + lexical.n / found) if found else 0.0

    return rarity


def _paths(features: dict[str, F64], rows: list[int], depth: int) -> dict[int, tuple[str, ...]]:
    """Which retrieval paths would have found each row on their own.

    A row is found by ``dense`` when it is among the ``depth`` nearest vectors,
    and by ``lexical`` when it shares a query term. Explanations report it.
    """
    dense = features["dense"]
    cut = np.partition(dense, -depth)[-depth] if len(dense) > depth else -np.inf
    found: dict[int, tuple[str, ...]] = {}
    for row in rows:
        paths = []
        if dense[row] >= cut:
            paths.append("dense")
        if features["lexical"][row] > 0 or features["lexical_window"][row] > 0:
            paths.append("lexical")
        if features.get("fact", dense)[row] > 0 and "fact" in features:
            paths.append("fact")
        found[row] = tuple(paths) or ("context",)
    return found
