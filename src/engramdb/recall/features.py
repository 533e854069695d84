"""The signals the attention ranker weighs, computed for every memory of a namespace.

``NamespaceView`` holds what does not depend on the query (lexical index,
neighbour links, per-memory priors), built once per store ``Catalog``.
``signals`` computes, for one query, an array per signal over all memories.
Names here are the keys of ``weights.json``. This module decides what is
measured, not how much it counts (that is the fitted weights').
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from engramdb.recall.lexical import LexicalIndex, analyze
from engramdb.recall.when import TimeWindow, find_times
from engramdb.store.base import Catalog

__all__ = ["SIGNALS", "NamespaceView", "Query", "signals"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: Every signal, in the order explanations list them when shares tie.
SIGNALS = (
    "dense",
    "dense_window",
    "dense_before",
    "dense_after",
    "lexical",
    "lexical_window",
    "lexical_before",
    "lexical_after",
    "lexical_wide",
    "speaker",
    "speaker_other",
    "neighbour_dense",
    "neighbour_lexical",
    "session_dense",
    "session_dense_mean",
    "session_lexical",
    "session_bm25",
    "time_window",
    "time_mention",
    "time_expression",
    "is_question",
    "length",
)

_TIME_WORDS = re.compile(
    r"\b(yesterday|today|tonight|tomorrow|ago|recently|last|next|weekend|week|month|year|"
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|(?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_ASKS_WHEN = re.compile(r"^\s*(when|what (year|month|day|date|time)|how long ago)\b", re.I)


@dataclass(frozen=True, slots=True)
class Query:
    """A query as the ranker sees it."""

    text: str
    vector: npt.NDArray[np.float32]
    now: datetime
    terms: list[str] = field(default_factory=list)
    words: frozenset[str] = frozenset()
    windows: tuple[TimeWindow, ...] = ()
    asks_when: bool = False

    @classmethod
    def parse(cls, text: str, vector: npt.NDArray[np.float32], now: datetime) -> Query:
        return cls(
            text=text,
            vector=vector,
            now=now,
            terms=analyze(text),
            words=frozenset(w.lower() for w in re.findall(r"[^\W_]+", text)),
            windows=tuple(find_times(text, now)),
            asks_when=bool(_ASKS_WHEN.match(text)),
        )


class NamespaceView:
    """Query-independent data about every memory of one namespace."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        n = len(catalog)
        self.lexical = LexicalIndex(catalog.documents, catalog.session)
        same_prev = np.zeros(n, dtype=bool)
        same_next = np.zeros(n, dtype=bool)
        if n > 1:
            linked = (catalog.session[1:] == catalog.session[:-1]) & (catalog.session[1:] >= 0)
            same_prev[1:] = linked
            same_next[:-1] = linked
        # Rows follow insertion order; turns of a session are added in order, so the
        # previous row of the same session is the previous turn.
        self.prev = np.where(same_prev, np.arange(n) - 1, -1)
        self.next = np.where(same_next, np.arange(n) + 1, -1)
        sessions = catalog.session
        self.session_codes, self.session_index = np.unique(sessions, return_inverse=True)
        self.no_session = sessions < 0
        self.length = np.log1p(self.lexical.lengths)
        # Window vectors: the normalised sum of a memory's vector and its neighbours'.
        # Costs no extra embedding and stands in for embedding the window's text.
        vectors = catalog.vectors.astype(np.float32)
        zero = np.zeros((1, vectors.shape[1]), dtype=np.float32)
        padded = np.vstack([vectors, zero])  # row n is "no neighbour"
        before = padded[np.where(self.prev >= 0, self.prev, n)]
        after = padded[np.where(self.next >= 0, self.next, n)]
        self.window_vectors = {
            "dense_window": _unit(before + vectors + after),
            "dense_before": _unit(before + vectors),
            "dense_after": _unit(vectors + after),
        }
        self.is_question = np.array(["?" in d for d in catalog.documents], dtype=np.float64)
        self.time_mention = np.array(
            [1.0 if _TIME_WORDS.search(d) else 0.0 for d in catalog.documents], dtype=np.float64
        )
        first_names = [(s or "").split()[0].lower() if s else "" for s in catalog.speakers]
        self.speaker_names = np.array(first_names, dtype=object)
        self.known_speakers = {name for name in first_names if name}
        self.speaker_terms = set(analyze(" ".join(self.known_speakers)))
        self.row_of = {engram_id: i for i, engram_id in enumerate(catalog.ids)}


