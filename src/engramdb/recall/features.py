"""The signals the attention ranker weighs, computed for every memory of a namespace.

``NamespaceView`` holds what does not depend on the query (lexical index,
neighbour links, per-memory priors), built once per store ``Catalog``.
``signals`` computes, for one query, an array per signal over all memories.
Names here are the keys of ``weights.json``. This module decides what is
measured, not how much it counts (that is the fitted weights').
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from engramdb.dynamics.retention import (
    MAX_STABILITY_DAYS,
    MIN_STABILITY_DAYS,
    retrievability_array,
)
from engramdb.model import DEFAULT_IMPORTANCE, DEFAULT_STABILITY_DAYS, Fact
from engramdb.recall.indexing import keys_of
from engramdb.recall.lexical import DocumentCache, LexicalIndex, analyze
from engramdb.recall.text import fold
from engramdb.recall.when import TimeWindow, find_times
from engramdb.store.base import Catalog, Dynamics

__all__ = ["SIGNALS", "Knowledge", "NamespaceView", "Query", "signals"]

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
    "coverage",
    # recognition: the query says the memory again (recall.lexical.LexicalIndex.recognition,
    # docs/recall.md "Recognition"); weight hand-set (bench/ranker_fit.py HAND_SET): LoCoMo
    # repeats no turn in a question to learn it from
    "recognition",
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
    # memory dynamics (docs/dynamics.md): salience is a prior after relevance (recall.ranker,
    # docs/recall.md "Salience"); its strength and emotion_match's weight are set
    # (bench/ranker_fit.py PRIOR and HAND_SET)
    "salience",
    "emotion_match",
    # context-conditioned recall (docs/context.md): cosine with the conversation so far;
    # weight hand-set (bench/ranker_fit.py HAND_SET), zero when no context is given
    "context_dense",
    # consolidation (docs/consolidation.md): facts and summaries as keys for their episodes, and
    # each fact's validity for the query (as_of, "used to"); weights hand-set
    # (bench/ranker_fit.py HAND_SET): LoCoMo holds no updates to learn them from
    "fact",
    "fact_change",
    "fact_outdated",
    "summary",
    "validity",
)

# "What did Maya used to do?", "where did she live before?": prefer superseded facts
_ASKS_PAST = re.compile(
    r"\b(used to|previous(?:ly)?|before|former(?:ly)?|prior|originally|earlier|"
    r"anymore|no longer|old|ex)\b",
    re.IGNORECASE,
)
# A fact counts as a key only by how much its cosine with the query exceeds this
# floor: unrelated short sentences still score ~0.1-0.25 with MiniLM.
KEY_FLOOR = 0.3
# A statement's fact is said in a canonical form ("Maya works at Etsy"), so sharing
# the query's words tells which attribute a question is about where cosine, led
# by the shared name, barely does ("Where does Maya work?" is as near to "Maya
# lives in Denver"): each share of the query's words the fact holds adds this much
# to its match (bench/updates.py, BENCHMARKS.md).
KEY_COVERAGE = 0.5
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
    #: the tone recall leans toward (mood-congruent search): valence in [-1, 1]
    #: and a label; None for an ordinary search
    mood: tuple[float, str] | None = None
    #: the embedding of the conversation so far (``search(context=...)``), or None
    context_vector: npt.NDArray[np.float32] | None = None
    #: the event time the query asks about (``search(as_of=...)``), or None for now
    as_of: datetime | None = None
    #: the query asks what used to be true ("used to", "before", "previously")
    asks_past: bool = False

    @classmethod
    def parse(
        cls,
        text: str,
        vector: npt.NDArray[np.float32],
        now: datetime,
        *,
        mood: tuple[float, str] | None = None,
        context_vector: npt.NDArray[np.float32] | None = None,
        as_of: datetime | None = None,
    ) -> Query:
        return cls(
            text=text,
            vector=vector,
            now=now,
            terms=analyze(text),
            words=frozenset(re.findall(r"[^\W_]+", fold(text))),
            windows=tuple(find_times(text, now)),
            asks_when=bool(_ASKS_WHEN.match(text)),
            mood=mood,
            context_vector=context_vector,
            as_of=as_of,
            asks_past=bool(_ASKS_PAST.search(text)),
        )


class NamespaceView:
    """Query-independent data about every memory of one namespace."""

    def __init__(
        self,
        catalog: Catalog,
        knowledge: Knowledge | None = None,
        *,
        cache: DocumentCache | None = None,
    ) -> None:
        self.catalog = catalog
        self.knowledge = knowledge or Knowledge.empty()
        n = len(catalog)
        self.lexical = LexicalIndex(
            catalog.documents, catalog.session, cache=cache, stored=catalog.analyses
        )
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
        # Costs no extra embedding and stands in for embedding the window's text. Summed
        # in place, row by row where a neighbour is (a view is built at every two-stage
        # search, and each temporary matrix of a pool is megabytes to fault in).
        vectors = np.asarray(catalog.vectors, dtype=np.float32)
        before = vectors[self.prev[same_prev]]
        after = vectors[self.next[same_next]]
        with_before = vectors.copy()
        with_before[same_prev] += before
        window = with_before.copy()
        window[same_next] += after
        with_after = vectors.copy()
        with_after[same_next] += after
        self.window_vectors = {
            "dense_window": _unit(window),
            "dense_before": _unit(with_before),
            "dense_after": _unit(with_after),
        }
        self.is_question = self.lexical.is_question
        self.time_mention = self.lexical.time_mention
        # Folded as the query's words are: "What did Jose say?" names "José". A
        # namespace has few speakers: each is folded once.
        first = {s: fold(s.split()[0]) if s else "" for s in set(catalog.speakers)}
        self.speaker_names = np.array([first[s] for s in catalog.speakers], dtype=object)
        self.known_speakers = {name for name in first.values() if name}
        self.speaker_terms = set(analyze(" ".join(self.known_speakers)))
        self.row_of = {engram_id: i for i, engram_id in enumerate(catalog.ids)}
        self.dynamics = catalog.dynamics or _default_dynamics(catalog)

    def own_terms(self, row: int) -> list[str]:
        """A memory's analysed terms without those of the keys it is also indexed under
        (``index_keys``: its speaker's name, resolved dates), which end its document:
        what recognition compares with the query."""
        catalog = self.catalog
        document = catalog.documents[row]
        stored = catalog.analyses[row] if catalog.analyses else None
        terms = self.lexical.cache.get(document, stored).split(" ")[1:]
        keys = analyze(keys_of(document, catalog.speakers[row]))
        return terms[: len(terms) - len(keys)] if keys else terms

    def with_catalog(self, catalog: Catalog) -> NamespaceView:
        """This view for a catalog whose content is the same and only dynamics changed."""
        view = copy.copy(self)
        view.catalog = catalog
        view.dynamics = catalog.dynamics or _default_dynamics(catalog)
        return view

    def retention(self, now: datetime) -> F64:
        """R(now) of every memory on its forgetting curve (docs/dynamics.md)."""
        elapsed = (now.timestamp() - self.dynamics.last_used_at) / 86_400.0
        return retrievability_array(elapsed, self.dynamics.stability_days)


_STATUS = {"current": 0, "superseded": 1, "stale": 2}


@dataclass(frozen=True, slots=True)
class Knowledge:
    """Consolidated memories as recall keys (docs/consolidation.md), in catalog rows.

    ``fact_rows`` are the rows of facts, with their event-time validity
    (``valid_to`` is +inf while open), status (0 current, 1 superseded, 2
    stale), whether the fact is the value just before the current one
    (``latest_past``) and whether its subject / attribute ever changed value.
    ``pairs`` maps "fact" and "summary" to (derived rows, episode rows): which
    episodes each derived memory stands for (through derived facts too), and
    "statement" to the facts extracted from each episode itself: what the
    episode said, whose validity is the episode's own (a derived fact that went
    stale says nothing about the statements it was derived from).
    """

    fact_rows: I64
    valid_from: F64
    valid_to: F64
    status: I64
    latest_past: npt.NDArray[np.bool_]
    has_history: npt.NDArray[np.bool_]
    pairs: dict[str, tuple[I64, I64]]

    @classmethod
    def empty(cls) -> Knowledge:
        none = np.zeros(0, dtype=np.int64)
        return cls(none, np.zeros(0), np.zeros(0), none, none.astype(bool), none.astype(bool), {})

    @classmethod
    def build(
        cls, catalog: Catalog, facts: Sequence[Fact], links: Sequence[tuple[str, str, str]]
    ) -> Knowledge:
        """From the store's facts and provenance links ``(derived, source, relation)``."""
        row_of = {engram_id: i for i, engram_id in enumerate(catalog.ids)}
        kinds = catalog.kinds or ("episode",) * len(catalog)
        sources: dict[str, list[str]] = {}
        statements: tuple[list[int], list[int]] = ([], [])
        for derived, source, relation in links:
            if relation != "duplicate":
                sources.setdefault(derived, []).append(source)
            fact_row, source_row = row_of.get(derived), row_of.get(source)
            if relation == "extracted" and fact_row is not None and source_row is not None:
                statements[0].append(fact_row)  # extracted facts come from episodes
                statements[1].append(source_row)

        def episodes_of(engram_id: str, seen: frozenset[str] = frozenset()) -> set[int]:
            out: set[int] = set()
            for source in sources.get(engram_id, ()):
                row = row_of.get(source)
                if row is None or source in seen:
                    continue
                if kinds[row] == "episode":
                    out.add(row)
                else:  # a fact derived from facts stands for their episodes
                    out |= episodes_of(source, seen | {engram_id})
            return out

        pairs: dict[str, tuple[list[int], list[int]]] = {
            "fact": ([], []),
            "summary": ([], []),
            "statement": statements,
        }
        for derived in sources:
            row = row_of.get(derived)
            if row is None or kinds[row] not in ("fact", "summary"):
                continue
            for episode in sorted(episodes_of(derived)):
                pairs[kinds[row]][0].append(row)
                pairs[kinds[row]][1].append(episode)
        present = [f for f in facts if f.engram_id in row_of]
        by_key: dict[tuple[str, str], list[Fact]] = {}
        for fact in present:
            by_key.setdefault((fact.subject.casefold(), fact.attribute), []).append(fact)
        current_ids = {f.engram_id for f in present if f.valid_to is None and f.status == "current"}
        # A history means the value changed (a closed fact), not merely several facts:
        # events and plans accumulate under one attribute without replacing each other.
        changed = {key: any(f.valid_to is not None for f in group) for key, group in by_key.items()}
        return cls(
            fact_rows=np.array([row_of[f.engram_id] for f in present], dtype=np.int64),
            valid_from=np.array([f.valid_from.timestamp() for f in present], dtype=np.float64),
            valid_to=np.array(
                [np.inf if f.valid_to is None else f.valid_to.timestamp() for f in present],
                dtype=np.float64,
            ),
            status=np.array([_STATUS.get(f.status, 2) for f in present], dtype=np.int64),
            latest_past=np.array([f.superseded_by in current_ids for f in present], dtype=bool),
            has_history=np.array(
                [changed.get((f.subject.casefold(), f.attribute), False) for f in present],
                dtype=bool,
            ),
            pairs={
                k: (np.array(d, dtype=np.int64), np.array(e, dtype=np.int64))
                for k, (d, e) in pairs.items()
            },
        )


