"""The Store interface every backend implements, and the records it takes.

A store keeps memories, their versions, their vectors and their lexical index,
isolated by namespace. It validates nothing the facade already validated and
computes no scores beyond what its indexes give (BM25, cosine); ranking lives
in ``recall``. Every write method is one transaction: it happens entirely or
not at all. Backends prove they meet this contract by passing
``engramdb.testing.conformance``.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engramdb.config import EncryptionKey
from engramdb.errors import StoreError
from engramdb.model import (
    DEFAULT_IMPORTANCE,
    DEFAULT_STABILITY_DAYS,
    Engram,
    Fact,
    NamespaceStats,
    Version,
)

__all__ = [
    "Candidate",
    "Capability",
    "Catalog",
    "ConsolidationBatch",
    "DerivedUpdate",
    "Dynamics",
    "DynamicsUpdate",
    "EngramRecord",
    "FactChange",
    "FactRow",
    "Link",
    "Store",
    "VersionRecord",
]


class Capability(enum.Enum):
    """Optional abilities a backend may have; callers check before relying on them."""

    ANN = "ann"  # approximate nearest-neighbour index for large namespaces
    CONCURRENT_PROCESSES = "concurrent_processes"  # several processes may open one store
    BACKUP = "backup"  # online consistent backup
    ENCRYPTION = "encryption"  # envelope encryption at rest, master key rotation (docs/security.md)


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
        )


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
    ``documents`` the text and index keys the lexical ranker reads.
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
    """New dynamic state for one memory; fields left None keep their stored value."""

    id: str
    stability_days: float | None = None
    importance: float | None = None
    last_recalled_at: datetime | None = None
    recalls: int | None = None
    dormant: bool | None = None


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


class Store(ABC):
    """Persistent, namespace-isolated storage for memories and their indexes."""

    capabilities: frozenset[Capability] = frozenset()

    # -- writes: each is one transaction ------------------------------------

    @abstractmethod
    def insert(self, records: Sequence[EngramRecord]) -> list[Engram]:
        """Write new memories (all or none) and return them as written, in input order.

        Ids must be new. Each memory is at version 1, valid from its
        ``recorded_at``, with the record's dynamics and no recall yet
        (``EngramRecord.written``).
        """

    @abstractmethod
    def update(
        self,
        namespace: str,
        engram_id: str,
        *,
        text: str,
        speaker: str | None,
        metadata: Mapping[str, Any],
        occurred_at: datetime,
        vector: npt.NDArray[np.float32],
        model_id: str,
        keys: str,
        now: datetime,
    ) -> Engram:
        """Write a new version and close the current one's validity at ``now``.

        Raises ``NotFoundError`` when the id is not in the namespace.
        """

    @abstractmethod
    def delete(self, namespace: str, engram_id: str) -> None:
        """Remove a memory, its versions and its index entries; ``NotFoundError`` if absent.

        Derived memories (facts, summaries) left with no source at all go with
        it, transitively: nothing derived only from a deleted memory survives it.
        """

    @abstractmethod
    def forget_namespace(self, namespace: str) -> int:
        """Remove everything of a namespace; returns how many memories went."""

    def restore(self, record: EngramRecord, versions: Sequence[VersionRecord]) -> None:
        """Write a memory with its full history as exported (import); ids must be new."""
        self.restore_many([(record, versions)])

    @abstractmethod
    def restore_many(self, items: Sequence[tuple[EngramRecord, Sequence[VersionRecord]]]) -> None:
        """Write several exported memories with their histories in one transaction (all or none)."""

    # -- reads ---------------------------------------------------------------

    @abstractmethod
    def get_many(self, namespace: str, ids: Sequence[str]) -> dict[str, Engram]:
        """The memories of ``ids`` that exist in the namespace, by id."""

    def get(self, namespace: str, engram_id: str) -> Engram | None:
        return self.get_many(namespace, [engram_id]).get(engram_id)

    @abstractmethod
    def history(self, namespace: str, engram_id: str) -> list[Version]:
        """Every version, oldest first; empty when the id is not in the namespace."""

    @abstractmethod
    def neighbours(self, namespace: str, engram_id: str, before: int, after: int) -> list[Engram]:
        """The turns around a memory in its session, in order, without the memory itself."""

    def session_tail(self, namespace: str, session: str, limit: int) -> list[Engram]:
        """The last ``limit`` episodes of ``session``, oldest first (working memory).

        A query over the episodic store ordered by the session's ``seq``; this
        default reads the namespace in order, backends override it with an
        indexed query.
        """
        if limit <= 0:
            return []
        turns = [
            e for e in self.iter_engrams(namespace) if e.session == session and e.kind == "episode"
        ]
        return turns[-limit:]

    @abstractmethod
    def lexical_search(self, namespace: str, terms: Sequence[str], limit: int) -> list[Candidate]:
        """Memories matching any of ``terms`` (plain words), best BM25 first."""

    @abstractmethod
    def vector_search(
        self, namespace: str, vector: npt.NDArray[np.float32], limit: int
    ) -> list[Candidate]:
        """Memories nearest ``vector`` by cosine similarity, best first."""

    @abstractmethod
    def vectors(self, namespace: str, ids: Sequence[str]) -> npt.NDArray[np.float32]:
        """The stored vectors of ``ids`` in that order (rows of zeros for unknown ids)."""

    @abstractmethod
    def catalog(self, namespace: str) -> Catalog:
        """A snapshot of the namespace's memories for ranking (cached between writes)."""

    @abstractmethod
    def iter_engrams(self, namespace: str | None = None) -> Iterator[Engram]:
        """Every current memory (of one namespace or all), in insertion order."""

    @abstractmethod
    def namespaces(self) -> list[str]:
        """Namespaces that hold at least one memory, sorted."""

    @abstractmethod
    def stats(self, namespace: str) -> NamespaceStats:
        """Counts for one namespace (zeros when it is empty)."""

    @abstractmethod
    def model_ids(self) -> set[str]:
        """The embedding model ids of the stored vectors."""

    # -- memory dynamics (docs/dynamics.md) ---------------------------------------------

    @abstractmethod
    def set_dynamics(self, namespace: str, updates: Sequence[DynamicsUpdate]) -> int:
        """Write new dynamic state (recalls, stability, dormancy) in one transaction.

        Ids not in the namespace are skipped (a memory deleted since its recall
        was queued); returns how many memories changed. Content, versions and
        indexes are untouched; the next ``catalog`` shows the new state.
        """

    @abstractmethod
    def budget(self, namespace: str) -> tuple[int | None, int | None] | None:
        """The namespace's stored budget as ``(max_memories, max_bytes)``, None for
        a bound not set; None when the namespace has no budget."""

    @abstractmethod
    def set_budget(self, namespace: str, max_memories: int | None, max_bytes: int | None) -> None:
        """Store (or replace) the namespace's budget in one transaction; both None
        removes it. ``forget_namespace`` removes it too."""

    # -- consolidation (docs/consolidation.md) ----------------------------------------------

    @abstractmethod
    def pending_episodes(self, namespace: str, limit: int) -> list[Engram]:
        """Up to ``limit`` episodes not yet consolidated (or changed since), oldest first."""

    @abstractmethod
    def pending_count(self, namespace: str) -> int:
        """How many episodes ``pending_episodes`` would return without a limit."""

    @abstractmethod
    def apply_consolidation(self, batch: ConsolidationBatch) -> bool:
        """Write one consolidation step in one transaction (all or none).

        Returns False, writing nothing, when one of ``batch.episodes`` was
        already consolidated at that version (a concurrent run did it).
        """

    @abstractmethod
    def facts(
        self, namespace: str, *, subject: str | None = None, attribute: str | None = None
    ) -> list[Fact]:
        """Every fact of the namespace (optionally one subject / attribute), with its
        sources, ordered by subject, attribute and ``valid_from``."""

    @abstractmethod
    def links(self, namespace: str) -> list[Link]:
        """Every provenance link of the namespace."""

    @abstractmethod
    def consumed(self, namespace: str) -> dict[str, int]:
        """Episode id -> the version consolidation consumed (its marks)."""

    @abstractmethod
    def restore_consolidation(
        self,
        namespace: str,
        facts: Sequence[Fact],
        links: Sequence[Link],
        consumed: Mapping[str, int],
    ) -> None:
        """Write back what an export carried of consolidation, in one transaction:
        facts' structure and bi-temporal validity (for memories already restored),
        provenance links and the episodes' consumed marks. Every id must exist
        in the namespace (``StoreError`` otherwise, nothing written)."""

    # -- maintenance ---------------------------------------------------------

    @abstractmethod
    def reindex(self, namespace: str | None = None) -> int:
        """Rebuild the derived indexes from the tables; returns memories indexed."""

    @abstractmethod
    def check(self) -> list[str]:
        """Integrity problems found (empty list when the store is sound)."""

    @abstractmethod
    def backup(self, target_path: str | Path) -> Path:
        """Write a consistent copy of the whole store to a file while it is in use.

        Only backends with ``Capability.BACKUP`` support it; others raise
        ``StoreError``. Returns the path written.
        """

    @abstractmethod
    def restore_backup(self, source_path: str | Path) -> int:
        """Replace the whole store with a verified backup; returns memories restored.

        The backup is checked before anything changes; a damaged one raises
        ``IntegrityError``. Only backends with ``Capability.BACKUP`` support it.
        """

    @property
    def encrypted(self) -> bool:
        """Whether what the store writes is sealed with its master key (docs/security.md)."""
        return False

    def encrypt(self, key: EncryptionKey, *, encrypt_vectors: bool = True) -> int:
        """Encrypt a plaintext store in place under ``key``; returns memories sealed.
        Only backends with ``Capability.ENCRYPTION``; others raise ``StoreError``."""
        raise StoreError(f"{type(self).__name__} does not encrypt at rest")

    def rotate_master_key(self, new: EncryptionKey) -> int:
        """Re-wrap every data key under ``new``; returns how many. Content is not
        re-encrypted. Only encrypted stores of backends with
        ``Capability.ENCRYPTION`` support it; others raise ``StoreError``."""
        raise StoreError(f"{type(self).__name__} does not encrypt at rest")

    @abstractmethod
    def close(self) -> None:
        """Release files and connections; further use raises ``StoreError``."""