def _unit(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.where(norms > 0, norms, 1.0), dtype=np.float32)


def _neighbour_max(values: F64, view: NamespaceView, fill: float) -> F64:
    prev = np.where(view.prev >= 0, values[np.maximum(view.prev, 0)], fill)
    nxt = np.where(view.next >= 0, values[np.minimum(view.next, len(values) - 1)], fill)
    return np.maximum(prev, nxt)


def _session_max(values: F64, view: NamespaceView) -> F64:
    best = np.full(len(view.session_codes), -np.inf)
    np.maximum.at(best, view.session_index, values)
    out = best[view.session_index]
    return np.where(view.no_session, values, out)


def _session_mean(values: F64, view: NamespaceView) -> F64:
    sums = np.bincount(view.session_index, weights=values, minlength=len(view.session_codes))
    counts = np.bincount(view.session_index, minlength=len(view.session_codes))
    out = (sums / np.maximum(counts, 1))[view.session_index]
    return np.where(view.no_session, values, out)


def _normalised(values: F64) -> F64:
    top = float(values.max()) if values.size else 0.0
    return values / top if top > 0 else values


def signals(
    query: Query, view: NamespaceView, dense: F64, rows: npt.NDArray[np.int64] | None = None
) -> dict[str, F64]:
    """Every signal for every memory of the namespace (arrays in catalog order).

    ``rows``, when given, are the memories whose ``dense`` value was computed
    (the approximate index's candidates); the others hold a floor value.
    """
    n = len(view.catalog)
    # Names are left to the speaker signals: in BM25 a name matches everything its
    # owner said and drowns the words that say what the question is about.
    terms = [t for t in query.terms if t not in view.speaker_terms] or query.terms
    bm25 = {name: _normalised(values) for name, values in view.lexical.scores(terms).items()}
    lexical = bm25["single"]

    named = [
        name for name in view.known_speakers if name in query.words or name + "s" in query.words
    ]
    speaker = np.zeros(n)
    speaker_other = np.zeros(n)
    if len(named) == 1:  # "What did Caroline ..." names one person: prefer what she said
        match = view.speaker_names == named[0]
        speaker = match.astype(np.float64)
        speaker_other = (~match & (view.speaker_names != "")).astype(np.float64)

    floor = float(dense.min()) if n else 0.0
    time_window = np.zeros(n)
    if query.windows:
        at = view.catalog.occurred_at
        for span in query.windows:
            inside = (at >= span.start.timestamp()) & (at < span.end.timestamp())
            time_window = np.maximum(time_window, inside.astype(np.float64))

    if rows is None:
        windows = {
            name: (matrix @ query.vector).astype(np.float64)
            for name, matrix in view.window_vectors.items()
        }
    else:  # large namespace: only the dense candidates get window similarities
        windows = {}
        for name, matrix in view.window_vectors.items():
            values = np.full(n, float(dense.min()) if n else 0.0)
            values[rows] = matrix[rows] @ query.vector
            windows[name] = values
    return windows | {
        "dense": dense,
        "lexical": lexical,
        "lexical_window": bm25["window"],
        "lexical_before": bm25["before"],
        "lexical_after": bm25["after"],
        "lexical_wide": bm25["wide"],
        "speaker": speaker,
        "speaker_other": speaker_other,
        "neighbour_dense": _neighbour_max(dense, view, floor),
        "neighbour_lexical": _neighbour_max(lexical, view, 0.0),
        "session_dense": _session_max(dense, view),
        "session_dense_mean": _session_mean(dense, view),
        "session_lexical": _session_max(lexical, view),
        "session_bm25": bm25["session"],
        "time_window": time_window,
        "time_mention": view.time_mention * (1.0 if query.asks_when else 0.0),
        "time_expression": view.time_mention,
        "is_question": view.is_question,
        "length": view.length,
    }


def feature_matrix(features: dict[str, F64], names: Sequence[str]) -> F64:
    """Stack named signals into a (memories, signals) matrix (for fitting)."""
    return np.stack([features[name] for name in names], axis=1)
