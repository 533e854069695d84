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


#: Session windows scored besides the memory itself: (first offset, last offset,
#: weight of the memory's own words). Each adds a little on LoCoMo dev: the reply
#: after a question, the question before an answer, a wider span for stories.
WINDOWS: dict[str, tuple[int, int, int]] = {
    "window": (-1, 1, 2),
    "before": (-1, 0, 1),
    "after": (0, 1, 1),
    "wide": (-2, 2, 1),
}


class LexicalIndex:
    """BM25 of every memory of a namespace, and of every memory's session windows."""

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
        self.windows = {
            name: _Postings(_windows(counts, session, *spec), k1, b)
            for name, spec in WINDOWS.items()
        }
        self.lengths = np.array([sum(c.values()) for c in counts], dtype=np.float64)
        # A whole session as one document: where a conversation was about the topic.
        codes, self.session_row = np.unique(session, return_inverse=True)
        merged: list[Counter[str]] = [Counter() for _ in codes]
        for i, own in enumerate(counts):
            merged[int(self.session_row[i])].update(own)
        self.sessions = _Postings(merged, k1, b)
        self.has_session = session >= 0

    def scores(self, terms: Sequence[str]) -> dict[str, F64]:
        """BM25 for ``terms`` of each memory (``"single"``) and of each window kind."""
        out = {"single": self.single.scores(terms)}
        for name, postings in self.windows.items():
            out[name] = postings.scores(terms)
        per_session = self.sessions.scores(terms)
        out["session"] = np.where(self.has_session, per_session[self.session_row], 0.0)
        return out


def _windows(
    counts: Sequence[Counter[str]],
    session: npt.NDArray[np.int64],
    first: int,
    last: int,
    own_weight: int,
) -> list[Counter[str]]:
    out: list[Counter[str]] = []
    for i, own in enumerate(counts):
        window: Counter[str] = Counter()
        for _ in range(own_weight):
            window.update(own)
        if session[i] >= 0:
            for j in range(i + first, i + last + 1):
                if j != i and 0 <= j < len(counts) and session[j] == session[i]:
                    window.update(counts[j])
        out.append(window)
    return out
