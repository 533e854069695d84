"""The baselines engramdb is measured against, computed in the same run.

BM25 alone (Snowball-stemmed tokens, stopwords removed, k1=1.5, b=0.75), dense
cosine alone with engramdb's own embedding model, and their reciprocal-rank
fusion (k=60). They index each turn as "Speaker: text", as engramdb does.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
import Stemmer

from engramdb.recall.text import STOPWORDS

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_STEM = Stemmer.Stemmer("english")


def tokens(text: str) -> list[str]:
    words = [w for w in _TOKEN.findall(text.lower()) if w not in STOPWORDS]
    return list(_STEM.stemWords(words))


class BM25:
    """Okapi BM25 over a fixed corpus (Lucene-style idf)."""

    def __init__(self, corpus: Sequence[str], k1: float = 1.5, b: float = 0.75) -> None:
        self.docs = [Counter(tokens(t)) for t in corpus]
        self.lengths = np.array([sum(d.values()) for d in self.docs], dtype=np.float64)
        self.avg = float(self.lengths.mean()) if len(self.docs) else 0.0
        df: Counter[str] = Counter()
        for doc in self.docs:
            df.update(doc.keys())
        n = len(self.docs)
        self.idf = {t: float(np.log(1 + (n - f + 0.5) / (f + 0.5))) for t, f in df.items()}
        self.k1, self.b = k1, b

    def scores(self, query: str) -> np.ndarray:
        out = np.zeros(len(self.docs), dtype=np.float64)
        norm = self.k1 * (1 - self.b + self.b * self.lengths / (self.avg or 1.0))
        for term in set(tokens(query)):
            idf = self.idf.get(term)
            if idf is None:
                continue
            tf = np.array([d.get(term, 0) for d in self.docs], dtype=np.float64)
            out += idf * tf * (self.k1 + 1) / (tf + norm)
        return out


def rank(scores: np.ndarray, ids: Sequence[str], k: int) -> list[str]:
    order = np.argsort(-scores, kind="stable")[:k]
    return [ids[i] for i in order]


def rrf(rankings: Sequence[Sequence[str]], k: int, c: float = 60.0) -> list[str]:
    fused: dict[str, float] = {}
    for ranking in rankings:
        for position, item in enumerate(ranking):
            fused[item] = fused.get(item, 0.0) + 1.0 / (c + position + 1)
    return sorted(fused, key=lambda item: -fused[item])[:k]
