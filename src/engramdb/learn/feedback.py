"""Feedback on search hits, kept so it can be replayed, and the weights learned from it.

A search leaves a ``Trace``: its query and, for each hit it showed, the
memory's id and its signal values (the ranker's inputs, as the hit's
explanation gives them). The ``Learner`` keeps the latest traces in this
process (``RECENT_SEARCHES`` of them, whatever their namespace: docs/limits.md,
"Caches"), so that feedback naming a search id finds what that search showed.
The first feedback on a search stores its trace with the namespace (kind
``search``); each judgement is stored too (kind ``feedback``, one per search
and memory: a later one replaces it), and so everything the namespace's
weights were learned from can be replayed (docs/learning.md).

After each judgement the namespace's weights are fitted again over its
stored feedback (``learn.weights.fit``; the latest ``REPLAYED`` judged
searches), from the prior. The replay guard: new weights that order the
earlier feedback (all but this judgement's search) worse than the weights in
use, by more than ``GUARD_MARGIN`` of its judged pairs, are refused, and the
ones in use stay; the refusal is counted. The
weights are stored with the namespace (kind ``weights``). Everything here is
content the store seals on an encrypted namespace, erases with the namespace
and never shows another one.

It validates nothing (the facade did) and reads no clock (times come in).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from engramdb.bounded import Bounded
from engramdb.errors import InvalidInputError, NotFoundError
from engramdb.learn.weights import Judged, LearnedWeights, agreement, fit, learnable
from engramdb.model import Feedback, Hit, NamespaceWeights, SignalWeight
from engramdb.recall.ranker import RankerWeights
from engramdb.store.base import Learned, Store

__all__ = [
    "FEEDBACK",
    "GUARD_MARGIN",
    "KINDS",
    "RECENT_SEARCHES",
    "REPLAYED",
    "SEARCH",
    "WEIGHTS",
    "Learner",
    "Trace",
]

F64 = npt.NDArray[np.float64]

#: The kinds of what a namespace learns here, as the store keeps them (``Store.learn``);
#: ``KINDS`` is every kind an export carries (``engramdb.transfer``).
SEARCH, FEEDBACK, WEIGHTS = "search", "feedback", "weights"
KINDS = (SEARCH, FEEDBACK, WEIGHTS)
#: The searches whose traces one process keeps for feedback to name, most recent first.
RECENT_SEARCHES = 2_048
#: The most judged searches a refit replays (the latest): bounds a judgement's cost.
REPLAYED = 2_000
#: How much worse new weights may order the earlier feedback (a share of its judged pairs)
#: before the replay guard refuses them: each refit moves the weights a little, and a
#: guard with no margin refused nearly every one (BENCHMARKS.md, "Learning").
GUARD_MARGIN = 0.01
_WEIGHTS_KEY = "ranker"


@dataclass(frozen=True, slots=True)
class Trace:
    """What one search showed: each hit's memory id and signal values, rank order."""

    search_id: str
    query: str
    ids: tuple[str, ...]
    signals: tuple[str, ...]
    values: F64  # (hits, signals)

    @classmethod
    def of(cls, search_id: str, query: str, hits: Sequence[Hit]) -> Trace:
        signals = sorted({c.signal for h in hits for c in h.explain.contributions})
        column = {s: k for k, s in enumerate(signals)}
        values = np.zeros((len(hits), len(signals)))
        for row, hit in enumerate(hits):
            for c in hit.explain.contributions:
                values[row, column[c.signal]] = c.value
        return cls(search_id, query, tuple(h.engram.id for h in hits), tuple(signals), values)

    def with_hits(self, other: Trace) -> Trace:
        """This trace and the hits of ``other`` it lacks (both of one search)."""
        extra = [i for i, engram_id in enumerate(other.ids) if engram_id not in self.ids]
        if not extra:
            return self
        signals = tuple(sorted(set(self.signals) | set(other.signals)))
        values = np.zeros((len(self.ids) + len(extra), len(signals)))
        for trace, rows, start in ((self, range(len(self.ids)), 0), (other, extra, len(self.ids))):
            for k, signal in enumerate(trace.signals):
                values[start : start + len(rows), signals.index(signal)] = trace.values[rows, k]
        ids = self.ids + tuple(other.ids[i] for i in extra)
        return Trace(self.search_id, self.query, ids, signals, values)

    def dumps(self) -> str:
        return json.dumps(
            {
                "query": self.query,
                "ids": list(self.ids),
                "signals": list(self.signals),
                "values": self.values.tolist(),
            }
        )

    @classmethod
    def loads(cls, search_id: str, text: str) -> Trace:
        data = json.loads(text)
        values = np.asarray(data["values"], dtype=np.float64).reshape(
            len(data["ids"]), len(data["signals"])
        )
        return cls(search_id, data["query"], tuple(data["ids"]), tuple(data["signals"]), values)


