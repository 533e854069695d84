"""The values that cross the Store interface: what the layers above hand a backend
and what it hands back.

Frozen dataclasses, never dicts: records to write (a new memory, a past
version, a consolidation step, new dynamics), and what reads return besides
the public ``engramdb.model`` values (index candidates, the catalog a ranking
reads). Their methods are behaviour every backend shares, so that none has to
repeat it: a record's memory as written (``EngramRecord.written``), a fact as
recorded at a time (``FactRow.recorded``), the memories a consolidation step
names (``ConsolidationBatch.named``), whether its episodes are still pending
(``ConsolidationBatch.pending_in``), a catalog's dynamics after an update
(``Catalog.with_dynamics``) and built from each memory's state
(``Dynamics.of``). ``engramdb.store.base`` re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from engramdb.model import (
    DEFAULT_IMPORTANCE,
    DEFAULT_STABILITY_DAYS,
    Engram,
    Fact,
)

__all__ = [
    "NO_VECTOR",
    "Active",
    "Candidate",
    "Catalog",
    "ConsolidationBatch",
    "DerivedUpdate",
    "DynamicState",
    "Dynamics",
    "DynamicsUpdate",
    "EngramRecord",
    "FactChange",
    "FactRow",
    "Learned",
    "Link",
    "PendingVector",
    "VectorArrival",
    "VersionRecord",
]


@dataclass(frozen=True, slots=True)
class EngramRecord:
    """A validated memory ready to be written, with its derived index data.

    ``keys`` is extra lexical text indexed with the memory (speaker, resolved
    dates, captions: recall enrichment) but never shown as its text.
    """

    id: str
    namespace: str
    text: str
    occurred_at: datetime
    recorded_at: datetime
    session: str | None
    speaker: str | None
    metadata: Mapping[str, Any]
    kind: str
    # empty (no dimensions, ``NO_VECTOR``): written without its vector, which the
    # background embedder adds later (docs/write-path.md, ``Capability.DEFERRED_VECTORS``)
    vector: npt.NDArray[np.float32]
    model_id: str
    keys: str = ""
    # Memory dynamics at write time (docs/dynamics.md): computed by the facade
    # (``engramdb.dynamics``); the defaults are what a memory without them gets.
    importance: float = DEFAULT_IMPORTANCE
    stability_days: float = DEFAULT_STABILITY_DAYS
    valence: float = 0.0
    arousal: float = 0.0
    emotion: str = "neutral"
    # What makes a later write of it a repetition (``store.identity``, docs/repetition.md):
    # the digest of its content, of the caller's idempotency key and of the request
    # the key came with (its event time as given); None: none.
    identity: str | None = None
    idempotency: str | None = None
    request: str | None = None
    # A memory written without its vector: whether the caller gave its importance and
    # emotion (they stand), or they are to be derived once the vector arrives.
    importance_given: bool = False
    emotion_given: bool = False
    # when it expires (docs/expiry.md); None: never
    expires_at: datetime | None = None

    @property
    def pending(self) -> bool:
        """Whether the memory is written without its vector (``NO_VECTOR``)."""
        return self.vector.size == 0

    def written(self) -> Engram:
        """The memory this record becomes when ``Store.insert`` writes it: version 1,
        valid from ``recorded_at``, never recalled, not dormant."""
        return Engram(
            id=self.id,
            namespace=self.namespace,
            text=self.text,
            occurred_at=self.occurred_at,
            recorded_at=self.recorded_at,
            valid_from=self.recorded_at,
            session=self.session,
            speaker=self.speaker,
            metadata=self.metadata,
            kind=self.kind,
            version=1,
            importance=self.importance,
            stability_days=self.stability_days,
            valence=self.valence,
            arousal=self.arousal,
            emotion=self.emotion,
            expires_at=self.expires_at,
        )

    def first_version(self) -> VersionRecord:
        """The version a new memory starts with: 1, valid from when it was recorded."""
        return VersionRecord(
            version=1,
            text=self.text,
            speaker=self.speaker,
            metadata=self.metadata,
            occurred_at=self.occurred_at,
            valid_from=self.recorded_at,
            valid_to=None,
        )


#: ``EngramRecord.vector`` of a memory whose vector follows (docs/write-path.md).
NO_VECTOR: npt.NDArray[np.float32] = np.zeros(0, dtype=np.float32)
NO_VECTOR.flags.writeable = False


@dataclass(frozen=True, slots=True)
class PendingVector:
    """A memory written without its vector (docs/write-path.md), as it is now, and
    whether its importance and emotion were the caller's (they stand) or are still
    the stated values that the vector's arrival replaces."""

    engram: Engram
    importance_given: bool
    emotion_given: bool