def _validity(query: Query, view: NamespaceView) -> F64:
    """How much each memory's content holds for this query: 1 for episodes and
    summaries; for a fact, whether it held at ``as_of``, or during the time the
    question names ("in 2022", "last year"), or (a "used to" question) is the
    value that came before, or (by default) holds now."""
    out = np.ones(len(view.catalog))
    k = view.knowledge
    if k.fact_rows.size == 0:
        return out
    if query.as_of is not None:
        at = query.as_of.timestamp()
        held = (k.valid_from <= at) & (at < k.valid_to)
        values = held.astype(np.float64)
    elif query.windows:  # a value that changed counts if it held at some time of the window
        held = np.zeros(k.fact_rows.size, dtype=bool)
        for span in query.windows:
            held |= (k.valid_from < span.end.timestamp()) & (span.start.timestamp() < k.valid_to)
        values = np.where(k.has_history, held.astype(np.float64), 1.0)
    elif query.asks_past:
        past = np.where(k.latest_past, 1.0, 0.6) * (k.status == 1)
        stale = 0.3 * (k.status == 2)
        values = np.where(k.has_history, past + stale, 1.0)
    else:
        values = ((k.status == 0) & np.isinf(k.valid_to)).astype(np.float64)
    out[k.fact_rows] = values
    return out