class Learner:
    """Feedback and learned weights of every namespace of one store, for ``Memory``."""

    def __init__(self, store: Store, prior: RankerWeights | None = None) -> None:
        self.store = store
        self.prior = prior or RankerWeights.default()
        self._recent: Bounded[tuple[str, str], Trace] = Bounded(RECENT_SEARCHES)
        self._lock = threading.Lock()

    def searched(self, namespace: str, trace: Trace) -> None:
        """Keep a search's trace for feedback to name."""
        with self._lock:
            self._recent[(namespace, trace.search_id)] = trace

    def forget(self, namespace: str) -> None:
        """Drop the namespace's traces from this process (erasure, docs/security.md)."""
        with self._lock:
            for key in [k for k in self._recent if k[0] == namespace]:
                del self._recent[key]

    def ranker(self, namespace: str) -> RankerWeights | None:
        """The namespace's learned ranker weights; None while it ranks with the prior."""
        learned = self._learned(namespace)
        return None if learned is None else learned.ranker(self.prior)

    def judge(
        self,
        namespace: str,
        search_id: str,
        engram_id: str,
        reward: float,
        at: datetime,
        hit: Hit | None = None,
    ) -> Feedback:
        """Record a judgement of one hit of a search, then learn from it."""
        trace = self._trace(namespace, search_id, hit)
        if engram_id not in trace.ids:
            raise InvalidInputError(f"memory {engram_id!r} was not a hit of search {search_id!r}")
        value = json.dumps({"search_id": search_id, "engram_id": engram_id, "reward": reward})
        self.store.learn(
            namespace,
            [
                Learned(SEARCH, search_id, trace.dumps(), at),
                Learned(FEEDBACK, f"{search_id}:{engram_id}", value, at),
            ],
        )
        learned = self._update(namespace, search_id, at)
        return Feedback(search_id, engram_id, reward, at, learned)

    def view(self, namespace: str) -> NamespaceWeights:
        learned = self._learned(namespace)
        weights = self.prior.weights if learned is None else learned.ranker(self.prior).weights
        signals = tuple(
            SignalWeight(name, weights[name], self.prior.weights[name], weights[name] - p)
            for name, p in self.prior.weights.items()
        )
        judged = len(self.store.learned(namespace, FEEDBACK))
        if learned is None:
            return NamespaceWeights(namespace, signals, feedback=judged)
        return NamespaceWeights(
            namespace,
            signals,
            learned=True,
            feedback=judged,
            updates=learned.updates,
            rejected=learned.rejected,
            updated_at=learned.updated_at,
        )

    def reset(self, namespace: str) -> None:
        """Back to the prior: the weights and the feedback they were learned from go."""
        self.store.unlearn(namespace, [WEIGHTS, FEEDBACK, SEARCH])

    # -- inside ----------------------------------------------------------------------

    def _learned(self, namespace: str) -> LearnedWeights | None:
        found = self.store.learned(namespace, WEIGHTS)
        return None if not found else LearnedWeights.loads(found[-1].value)

    def _trace(self, namespace: str, search_id: str, hit: Hit | None) -> Trace:
        """What the search showed: this process's trace, the stored one, or (for a hit
        in hand whose search is neither) that hit alone, merged with any stored."""
        with self._lock:
            trace = self._recent.get((namespace, search_id))
        if trace is not None:
            return trace
        stored = {t.key: t for t in self.store.learned(namespace, SEARCH) if t.key == search_id}
        kept = Trace.loads(search_id, stored[search_id].value) if stored else None
        if hit is not None:
            alone = Trace.of(search_id, kept.query if kept else "", [hit])
            return alone if kept is None else kept.with_hits(alone)
        if kept is None:
            raise NotFoundError(
                f"no recent search {search_id!r} in namespace {namespace!r}: a search is "
                "remembered by the process that ran it, for its latest "
                f"{RECENT_SEARCHES} searches (docs/learning.md); search again"
            )
        return kept

    def _judged(self, namespace: str) -> list[tuple[str, Judged]]:
        """The namespace's judged searches, oldest first (the latest ``REPLAYED``)."""
        traces = {t.key: Trace.loads(t.key, t.value) for t in self.store.learned(namespace, SEARCH)}
        rewards: dict[str, dict[str, float]] = {}
        for item in self.store.learned(namespace, FEEDBACK):
            data = json.loads(item.value)
            rewards.setdefault(data["search_id"], {})[data["engram_id"]] = float(data["reward"])
        out = []
        for search_id, given in list(rewards.items())[-REPLAYED:]:
            trace = traces.get(search_id)
            if trace is None:
                continue
            r = np.array([given.get(i, np.nan) for i in trace.ids], dtype=np.float64)
            out.append((search_id, Judged(trace.signals, trace.values, r)))
        return out

    def _update(self, namespace: str, search_id: str, at: datetime) -> bool:
        """Fit the weights again; store them unless the replay guard refuses them."""
        judged = self._judged(namespace)
        current = self._learned(namespace)
        names = learnable(self.prior)
        in_use = {n: self.prior.weights[n] for n in names}
        if current is not None:
            in_use.update({n: v for n, v in current.weights.items() if n in in_use})
        proposed = fit(self.prior, [j for _, j in judged])
        if proposed == in_use:
            return False
        earlier = [j for key, j in judged if key != search_id]
        updates = 0 if current is None else current.updates
        rejected = 0 if current is None else current.rejected
        if agreement(proposed, earlier) < agreement(in_use, earlier) - GUARD_MARGIN:
            kept = LearnedWeights(in_use, updates, rejected + 1, at)
            self.store.learn(namespace, [Learned(WEIGHTS, _WEIGHTS_KEY, kept.dumps(), at)])
            return False
        new = LearnedWeights(proposed, updates + 1, rejected, at)
        self.store.learn(namespace, [Learned(WEIGHTS, _WEIGHTS_KEY, new.dumps(), at)])
        return True