@dataclass(frozen=True, slots=True)
class VectorArrival:
    """A pending memory's vector, with what is derived from it (and from its words,
    deferred with it); None keeps the stored value (a given importance or emotion).
    ``emotion`` comes with its ``valence`` and ``arousal``."""

    id: str
    vector: npt.NDArray[np.float32]
    model_id: str
    importance: float | None = None
    stability_days: float | None = None
    emotion: str | None = None
    valence: float = 0.0
    arousal: float = 0.0


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """A past version, as written back by an import (lossless round trip)."""

    version: int
    text: str
    speaker: str | None
    metadata: Mapping[str, Any]
    occurred_at: datetime
    valid_from: datetime
    valid_to: datetime | None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A memory a store index found for a query, with that index's raw score."""

    id: str
    score: float


@dataclass(frozen=True, slots=True)
class Catalog:
    """A read-only snapshot of one namespace for ranking: parallel arrays, a row a memory.

    Rows follow insertion order. ``session`` holds a small integer per distinct
    session (-1 for none) and ``seq`` the position in it, so the recaller can
    find a memory's neighbours with array arithmetic; ``occurred_at`` is in
    seconds since the epoch; ``vectors`` are the stored unit vectors;
    ``documents`` the text and index keys the lexical ranker reads, and
    ``analyses`` what the backend kept of each document's analysis for recall
    (docs/recall.md, "What a search reads"), None where it kept none.
    """

    ids: tuple[str, ...]
    documents: tuple[str, ...]
    session: npt.NDArray[np.int64]
    seq: npt.NDArray[np.int64]
    speakers: tuple[str | None, ...]
    occurred_at: npt.NDArray[np.float64]
    vectors: npt.NDArray[np.float32]
    #: each memory's kind ("episode", "fact", "summary"); empty means all episodes
    kinds: tuple[str, ...] = ()
    #: each memory's dynamic state (docs/dynamics.md); None when the backend keeps none
    dynamics: Dynamics | None = None
    #: each document's stored analysis (``recall.lexical.stored_analysis``) or None;
    #: empty when the backend keeps none
    analyses: tuple[str | None, ...] = ()

    def __len__(self) -> int:
        return len(self.ids)

    def extended(self, more: Catalog) -> Catalog:
        """This catalog followed by ``more``'s rows (newer memories, same session coding)."""
        if not self.ids or not more.ids:
            kinds = self.kinds or more.kinds
        else:  # () means "all episodes": it stays so only if both sides say it
            kinds = self.kinds + more.kinds if self.kinds and more.kinds else ()
        return Catalog(
            ids=self.ids + more.ids,
            documents=self.documents + more.documents,
            session=np.concatenate([self.session, more.session]),
            seq=np.concatenate([self.seq, more.seq]),
            speakers=self.speakers + more.speakers,
            occurred_at=np.concatenate([self.occurred_at, more.occurred_at]),
            vectors=np.concatenate([self.vectors, more.vectors]),
            kinds=kinds,
            dynamics=(
                self.dynamics.extended(more.dynamics)
                if self.dynamics is not None and more.dynamics is not None
                else None
            ),
            analyses=(
                (self.analyses or (None,) * len(self)) + (more.analyses or (None,) * len(more))
                if self.analyses or more.analyses
                else ()
            ),
        )

    def take(self, rows: Sequence[int]) -> Catalog:
        """The catalog of ``rows`` only, in that order (same session coding): the
        candidates a two-stage search ranks (docs/recall.md)."""
        at = np.asarray(rows, dtype=np.int64)
        return Catalog(
            ids=tuple(self.ids[i] for i in at),
            documents=tuple(self.documents[i] for i in at),
            session=self.session[at],
            seq=self.seq[at],
            speakers=tuple(self.speakers[i] for i in at),
            occurred_at=self.occurred_at[at],
            vectors=self.vectors[at],
            kinds=tuple(self.kinds[i] for i in at) if self.kinds else (),
            dynamics=None if self.dynamics is None else self.dynamics.take(at),
            analyses=tuple(self.analyses[i] for i in at) if self.analyses else (),
        )

    def with_dynamics(self, updates: Sequence[DynamicsUpdate]) -> Catalog:
        """This catalog with ``updates`` applied to copies of its dynamics (ids it does
        not hold are skipped): what ``set_dynamics`` changes, without a rebuild."""
        if self.dynamics is None or not updates:
            return self
        d = self.dynamics
        row_of = {engram_id: i for i, engram_id in enumerate(self.ids)}
        stability, importance = d.stability_days.copy(), d.importance.copy()
        last_used, recalls, dormant = d.last_used_at.copy(), d.recalls.copy(), d.dormant.copy()
        for u in updates:
            row = row_of.get(u.id)
            if row is None:
                continue
            if u.stability_days is not None:
                stability[row] = u.stability_days
            if u.importance is not None:
                importance[row] = u.importance
            if u.last_recalled_at is not None:
                last_used[row] = max(self.occurred_at[row], u.last_recalled_at.timestamp())
            if u.recalls is not None:
                recalls[row] = u.recalls
            if u.dormant is not None:
                dormant[row] = u.dormant
        return replace(
            self,
            dynamics=replace(
                d,
                stability_days=stability,
                importance=importance,
                last_used_at=last_used,
                recalls=recalls,
                dormant=dormant,
            ),
        )


