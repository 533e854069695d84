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

Analysing is the one costly step of a view (tens of microseconds a document),
and a two-stage search over a large namespace reads a new pool of candidates
each time. So a document's analysis is also kept *beside the memory*:
``stored_analysis`` is what a store writes with it (its terms and flags,
``ANALYSIS_VERSION`` first), and the cache reads that instead of analysing
again. An analysis of another version is not trusted: the document is
analysed afresh (docs/recall.md, "What a search reads").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from engramdb.recall.text import STOPWORDS, fold

__all__ = [
    "ANALYSIS_VERSION",
    "RECOGNISED",
    "TIME_WORDS",
    "VOCABULARY_SLACK",
    "WINDOWS",
    "DocumentCache",
    "LexicalIndex",
    "analyze",
    "stored_analysis",
    "words",
]

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

#: The version of what ``stored_analysis`` writes. Raise it whenever ``analyze`` (its
#: folding, tokens, stopwords or stemmer) or a flag changes: analyses stored under
#: another version are then analysed afresh, not trusted.
ANALYSIS_VERSION = 1
_HEADER = f"a{ANALYSIS_VERSION}:"
# The four heads of a stored analysis ("a1:" and its two flags), each with the id the
# vocabulary gives it: -1 - (2 * is_question + time_mention), below every term's id.
_HEADS = {f"{_HEADER}{q}{t}": -1 - (2 * q + t) for q in (0, 1) for t in (0, 1)}
_HEAD = len(_HEADER) + 2
_OPENINGS = frozenset(head + " " for head in _HEADS)
#: Words that place a memory in time: its ``time_mention`` flag (recall.features).
TIME_WORDS = re.compile(
    r"\b(yesterday|today|tonight|tomorrow|ago|recently|last|next|weekend|week|month|year|"
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|(?:19|20)\d\d)\b",
    re.IGNORECASE,
)

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


def stored_analysis(document: str) -> str:
    """What a store keeps of ``document`` for recall (sealed like its text): the
    version, whether it asks (a "?") and mentions a time (``TIME_WORDS``), then the
    terms of ``analyze`` in order, as ``"a1:10 term term ..."``. Terms hold no spaces."""
    question = "1" if "?" in document else "0"
    time = "1" if TIME_WORDS.search(document) else "0"
    return " ".join((f"{_HEADER}{question}{time}", *analyze(document)))


def _valid(stored: str | None) -> bool:
    """Whether ``stored`` is a ``stored_analysis`` of this version."""
    return stored is not None and (stored[: _HEAD + 1] in _OPENINGS or stored in _HEADS)


class _Vocabulary(dict[str, int]):
    """Term -> id; a term not seen before gets the next id as it is looked up. The
    heads of stored analyses are in it from the start, under ids below 0 (``_HEADS``)."""

    def __init__(self) -> None:
        super().__init__(_HEADS)

    def __missing__(self, term: str) -> int:
        self[term] = found = len(self)
        return found


#: Terms a namespace's vocabulary may hold beyond twice those of its latest index
#: before it is started afresh: the terms of deleted and rewritten memories would
#: otherwise stay for the life of the process (docs/limits.md, "Caches").
VOCABULARY_SLACK = 65_536


class DocumentCache:
    """The term vocabulary of one namespace, and the documents recall analysed itself
    (those without a stored analysis of this version), kept across rebuilds.

    Both are bounded by what the namespace holds now (``retain``): the analyses by
    its documents, the vocabulary by its terms. An index keeps the vocabulary it was
    built with, so starting a new one never changes what an index built before
    answers; ids differ between vocabularies, results do not."""

    def __init__(self) -> None:
        self.vocabulary: dict[str, int] = _Vocabulary()
        self._documents: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._documents)

    def get(self, document: str, stored: str | None = None) -> str:
        """The analysis of ``document`` in the form ``stored_analysis`` gives: ``stored``
        when the store kept one of this version, else analysed here once and kept."""
        if _valid(stored):
            return stored  # type: ignore[return-value]  # _valid: not None
        found = self._documents.get(document)
        if found is None:
            found = self._documents[document] = stored_analysis(document)
        return found

    def retain(self, documents: Sequence[str]) -> None:
        """Forget analyses of documents no longer in the namespace (bounded memory)."""
        keep = set(documents)
        if len(self._documents) > 2 * len(keep) + 1024:
            self._documents = {d: a for d, a in self._documents.items() if d in keep}

    def retain_terms(self, terms: int) -> None:
        """Start the vocabulary afresh when it holds far more than the ``terms`` of the
        latest index: the next index numbers only the terms it holds."""
        if len(self.vocabulary) > 2 * terms + len(_HEADS) + VOCABULARY_SLACK:
            self.vocabulary = _Vocabulary()


#: Below this share of shared words a memory is not recognised in a query (``recognition``):
#: a question shares far fewer with the turn that answers it (LoCoMo dev: 32 of some
#: 420,000 question-turn pairs pass it, two of them evidence turns, none above 0.58
#: recognition), a query that says a memory again with a word in six left out shares
#: about 0.8.
RECOGNISED = 0.5


def _idf(documents: int, holding: int) -> float:
    """BM25's IDF of a term held by ``holding`` of ``documents`` documents."""
    return float(np.log(1.0 + (documents - holding + 0.5) / (holding + 0.5)))


