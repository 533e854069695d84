"""In-memory BM25 over one namespace: single memories, session windows, sessions.

Built from a store ``Catalog`` (derived, rebuilt when the namespace changes)
with Snowball-stemmed tokens of folded text (``recall.text.fold``: no case, no
accents, no compatibility forms, so "pasteis" meets "pastéis") and a stopword
list. Besides each memory's own BM25 it scores *windows*: a memory's text
together with the turns just before and after it in the same session. A
question's words are often spread over a turn and its reply ("Did you go?" /
"Yes, the support group was great"); scoring the window finds them (+0.023
Recall@10 on LoCoMo dev, BENCHMARKS.md ablation). The durable full-text index
is the store's FTS5 table; this one exists for ranking.

Rebuilding after a write must be cheap (an agent adds a turn, then searches):
each distinct document is analysed once and kept in a ``DocumentCache``; the
postings are then assembled with array operations only.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engramdb.recall.text import STOPWORDS, fold

__all__ = ["WINDOWS", "DocumentCache", "LexicalIndex", "analyze", "words"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
_TOKEN = re.compile(r"[^\W_]{2,}", re.UNICODE)
# Conversational filler carries no topic either (measured: +0.02 Recall@10 over
# function words alone on LoCoMo dev).
_STOP = STOPWORDS | frozenset(
    "get got go going gonna really yeah like lot much thing things would could also just "  # noqa: SIM905
    "wow oh hey hi".split()
)
_stemmer: object | None = None

#: Session windows scored besides the memory itself: (first offset, last offset,
#: weight of the memory's own words). Each adds a little on LoCoMo dev: the reply
#: after a question, the question before an answer, a wider span for stories.
WINDOWS: dict[str, tuple[int, int, int]] = {
    "window": (-1, 1, 2),
    "before": (-1, 0, 1),
    "after": (0, 1, 1),
    "wide": (-2, 2, 1),
}


def _stem(words: list[str]) -> list[str]:
    global _stemmer
    if _stemmer is None:
        import Stemmer  # PyStemmer: the Snowball stemmers, compiled

        _stemmer = Stemmer.Stemmer("english")
    return list(_stemmer.stemWords(words))  # type: ignore[union-attr]


def analyze(text: str) -> list[str]:
    """Folded, stopword-free, stemmed tokens of at least two characters; memories and
    queries alike (so every lexical comparison of recall folds the same way)."""
    words = [w for w in _TOKEN.findall(fold(text)) if w not in _STOP]
    return _stem(words)


def words(text: str) -> list[str]:
    """The distinct folded, stopword-free words of ``text``, unstemmed: the terms a
    store's full-text index takes (it stems them as it stemmed what it indexed)."""
    return list(dict.fromkeys(w for w in _TOKEN.findall(fold(text)) if w not in _STOP))


@dataclass(frozen=True, slots=True)
class _Analysed:
    terms: I64
    counts: F64


class DocumentCache:
    """Analysed documents and the term vocabulary of one namespace, kept across rebuilds."""

    def __init__(self) -> None:
        self.vocabulary: dict[str, int] = {}
        self._documents: dict[str, _Analysed] = {}
        self._flags: dict[tuple[str, str], float] = {}

    def __len__(self) -> int:
        return len(self._documents)

    def get(self, document: str) -> _Analysed:
        found = self._documents.get(document)
        if found is None:
            counts = Counter(analyze(document))
            vocabulary = self.vocabulary
            found = _Analysed(
                np.array([vocabulary.setdefault(t, len(vocabulary)) for t in counts], np.int64),
                np.array(list(counts.values()), dtype=np.float64),
            )
            self._documents[document] = found
        return found

    def flag(self, kind: str, document: str, compute: Callable[[str], float]) -> float:
        """A per-document feature (``kind`` names it), computed once per document."""
        key = (kind, document)
        found = self._flags.get(key)
        if found is None:
            found = self._flags[key] = compute(document)
        return found

    def term_ids(self, terms: Sequence[str]) -> list[int]:
        return [self.vocabulary[t] for t in dict.fromkeys(terms) if t in self.vocabulary]

    def retain(self, documents: Sequence[str]) -> None:
        """Forget analyses of documents no longer in the namespace (bounded memory)."""
        keep = set(documents)
        if len(self._documents) > 2 * len(keep) + 1024:
            self._documents = {d: a for d, a in self._documents.items() if d in keep}
            self._flags = {k: v for k, v in self._flags.items() if k[1] in keep}


