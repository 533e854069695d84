"""The recall pipeline: candidates from each index, signals per candidate, ranking.

``Recaller.search`` gathers candidates from the dense and lexical indexes of
one namespace, computes each candidate's signals, lets the attention ranker
order them and returns explained hits. It sees only ``store.base`` and the
``Embedder`` protocol; validation happened in the facade.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from engramdb.embed.base import Embedder
from engramdb.model import Engram, Hit
from engramdb.recall.ranker import AttentionRanker
from engramdb.recall.text import capitalised_names, query_terms, words
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
        pool: int = 100,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.ranker = ranker or AttentionRanker()
        self.pool = pool

    def search(self, request: SearchRequest) -> list[Hit]:
        query_vector = self.embedder.embed([request.query])[0]
        pool = max(self.pool, request.limit)
        dense = self.store.vector_search(request.namespace, query_vector, pool)
        lexical = self.store.lexical_search(request.namespace, query_terms(request.query), pool)

        paths: dict[str, list[str]] = {}
        for name, found in (("dense", dense), ("lexical", lexical)):
            for candidate in found:
                paths.setdefault(candidate.id, []).append(name)
        if not paths:
            return []
        ids = list(paths)
        engrams = self.store.get_many(request.namespace, ids)
        ids = [i for i in ids if i in engrams]  # a concurrent delete may have removed some
        if not ids:
            return []

        features = self._signals(request, query_vector, ids, engrams, dense, lexical)
        ranking = self.ranker.rank(features)
        hits: list[Hit] = []
        for rank, index in enumerate(ranking.order[: request.limit], start=1):
            engram = engrams[ids[index]]
            around: tuple[Engram, ...] = ()
            if request.neighbours > 0:
                around = tuple(
                    self.store.neighbours(
                        request.namespace, engram.id, request.neighbours, request.neighbours
                    )
                )
            hits.append(
                Hit(
                    engram=engram,
                    score=float(ranking.attention[index]),
                    rank=rank,
                    explain=ranking.explain(int(index), tuple(paths[engram.id])),
                    neighbours=around,
                )
            )
        return hits

    def _signals(
        self,
        request: SearchRequest,
        query_vector: npt.NDArray[np.float32],
        ids: Sequence[str],
        engrams: dict[str, Engram],
        dense: Sequence[object],
        lexical: Sequence[object],
    ) -> dict[str, F64]:
        vectors = self.store.vectors(request.namespace, ids)
        cosine = (vectors @ query_vector).astype(np.float64)

        bm25 = {c.id: c.score for c in lexical}  # type: ignore[attr-defined]
        top = max(bm25.values(), default=0.0)
        lexical_score = np.array(
            [bm25.get(i, 0.0) / top if top > 0 else 0.0 for i in ids], dtype=np.float64
        )

        asked = capitalised_names(request.query) | set(words(request.query))
        speaker = np.array(
            [
                1.0
                if (s := engrams[i].speaker) is not None and s.split()[0].lower() in asked
                else 0.0
                for i in ids
            ],
            dtype=np.float64,
        )
        return {"dense": cosine, "lexical": lexical_score, "speaker": speaker}