def _bm25(tf: F64, norm: F64, k1: float) -> F64:
    """BM25 of one term over documents whose term frequencies are ``tf`` (dense)."""
    hit = np.flatnonzero(tf)
    out = np.zeros(len(tf), dtype=np.float64)
    if len(hit):
        idf = _idf(len(tf), len(hit))
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
        stored: Sequence[str | None] = (),
        k1: float = 1.5,
        b: float = 0.75,
    ) -> None:
        """``stored``: each document's ``stored_analysis`` (None where the store kept
        none), read instead of analysing it; empty: none kept."""
        self.cache = cache if cache is not None else DocumentCache()  # an empty one is falsy
        self.k1 = k1
        n = self.n = len(documents)
        get = self.cache.get
        #: term -> id for this index: the cache's vocabulary when it was built
        self.vocabulary = vocabulary = self.cache.vocabulary
        if stored:
            analyses = [get(d, s) for d, s in zip(documents, stored, strict=True)]
        else:
            analyses = [get(d) for d in documents]
        # Every analysis at once: one string split into heads and terms, each mapped to
        # its id (a head's is below 0 and starts the next document), then postings of
        # every (term, document) pair as the key term << 32 | row, counted and sorted by
        # np.unique (by term, then row).
        occurrences = " ".join(analyses).split(" ") if analyses else []
        ids = np.fromiter(map(vocabulary.__getitem__, occurrences), np.int64, len(occurrences))
        head = ids < 0
        flags = -1 - ids[head]
        #: whether each document asks something ("?") and mentions a time (``TIME_WORDS``)
        self.is_question = (flags >> 1).astype(np.float64)
        self.time_mention = (flags & 1).astype(np.float64)
        rows = (np.cumsum(head) - 1)[~head]
        keys, counts = np.unique((ids[~head] << 32) | rows, return_counts=True)
        ordered = keys >> 32
        self.rows, self.counts = keys & 0xFFFFFFFF, counts.astype(np.float64)
        # The postings of the k-th term present are rows[pointer[k]:pointer[k + 1]];
        # ``present`` holds the cache's ids of those terms, ascending. Only the terms
        # of these documents count, not the cache's whole vocabulary.
        starts = np.flatnonzero(np.diff(ordered, prepend=-1))
        self.present = ordered[starts]
        self.pointer = np.append(starts, len(ordered)).astype(np.int64)
        self.lengths: F64 = np.bincount(rows, minlength=n).astype(np.float64)

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
        self.cache.retain_terms(len(self.present))

    def _postings(self, term: int) -> tuple[int, int]:
        """Where the postings of the cache's term ``term`` lie (empty when absent)."""
        k = int(np.searchsorted(self.present, term))
        if k == len(self.present) or self.present[k] != term:
            return 0, 0
        return int(self.pointer[k]), int(self.pointer[k + 1])

    def frequency(self, term: str) -> int:
        """How many documents hold ``term`` (an analysed term)."""
        start, end = self._postings(self.vocabulary.get(term, -1))
        return end - start

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

    def recognition(
        self,
        terms: Sequence[str],
        own: Callable[[int], Sequence[str]] | None = None,
        *,
        asks: bool = False,
    ) -> F64:
        """How nearly each memory is the query said again, from 0 to 1: recognition,
        which a cue that repeats an experience's own words gives at once (docs/recall.md,
        "Recognition"). Two shares, the smaller counts: of the query's distinct terms,
        weighted by their BM25 IDF, those the memory holds (a term no memory holds at
        the IDF of one held by none); of the memory's terms, counted as often as they
        occur, those the query holds. ``own`` gives a memory's own terms, those of its
        text without the keys it is also indexed under (the speaker's name, resolved
        dates: a query that says the memory again need not say them); when given, both
        shares are of those, for the documents that could pass. Below ``RECOGNISED`` it
        is 0; a memory said again word for word is 1. Every query term counts, names
        too (``scores`` leaves the speakers' out)."""
        n = self.n
        distinct = list(dict.fromkeys(terms))
        if not distinct or not n:
            return np.zeros(n)
        unseen = _idf(n, 0)
        idf = dict.fromkeys(distinct, unseen)
        weighed = np.zeros(n)
        shared = np.zeros(n)
        for term in distinct:
            start, end = self._postings(self.vocabulary.get(term, -1))
            if start == end:
                continue
            idf[term] = _idf(n, end - start)
            weighed[self.rows[start:end]] += idf[term]
            shared[self.rows[start:end]] += self.counts[start:end]
        total = sum(idf.values())
        query_share = weighed / total
        memory_share = shared / np.maximum(self.lengths, 1.0)
        if own is not None:  # its own terms are some of a document's: only these can pass
            for row in np.flatnonzero(query_share > RECOGNISED).tolist():
                words = own(row)
                held = set(words)  # summed in the query's order: the same in every process
                query_share[row] = sum(idf[t] for t in distinct if t in held) / total
                memory_share[row] = sum(1 for t in words if t in idf) / max(len(words), 1)
        nearness = np.minimum(query_share, memory_share)
        if asks:  # a question asked again: what is meant is its answer, not the question
            nearness[self.is_question > 0] = 0.0
        return np.clip((nearness - RECOGNISED) / (1.0 - RECOGNISED), 0.0, 1.0)

    def scores(self, terms: Sequence[str]) -> dict[str, F64]:
        """BM25 for ``terms`` of each memory (``"single"``), window kind and session,
        and ``"coverage"``: the share of the terms each memory contains."""
        out = {name: np.zeros(self.n) for name in ("single", *WINDOWS, "session", "coverage")}
        vocabulary = self.vocabulary
        ids = [vocabulary[t] for t in dict.fromkeys(terms) if t in vocabulary]
        for term in ids:
            start, end = self._postings(term)
            if start == end:
                continue
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
