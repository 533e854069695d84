"""The recall pipeline: signals for every memory of a namespace, ranking, hits.

``Recaller.search`` embeds the query, computes each memory's signals
(``features``), lets the attention ranker order them and returns the top hits
with explanations. Small namespaces are scored exhaustively (exact cosine over
all vectors); above the store's ANN threshold the dense signal comes from the
approximate index's top candidates. It sees only ``store.base`` and the
``Embedder`` protocol; validation happened in the facade.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from engramdb.embed.base import Embedder
from engramdb.model import Engram, Hit
from engramdb.recall.features import NamespaceView, Query, signals
from engramdb.recall.ranker import AttentionRanker
from engramdb.store.base import Store

__all__ = ["Recaller", "SearchRequest"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A validated search."""

    query: str
    namespace: str
    limit: int
    now: datetime
    neighbours: int = 0


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
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.ranker = ranker or AttentionRanker()
        self.exact_limit = exact_limit
        self.ann_pool = ann_pool
        self.path_depth = path_depth
        self._views: dict[str, NamespaceView] = {}
        self._lock = threading.Lock()

    def view(self, namespace: str) -> NamespaceView:
        """The namespace's query-independent data, rebuilt when the namespace changed."""
        catalog = self.store.catalog(namespace)
        with self._lock:
            view = self._views.get(namespace)
            if view is None or view.catalog is not catalog:
                view = NamespaceView(catalog)
                self._views[namespace] = view
            return view

    def search(self, request: SearchRequest) -> list[Hit]:
        vector = self.embedder.embed([request.query])[0]
        view = self.view(request.namespace)
        if len(view.catalog) == 0:
            return []
        query = Query.parse(request.query, vector, request.now)
        dense, rows = self._dense(request.namespace, view, vector)
        features = signals(query, view, dense, rows)
        ranking = self.ranker.rank(features)
        top = [int(i) for i in ranking.order[: request.limit]]
        paths = _paths(features, top, self.path_depth)
        ids = [view.catalog.ids[i] for i in top]
        engrams = self.store.get_many(request.namespace, ids)
        hits: list[Hit] = []
        for index, engram_id in zip(top, ids, strict=True):
            engram = engrams.get(engram_id)
            if engram is None:  # deleted since the catalog was read
                continue
            around: tuple[Engram, ...] = ()
            if request.neighbours > 0:
                around = tuple(
                    self.store.neighbours(
                        request.namespace, engram_id, request.neighbours, request.neighbours
                    )
                )
            hits.append(
                Hit(
                    engram=engram,
                    score=float(ranking.attention[index]),
                    rank=len(hits) + 1,
                    explain=ranking.explain(index, paths[index]),
                    neighbours=around,
                )
            )
        return hits

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
        found[row] = tuple(paths) or ("context",)
    return found