@dataclass(frozen=True, slots=True)
class DynamicState:
    """One memory's dynamic state as a backend stores it (docs/dynamics.md); the
    defaults are those of a memory with none stored."""

    stability_days: float = DEFAULT_STABILITY_DAYS
    importance: float = DEFAULT_IMPORTANCE
    valence: float = 0.0
    arousal: float = 0.0
    emotion: str = "neutral"
    recalls: int = 0
    last_recalled_at: datetime | None = None
    dormant: bool = False


@dataclass(frozen=True, slots=True)
class Dynamics:
    """The dynamic state of every memory of a catalog, in the catalog's row order.

    ``last_used_at`` (seconds since the epoch) is the later of the event time
    and the last recall: the forgetting curve runs from there. ``sizes`` are
    the texts' UTF-8 bytes (for byte budgets).
    """

    stability_days: npt.NDArray[np.float64]
    importance: npt.NDArray[np.float64]
    valence: npt.NDArray[np.float64]
    arousal: npt.NDArray[np.float64]
    emotions: tuple[str, ...]
    last_used_at: npt.NDArray[np.float64]
    recalls: npt.NDArray[np.int64]
    dormant: npt.NDArray[np.bool_]
    sizes: npt.NDArray[np.int64]

    @classmethod
    def of(
        cls, states: Sequence[DynamicState], occurred_at: Sequence[float], texts: Sequence[str]
    ) -> Dynamics:
        """The dynamics of a catalog's memories from each one's state, event time
        (seconds since the epoch) and text, in the catalog's order."""
        last_used = [
            at if s.last_recalled_at is None else max(at, s.last_recalled_at.timestamp())
            for s, at in zip(states, occurred_at, strict=True)
        ]
        return cls(
            stability_days=np.array([s.stability_days for s in states], dtype=np.float64),
            importance=np.array([s.importance for s in states], dtype=np.float64),
            valence=np.array([s.valence for s in states], dtype=np.float64),
            arousal=np.array([s.arousal for s in states], dtype=np.float64),
            emotions=tuple(s.emotion for s in states),
            last_used_at=np.array(last_used, dtype=np.float64),
            recalls=np.array([s.recalls for s in states], dtype=np.int64),
            dormant=np.array([s.dormant for s in states], dtype=np.bool_),
            sizes=np.array([len(t.encode("utf-8")) for t in texts], dtype=np.int64),
        )

    def take(self, rows: npt.NDArray[np.int64]) -> Dynamics:
        """The state of ``rows`` only, in that order."""
        return Dynamics(
            stability_days=self.stability_days[rows],
            importance=self.importance[rows],
            valence=self.valence[rows],
            arousal=self.arousal[rows],
            emotions=tuple(self.emotions[i] for i in rows),
            last_used_at=self.last_used_at[rows],
            recalls=self.recalls[rows],
            dormant=self.dormant[rows],
            sizes=self.sizes[rows],
        )

    def extended(self, more: Dynamics) -> Dynamics:
        """This state followed by ``more``'s rows."""
        return Dynamics(
            stability_days=np.concatenate([self.stability_days, more.stability_days]),
            importance=np.concatenate([self.importance, more.importance]),
            valence=np.concatenate([self.valence, more.valence]),
            arousal=np.concatenate([self.arousal, more.arousal]),
            emotions=self.emotions + more.emotions,
            last_used_at=np.concatenate([self.last_used_at, more.last_used_at]),
            recalls=np.concatenate([self.recalls, more.recalls]),
            dormant=np.concatenate([self.dormant, more.dormant]),
            sizes=np.concatenate([self.sizes, more.sizes]),
        )


