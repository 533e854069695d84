"""The facade's helper for memory dynamics: appraise on write, reinforce on recall, fade.

``DynamicsKeeper`` holds what the pure modules need across calls: the emotion
tagger (its prototypes are embedded once) and the recall queue. Budgets live in
the store and are read fresh whenever they are needed, so one set by another
process (or before a restart) is honoured by the next ``add`` or ``fade``. It
computes a new memory's importance, emotion and initial stability
(``initial``), reinforces recalled memories at once in this process and
writes them in batches (``recalled``, ``overlay``, ``flush``), and puts faded
or over-budget memories aside (``fade``). It sees only ``store.base`` and the
``Embedder`` protocol; validation happened in the facade.

A recall's new state is computed when the recall happens and held here until
the flush writes it (docs/dynamics.md, "Reinforcement: visible at once,
written in batches"): the facade and the recaller lay ``overlay`` over what
they read from the store, so ``get``, the next search and its explanations
see the recall at once, while another process sees it after the flush.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

from engramdb.dynamics import importance as importance_cues
from engramdb.dynamics.dormancy import to_put_aside
from engramdb.dynamics.emotion import Appraisal, EmotionTagger, arousal, valence
from engramdb.dynamics.reinforce import merged, reinforcement
from engramdb.dynamics.retention import (
    elapsed_days,
    initial_stability,
    recalled_stability,
    retrievability,
    retrievability_array,
)
from engramdb.embed.base import Embedder
from engramdb.model import Budget
from engramdb.store.base import DynamicsUpdate, Held, Repetition, Store

__all__ = ["ROOM", "Appraisable", "DynamicsKeeper", "Initial", "nearest_similarities", "with_room"]

#: How far below its budget an add that went over it puts a namespace (a share of
#: each bound): the pass that chooses what to put aside then runs once per 1% of
#: the budget's growth, not at every add of a namespace kept at its budget.
ROOM = 0.01

# Rows of a batch compared with the batch's earlier rows at once (a 10,000-item
# batch holds 512 x 10,000 similarities: 20 MB)
_BLOCK_ROWS = 512


class Appraisable(Protocol):
    """What ``initial`` reads of a memory about to be written: its text, and the
    caller's importance and emotion (None: estimate them), checked by the facade."""

    @property
    def text(self) -> str: ...

    @property
    def importance(self) -> float | None: ...

    @property
    def emotion(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Initial:
    """A new memory's dynamics, as written with it."""

    importance: float
    stability_days: float
    valence: float
    arousal: float
    emotion: str


class DynamicsKeeper:
    """Dynamics state of one ``Memory``: tagger and recall queue."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        *,
        flush_every: int = 64,
        dormant_below: float = 0.05,
    ) -> None:
        self.store = store
        if flush_every < 1:
            raise ValueError("flush_every must be at least 1")
        self.tagger = EmotionTagger(embedder)
        self.flush_every = flush_every
        self.dormant_below = dormant_below
        #: per namespace, the new state of each recalled memory not yet written
        self._pending: dict[str, dict[str, DynamicsUpdate]] = {}
        #: per namespace, recalls since its last flush
        self._recalls: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- writes -------------------------------------------------------------------

    def initial(
        self,
        namespace: str,
        items: Sequence[Appraisable],
        vectors: npt.NDArray[np.float32] | None,
    ) -> list[Initial]:
        """Each new memory's dynamics, from its text (``vectors`` holds their embeddings)
        unless the item gives its ``importance`` / ``emotion``.

        Novelty is judged against the namespace's nearest memory and the batch's
        earlier items (``nearest_similarities``). Without ``vectors`` (they follow,
        and the appraisal with them: docs/write-path.md) each value has its stated
        one until then: no novelty (an unknown likeness counts as none new), the
        label "neutral" and valence and arousal 0 (unless the item gives its
        emotion: then they are read from its words now, as they would be later).
        """
        texts = [item.text for item in items]
        if vectors is None:
            appraisals = [
                Appraisal(0.0, 0.0, "neutral")
                if item.emotion is None
                else Appraisal(v, arousal(item.text, v), item.emotion)
                for item in items
                for v in [0.0 if item.emotion is None else valence(item.text)]
            ]
            nearest_sims = [1.0] * len(items)
        else:
            appraisals = self.tagger.appraise(texts, vectors)
            nearest_sims = nearest_similarities(
                self.store, namespace, vectors, [item.importance is None for item in items]
            )
        out = []
        for item, appraisal, similarity in zip(items, appraisals, nearest_sims, strict=True):
            label = appraisal.label if item.emotion is None else item.emotion
            if item.importance is None:
                found_cues = importance_cues.cues(
                    item.text,
                    nearest_similarity=similarity,
                    valence=appraisal.valence,
                    arousal=appraisal.arousal,
                )
                value = importance_cues.importance(found_cues)
            else:
                value = item.importance
            out.append(
                Initial(
                    importance=value,
                    stability_days=initial_stability(value, appraisal.arousal),
                    valence=appraisal.valence,
                    arousal=appraisal.arousal,
                    emotion=label,
                )
            )
        return out

    def mood_of(self, text: str) -> tuple[float, str]:
        """The tone of a query (valence, label), for mood-congruent recall."""
        vectors = self.tagger.embedder.embed([text])
        appraisal = self.tagger.appraise([text], vectors)[0]
        return appraisal.valence, appraisal.label

    # -- recalls ------------------------------------------------------------------

    def recalled(self, namespace: str, ids: Sequence[str], at: datetime) -> None:
        """Reinforce ``ids`` as recalled at ``at``, visible at once through ``overlay``;
        writes the namespace's pending state when ``flush_every`` recalls are due."""
        if not ids:
            return
        with self._lock:
            pending = self._pending.setdefault(namespace, {})
            # the recalled memories as this process sees them: stored, then pending
            state = self.store.catalog_of(namespace, ids).with_dynamics(list(pending.values()))
            for update in reinforcement(state, [(engram_id, at) for engram_id in ids]):
                pending[update.id] = merged(pending.get(update.id), update)
            due = self._recalls.get(namespace, 0) + len(ids)
            self._recalls[namespace] = due
        if due >= self.flush_every:
            self.flush(namespace)

    def repeated(
        self, namespace: str, found: Sequence[tuple[Held, Repetition]]
    ) -> list[DynamicsUpdate]:
        """Strengthen memories written again and record it at once (docs/repetition.md).

        A repetition is spaced practice measured in record time: the spacing rule of
        a recall (``recalled_stability``) at the retrievability the memory had at the
        repetition, counted from its last encounter (``Held.encountered_at``: its
        first write or latest repetition), so a write retried within seconds adds
        almost nothing and one a month later adds what a spaced recall would. It is
        not a recall (``recalls`` and ``last_recalled_at`` stay); a dormant memory
        wakes. Pending reinforcement of the same memories is kept, with the new S.
        Returns the updates written."""
        if not found:
            return []
        with self._lock:
            pending = self._pending.get(namespace, {})
            ids = [r.engram_id for _, r in found]
            state = self.store.catalog_of(namespace, ids).with_dynamics(list(pending.values()))
            row_of = {engram_id: i for i, engram_id in enumerate(state.ids)}
            dynamics = state.dynamics
            recorded = []
            for held, repetition in found:
                row = row_of.get(repetition.engram_id)
                if dynamics is None or row is None:
                    recorded.append(repetition)
                    continue
                stability = float(dynamics.stability_days[row])
                since = elapsed_days(held.encountered_at, repetition.at)
                update = DynamicsUpdate(
                    id=repetition.engram_id,
                    stability_days=recalled_stability(stability, retrievability(since, stability)),
                    dormant=False if bool(dynamics.dormant[row]) else None,
                )
                if update.id in pending:
                    pending[update.id] = merged(pending[update.id], update)
                recorded.append(replace(repetition, update=update))
            self.store.repeat(namespace, recorded)
        return [r.update for r in recorded if r.update is not None]

    def overlay(self, namespace: str) -> list[DynamicsUpdate]:
        """The namespace's reinforcement not yet written, to lay over what the store holds."""
        with self._lock:
            return list(self._pending.get(namespace, {}).values())

    def pending(self) -> int:
        """How many memories hold reinforcement not yet written."""
        with self._lock:
            return sum(len(updates) for updates in self._pending.values())

    def flush(self, namespace: str | None = None) -> int:
        """Write pending reinforcement (of one namespace, or all); returns memories updated."""
        written = 0
        with self._lock:  # held while writing: a reader sees the state pending or stored
            names = list(self._pending) if namespace is None else [namespace]
            for ns in names:
                updates = self._pending.get(ns, {})
                written += self.store.set_dynamics(ns, list(updates.values()))
                self._pending.pop(ns, None)  # only once written: a failed write keeps it
                self._recalls.pop(ns, None)
        return written

    def discard(self, namespace: str | None = None) -> None:
        """Drop pending reinforcement of memories that are gone (one namespace, or all)."""
        with self._lock:
            if namespace is None:
                self._pending.clear()
                self._recalls.clear()
            else:
                self._pending.pop(namespace, None)
                self._recalls.pop(namespace, None)

    # -- dormancy -----------------------------------------------------------------

    def fade(self, namespace: str, now: datetime, *, room: bool = False) -> int:
        """Put aside what faded below ``dormant_below`` or exceeds the budget; how many.

        One pass over the active memories' dynamics (``Store.active``: no texts, no
        vectors). With ``room`` (an add took the namespace over its budget), it
        puts aside down to ``ROOM`` below the budget, so that the pass runs once
        per that much growth instead of at every add (docs/dynamics.md).
        """
        self.flush(namespace)  # budgets judge retention with every recall counted
        active = self.store.active(namespace)
        if not len(active):
            return 0
        budget = self.budget(namespace)
        rows = to_put_aside(
            retrievability_array(
                (now.timestamp() - active.last_used_at) / 86_400.0, active.stability_days
            ),
            active.importance,
            np.zeros(len(active), dtype=np.bool_),
            active.sizes,
            below=self.dormant_below,
            budget=with_room(budget) if room and budget is not None else budget,
        )
        updates = [DynamicsUpdate(id=active.ids[int(r)], dormant=True) for r in rows]
        return self.store.set_dynamics(namespace, updates)

    def budget(self, namespace: str) -> Budget | None:
        """The namespace's budget as stored now (one indexed read: no cache to go stale)."""
        stored = self.store.budget(namespace)
        return None if stored is None else Budget(*stored)

    def over_budget(self, namespace: str) -> bool:
        """Whether the namespace's active memories exceed its budget, by the totals the
        store keeps (``Store.usage``): no pass over the namespace at each write."""
        budget = self.budget(namespace)
        if budget is None:
            return False
        count, used = self.store.usage(namespace)
        return (budget.max_memories is not None and count > budget.max_memories) or (
            budget.max_bytes is not None and used > budget.max_bytes
        )


def nearest_similarities(
    store: Store,
    namespace: str,
    vectors: npt.NDArray[np.float32],
    wanted: Sequence[bool],
) -> list[float]:
    """For each new memory whose importance is ``wanted`` (0.0 for the others), its
    similarity to the nearest of the namespace's memories (0 when it has none) and of
    the batch's earlier items, whichever is nearer: one batched query of the store's
    index and one masked product of the batch with itself, however large the
    namespace (docs/dynamics.md, "Importance")."""
    out = [0.0] * len(vectors)
    rows = [i for i, want in enumerate(wanted) if want]
    if not rows:
        return out
    stored = store.nearest_scores(namespace, vectors[rows])
    earlier = _earlier_best(vectors, rows)
    for row, base, best in zip(rows, stored, earlier, strict=True):
        out[row] = float(base) if row == 0 else max(float(base), float(best))
    return out


def _earlier_best(vectors: npt.NDArray[np.float32], rows: Sequence[int]) -> list[float]:
    """For each of ``rows``, the largest similarity of its vector to a vector before it
    in the batch (unused for row 0), a block of rows at a time."""
    out: list[float] = []
    for start in range(0, len(rows), _BLOCK_ROWS):
        block = list(rows[start : start + _BLOCK_ROWS])
        end = block[-1]  # rows are in order: the block's rows see no vector past it
        sims = vectors[block] @ vectors[:end].T
        # a row compares with the rows before it only
        sims[np.arange(end)[None, :] >= np.asarray(block)[:, None]] = -np.inf
        out += [float(v) for v in (sims.max(axis=1) if end else np.full(len(block), -np.inf))]
    return out


def with_room(budget: Budget) -> Budget:
    """``budget`` less ``ROOM`` of each bound, rounded down (a bound under 100 stays
    as it is): what an add that went over it puts aside down to."""

    def lower(bound: int | None) -> int | None:
        return None if bound is None else bound - int(bound * ROOM)

    return Budget(lower(budget.max_memories), lower(budget.max_bytes))