def _keys(dense: F64, coverage: F64, validity: F64, view: NamespaceView) -> dict[str, F64]:
    """Each episode's best derived key: how far a fact (or summary) standing for it
    matches the query above ``KEY_FLOOR``, times that fact's validity.

    ``fact_change`` and ``fact_outdated`` read what the episode itself said
    (the facts extracted from it, docs/consolidation.md): its statement that
    best matches the query, when that statement's subject and attribute
    changed value over time. The first counts it when the value holds for this
    query (now, at ``as_of``, or before, for "used to"), the second when it does
    not: an episode whose statement was superseded ranks below the one that
    holds. Ordinary conversation has few such facts (LoCoMo), so they can
    weigh a lot where values did change (bench/updates.py).
    """
    n = len(view.catalog)
    k = view.knowledge
    relevance = np.clip(dense - KEY_FLOOR, 0.0, None)
    out = {}
    for name, kind, values in (
        ("fact", "fact", relevance * validity),
        ("summary", "summary", relevance),
    ):
        keyed = np.zeros(n)
        derived, episodes = k.pairs.get(kind, (None, None))
        if derived is not None and episodes is not None and derived.size:
            np.maximum.at(keyed, episodes, values[derived])
        out[name] = keyed
    change, outdated = np.zeros(n), np.zeros(n)
    facts, episodes = k.pairs.get("statement", (None, None))
    if facts is not None and episodes is not None and facts.size:
        changed = np.zeros(n, dtype=bool)
        changed[k.fact_rows] = k.has_history
        keep = changed[facts]
        facts, episodes = facts[keep], episodes[keep]
        match = relevance + KEY_COVERAGE * coverage
        # each episode's statement that best matches the query: the first pair per
        # episode once the pairs are sorted by relevance, best first
        order = np.lexsort((-match[facts], episodes))
        first = np.ones(order.size, dtype=bool)
        first[1:] = episodes[order][1:] != episodes[order][:-1]
        best_fact, episode = facts[order][first], episodes[order][first]
        weight = match[best_fact]
        change[episode] = weight * validity[best_fact]
        outdated[episode] = weight * (1.0 - validity[best_fact])
    out["fact_change"] = change
    out["fact_outdated"] = outdated
    return out