def _bm25(tf: F64, norm: F64, k1: float) -> F64:
    """BM25 of one term over documents whose term frequencies are ``tf`` (dense)."""
    hit = np.flatnonzero(tf)
    out = np.zeros(len(tf), dtype=np.float64)
    if len(hit):
        idf = np.log(1.0 + (len(tf) - len(hit) + 0.5) / (len(hit) + 0.5))
        f = tf[hit]
        out[hit] = idf * f * (k1 + 1) / (f + norm[hit])
    return out


class LexicalIndex:
    """BM25 of every memory of a namespace, of its session windows and of its session.

    Only single-memory postings are stored. A window's term frequencies are
    shifted sums of its members' at query time (a few array operations per
    query term), so building the index after a write costs one sort.
    """

    def __init__(
        self,
        documents: Sequence[str],
        session: npt.NDArray[np.int64],
        *,
        cache: DocumentCache | None = None,
        k1: float = 1.5,
        b: float = 0.75,
    ) -> None:
        self.cache = cache if cache is not None else DocumentCache()  # an empty one is falsy
        self.k1 = k1
        n = self.n = len(documents)
        analysed = [self.cache.get(doc) for doc in documents]
        sizes = np.array([len(a.terms) for a in analysed], dtype=np.int64)
        rows = np.repeat(np.arange(n, dtype=np.int64), sizes)
        terms = np.concatenate([a.terms for a in analysed]) if n else np.zeros(0, np.int64)
        counts = np.concatenate([a.counts for a in analysed]) if n else np.zeros(0)
        order = np.argsort(terms, kind="stable")
        self.rows, self.counts = rows[order], counts[order]
        vocabulary = int(terms.max()) + 1 if len(terms) else 0
        self.pointer = np.searchsorted(terms[order], np.arange(vocabulary + 1))
        self.lengths: F64 = np.bincount(rows, weights=counts, minlength=n).astype(np.float64)

        # Row i + offset when it is in the same session as row i, else -1.
        index = np.arange(n, dtype=np.int64)
        self.offsets: dict[int, npt.NDArray[np.int64]] = {}
        for offset in {o for first, last, _ in WINDOWS.values() for o in range(first, last + 1)}:
            other = index + offset
            valid = (other >= 0) & (other < n)
            same = np.zeros(n, dtype=bool)
            same[valid] = (session[other[valid]] == session[valid]) & (session[valid] >= 0)
            self.offsets[offset] = np.where(same | (offset == 0), other, -1)
        self.norms = {"single": self._norm(self.lengths, b)}
        for name in WINDOWS:
            self.norms[name] = self._norm(self._window(self.lengths, name), b)
        codes, self.session_row = np.unique(session, return_inverse=True)
        self.session_count = len(codes)
        per_session = np.bincount(self.session_row, weights=self.lengths, minlength=len(codes))
        self.session_norm = self._norm(per_session.astype(np.float64), b)
        self.has_session = session >= 0
        self.cache.retain(documents)

    def _norm(self, lengths: F64, b: float) -> F64:
        average = float(lengths.mean()) if len(lengths) else 1.0
        return self.k1 * (1 - b + b * lengths / (average or 1.0))

    def _window(self, values: F64, name: str) -> F64:
        first, last, own = WINDOWS[name]
        out = values * own
        padded = np.append(values, 0.0)  # index -1 reads the appended zero
        for offset in range(first, last + 1):
            if offset != 0:
                out = out + padded[self.offsets[offset]]
        return out

    def scores(self, terms: Sequence[str]) -> dict[str, F64]:
        """BM25 for ``terms`` of each memory (``"single"``), window kind and session,
        and ``"coverage"``: the share of the terms each memory contains."""
        out = {name: np.zeros(self.n) for name in ("single", *WINDOWS, "session", "coverage")}
        ids = self.cache.term_ids(terms)
        for term in ids:
            if term + 1 >= len(self.pointer) or self.pointer[term] == self.pointer[term + 1]:
                continue
            start, end = int(self.pointer[term]), int(self.pointer[term + 1])
            tf = np.zeros(self.n)
            tf[self.rows[start:end]] = self.counts[start:end]
            out["single"] += _bm25(tf, self.norms["single"], self.k1)
            out["coverage"] += tf > 0
            for name in WINDOWS:
                out[name] += _bm25(self._window(tf, name), self.norms[name], self.k1)
            tf_session = np.bincount(self.session_row, weights=tf, minlength=self.session_count)
            out["session"] += _bm25(tf_session.astype(np.float64), self.session_norm, self.k1)[
                self.session_row
            ]
        out["session"] = np.where(self.has_session, out["session"], 0.0)
        # Share of the query's distinct known terms found in the memory itself: a window
        # may score as high as its best turn, but the turn that says it all should win.
        out["coverage"] /= max(len(ids), 1)
        return out