@dataclass(frozen=True, slots=True)
class DynamicsUpdate:
    """New dynamic state for one memory; fields left None keep their stored value.

    ``recalled`` is how many recalls the update adds (``recalls`` is the count as
    the writing process saw it after them). A store that several processes write
    at once adds ``recalled`` to what it holds, keeps the later ``last_recalled_at``
    and the larger ``stability_days``, so that two processes' recalls of one memory
    are neither lost nor counted twice (docs/scaling.md); a store of one process
    may write the fields as they are.
    """

    id: str
    stability_days: float | None = None
    importance: float | None = None
    last_recalled_at: datetime | None = None
    recalls: int | None = None
    dormant: bool | None = None
    recalled: int = 0


@dataclass(frozen=True, slots=True)
class FactRow:
    """The structured part of a fact whose memory is written in the same batch."""

    engram_id: str
    subject: str
    attribute: str
    value: str
    valid_from: datetime
    valid_to: datetime | None
    status: str  # "current", "superseded" or "stale"
    superseded_by: str | None = None

    def recorded(self, namespace: str, at: datetime) -> Fact:
        """This fact as recorded ``at`` (bi-temporal: docs/consolidation.md), and
        invalidated then too when it arrives with its validity already closed."""
        return Fact(
            engram_id=self.engram_id,
            namespace=namespace,
            subject=self.subject,
            attribute=self.attribute,
            value=self.value,
            text="",
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            recorded_at=at,
            invalidated_at=None if self.valid_to is None else at,
            status=self.status,
            superseded_by=self.superseded_by,
        )


@dataclass(frozen=True, slots=True)
class FactChange:
    """Closes an existing fact's validity (supersession, staleness); content never changes."""

    engram_id: str
    valid_to: datetime | None
    status: str
    superseded_by: str | None = None


@dataclass(frozen=True, slots=True)
class Link:
    """Provenance: ``derived_id`` came from ``source_id``.

    ``relation`` is ``"extracted"`` (a fact from an episode), ``"derived"`` (a
    fact from a fact), ``"summarizes"`` (a summary of an episode) or
    ``"duplicate"`` (an episode that repeats an earlier one; nothing is deleted).
    """

    derived_id: str
    source_id: str
    relation: str