def _default_dynamics(catalog: Catalog) -> Dynamics:
    """What a backend that keeps no dynamics implies: every memory at the defaults."""
    n = len(catalog)
    return Dynamics(
        stability_days=np.full(n, DEFAULT_STABILITY_DAYS),
        importance=np.full(n, DEFAULT_IMPORTANCE),
        valence=np.zeros(n),
        arousal=np.zeros(n),
        emotions=("neutral",) * n,
        last_used_at=catalog.occurred_at.astype(np.float64),
        recalls=np.zeros(n, dtype=np.int64),
        dormant=np.zeros(n, dtype=np.bool_),
        sizes=np.array([len(d.encode("utf-8")) for d in catalog.documents], dtype=np.int64),
    )


def _unit(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """``matrix`` with each row scaled to length 1 (rows of zeros stay), in place."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix /= np.where(norms > 0, norms, 1.0)
    return matrix


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
    lexical_scores = view.lexical.scores(terms)
    coverage = lexical_scores.pop("coverage")
    bm25 = {name: _normalised(values) for name, values in lexical_scores.items()}
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
    validity = _validity(query, view)
    return windows | {
        "dense": dense,
        "lexical": lexical,
        "lexical_window": bm25["window"],
        "lexical_before": bm25["before"],
        "lexical_after": bm25["after"],
        "lexical_wide": bm25["wide"],
        "coverage": coverage,
        "recognition": view.lexical.recognition(
            query.terms, view.own_terms, asks="?" in query.text
        ),
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
        "retention": view.retention(query.now),  # not ranked: dormancy and explanations
        "salience": _salience(view),
        "emotion_match": _emotion_match(query, view),
        "context_dense": _context_dense(query, view),
        "validity": validity,
        **_keys(dense, coverage, validity, view),
    }


def _salience(view: NamespaceView) -> F64:
    """How strongly each memory is held, in [0, 1]: its stability on the log scale
    from the weakest new memory (``MIN_STABILITY_DAYS``) to a year.

    Importance, arousal and spaced recalls all act through stability
    (docs/dynamics.md), so this is the importance a new memory would need to be
    as stable, arousal and recalls included. Times the prior's strength,
    ``ln(365 / MIN_STABILITY_DAYS)`` logits, it makes a memory's prior odds of
    being the one meant proportional to its stability, up to a year (docs/recall.md,
    "Salience"). How long ago the memory was made or used does not count: the
    question's own words say when (time signals, ``as_of``), and on LoCoMo any
    recency prior costs recall (BENCHMARKS.md).
    """
    span = np.log(MAX_STABILITY_DAYS / MIN_STABILITY_DAYS)
    held = np.log(np.maximum(view.dynamics.stability_days, 1e-9) / MIN_STABILITY_DAYS) / span
    return np.asarray(np.clip(held, 0.0, 1.0), dtype=np.float64)


def _context_dense(query: Query, view: NamespaceView) -> F64:
    """Topic continuity: each memory's cosine with the context's embedding (docs/context.md)."""
    if query.context_vector is None:
        return np.zeros(len(view.catalog))
    return (view.catalog.vectors @ query.context_vector).astype(np.float64)


def _emotion_match(query: Query, view: NamespaceView) -> F64:
    """How well each memory's tone fits the query's mood; zeros unless one is set.

    Half for the same label, half for valence of the same sign (scaled by the
    memory's strength of feeling): mood-congruent recall (Bower 1981).
    """
    n = len(view.catalog)
    if query.mood is None:
        return np.zeros(n)
    valence, label = query.mood
    same_label = np.array([e == label for e in view.dynamics.emotions], dtype=np.float64)
    if label == "neutral":
        same_label[:] = 0.0
    sign = float(np.sign(valence))
    same_sign = np.clip(view.dynamics.valence * sign, 0.0, 1.0)
    return 0.5 * same_label + 0.5 * same_sign


def feature_matrix(features: dict[str, F64], names: Sequence[str]) -> F64:
    """Stack named signals into a (memories, signals) matrix (for fitting)."""
    return np.stack([features[name] for name in names], axis=1)
