"""In-memory BM25 over one namespace: single memories and their session windows.

Built from a store ``Catalog`` (derived, rebuilt when the namespace changes)
with Snowball-stemmed tokens and a stopword list. Besides each memory's own
BM25 it scores the *window* of a memory: its text together with the turns just
before and after it in the same session. A question's words are often spread
over a turn and its reply ("Did you go?" / "Yes, the support group was
great"); scoring the window finds them (+0.09 Recall@10 on LoCoMo dev,
BENCHMARKS.md ablation). The durable full-text index is the store's FTS5 table;
this one exists for ranking.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from engramdb.recall.text import STOPWORDS

__all__ = ["LexicalIndex", "analyze"]

F64 = npt.NDArray[np.float64]
_TOKEN = re.compile(r"[^\W_]{2,}", re.UNICODE)
# Conversational filler carries no topic either (measured: +0.02 Recall@10 over
# function words alone on LoCoMo dev).
_STOP = STOPWORDS | frozenset(
    "get got go going gonna really yeah like lot much thing things would could also just "  # noqa: SIM905
    "wow oh hey hi".split()
)
_stemmer: object | None = None


def _stem(words: list[str]) -> list[str]:
    global _stemmer
    if _stemmer is None:
        import Stemmer  # PyStemmer: the Snowball stemmers, compiled

        _stemmer = Stemmer.Stemmer("english")
    return list(_stemmer.stemWords(words))  # type: ignore[union-attr]


def analyze(text: str) -> list[str]:
    """Lower-cased, stopword-free, stemmed tokens of at least two characters."""
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOP]
    return _stem(words)


class _Postings:
    """BM25 statistics of one set of documents."""

    def __init__(self, counts: Sequence[Counter[str]], k1: float, b: float) -> None:
        self.n = len(counts)
        lengths = np.array([sum(c.values()) for c in counts], dtype=np.float64)
        average = float(lengths.mean()) if self.n else 1.0
        self.norm = k1 * (1 - b + b * lengths / (average or 1.0))
        self.k1 = k1
        docs: dict[str, list[int]] = {}
        freqs: dict[str, list[int]] = {}
        for i, counter in enumerate(counts):
            for term, tf in counter.items():
                docs.setdefault(term, []).append(i)
                freqs.setdefault(term, []).append(tf)
        self.postings = {
            term: (np.array(docs[term], dtype=np.int64), np.array(freqs[term], dtype=np.float64))
            for term in docs
        }

    def scores(self, terms: Sequence[str]) -> F64:
        out = np.zeros(self.n, dtype=np.float64)
        for term in set(terms):
            found = self.postings.get(term)
            if found is None:
                continue
            docs, tf = found
            idf = np.log(1.0 + (self.n - len(docs) + 0.5) / (len(docs) + 0.5))
            out[docs] += idf * tf * (self.k1 + 1) / (tf + self.norm[docs])
        return out


class LexicalIndex:
    """BM25 of every memory of a namespace, and of every memory's session window."""

    def __init__(
        self,
        documents: Sequence[str],
        session: npt.NDArray[np.int64],
        *,
        k1: float = 1.5,
        b: float = 0.75,
    ) -> None:
        counts = [Counter(analyze(doc)) for doc in documents]
        self.single = _Postings(counts, k1, b)
        windows: list[Counter[str]] = []
        for i, own in enumerate(counts):
            window = Counter(own)
            for j in (i - 1, i + 1):
                if 0 <= j < len(counts) and session[j] == session[i] and session[i] >= 0:
                    window.update(counts[j])
            windows.append(window)
        self.window = _Postings(windows, k1, b)
        self.lengths = np.array([sum(c.values()) for c in counts], dtype=np.float64)

    def scores(self, terms: Sequence[str]) -> tuple[F64, F64]:
        """BM25 of each memory and of each memory's window for ``terms``."""
        return self.single.scores(terms), self.window.scores(terms)