@dataclass(frozen=True, slots=True)
class DerivedUpdate:
    """A new version of an existing derived memory (a session summary refreshed)."""

    engram_id: str
    text: str
    metadata: Mapping[str, Any]
    occurred_at: datetime
    vector: npt.NDArray[np.float32]
    model_id: str
    keys: str = ""


@dataclass(frozen=True, slots=True)
class ConsolidationBatch:
    """Everything one consolidation step writes, in one transaction (docs/consolidation.md).

    ``episodes`` are the (id, version) pairs the step consumed: the store marks
    them consolidated, and refuses the whole batch if any already was (another
    consolidator got there first). ``inserts`` are new derived memories (facts,
    summaries), ``facts`` the fact rows of those that are facts, ``changes``
    closes of existing facts, ``links`` provenance, ``updates`` new versions of
    derived memories. ``now`` is the record time of the step.
    """

    namespace: str
    episodes: tuple[tuple[str, int], ...]
    now: datetime
    inserts: tuple[EngramRecord, ...] = ()
    facts: tuple[FactRow, ...] = ()
    changes: tuple[FactChange, ...] = ()
    links: tuple[Link, ...] = ()
    updates: tuple[DerivedUpdate, ...] = ()

    def named(self) -> set[str]:
        """Every memory the batch names (episodes, facts, changes, links, updates):
        each must be in the namespace once the inserts are written, or the store
        refuses the whole batch."""
        named = {engram_id for engram_id, _ in self.episodes}
        named.update(f.engram_id for f in self.facts)
        named.update(c.engram_id for c in self.changes)
        named.update(u.engram_id for u in self.updates)
        for link in self.links:
            named.update((link.derived_id, link.source_id))
        return named

    def pending_in(self, found: Mapping[str, tuple[int, int | None]]) -> bool:
        """Whether every episode the step consumed is still as the planner read it.

        ``found`` maps an episode's id to its current version and the version
        consolidation last consumed (None: never). An episode deleted or
        updated since, or already consumed at its version, means a concurrent
        run got there first or the plan is stale: the store writes nothing.
        """
        for engram_id, version in self.episodes:
            state = found.get(engram_id)
            if state is None or state[0] != version:
                return False
            if state[1] is not None and state[1] >= version:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Active:
    """A namespace's active (not dormant) memories as a fade weighs them, in insertion
    order: each one's id, last use (seconds since the epoch: the later of the event
    and its latest recall), stability (days), importance and text bytes. No texts,
    no vectors (docs/dynamics.md, "Dormancy and budgets")."""

    ids: tuple[str, ...]
    last_used_at: npt.NDArray[np.float64]
    stability_days: npt.NDArray[np.float64]
    importance: npt.NDArray[np.float64]
    sizes: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def of(cls, catalog: Catalog) -> Active:
        """The active memories of a catalog (none when it keeps no dynamics)."""
        dynamics = catalog.dynamics
        if dynamics is None:
            empty = np.zeros(0)
            return cls((), empty, empty, empty, np.zeros(0, dtype=np.int64))
        rows = np.flatnonzero(~dynamics.dormant)
        return cls(
            ids=tuple(catalog.ids[i] for i in rows),
            last_used_at=dynamics.last_used_at[rows],
            stability_days=dynamics.stability_days[rows],
            importance=dynamics.importance[rows],
            sizes=dynamics.sizes[rows],
        )


@dataclass(frozen=True, slots=True)
class Learned:
    """One thing a namespace learned (docs/learning.md): ``kind`` says what (a
    ``feedback`` event, the ``search`` it was given on, the ranker's ``weights``),
    ``key`` names it within its kind, ``value`` is its JSON text, which the store
    seals at rest on an encrypted namespace as it does a memory's text. The store
    keeps it with the namespace: erased with it, never seen from another."""

    kind: str
    key: str
    value: str
    recorded_at: datetime
