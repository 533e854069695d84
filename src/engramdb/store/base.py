"""The Store interface: what a backend must implement, and what it need not.

A store keeps memories, their versions, their vectors and their lexical index,
isolated by namespace. It validates nothing the facade already validated and
computes no scores beyond what its indexes give (BM25, cosine); ranking lives
in ``recall``. Every write method is one transaction: it happens entirely or
not at all. Backends prove they meet this contract by passing
``engramdb.testing.conformance`` (``tests/store/test_conformance.py`` runs it
against every way ``SqliteStore`` opens).

What a backend implements (the abstract methods of ``Store``):

- **rows**: a memory's current row and its versions, written by ``insert``
  (returning ``EngramRecord.written`` for each), ``update``, ``restore_many``
  (an import), ``delete`` (taking along what ``store.derivation.taken_along`` says) and
  ``forget_namespace``; read by ``get_many``, ``history``, ``neighbours``
  (session order), ``iter_engrams``, ``namespaces``, ``stats``, ``model_ids``.
- **vectors**: the stored vector of each memory and a search over them
  (``vector_search``; ``nearest_scores``, concrete here, for a batch;
  ``vectors``), and ``catalog``: a namespace's memories
  as parallel arrays for ranking (a backend may cache it between writes).
- **a lexical index**: ``lexical_search`` (BM25 over text and index keys),
  rebuilt from the rows by ``reindex``.
- **the reads of a two-stage search** (docs/recall.md): ``count`` (bounded),
  ``catalog_of`` (the catalog of given ids), ``around`` (session turns near
  given memories), ``occurred_between`` (a time window) and ``links_of``;
  of a mood, ``latest_episodes`` (a window read from its end); of a listing,
  ``page`` (keyset pagination: ``store.paging``).
  Concrete here over ``catalog`` and ``links``; a backend overrides them
  with indexed queries (SqliteStore: ``store/sqlite/candidates.py``).
- **transactions**: each write method above and below is atomic, and a read
  never sees half of another process's write.
- **side records** of a namespace: each memory's dynamic state
  (``set_dynamics``, read back on memories and in the catalog, and for a fade
  by ``active``, concrete here), the budget
  (``budget``, ``set_budget``, ``usage``), consolidation's facts, provenance links and
  consumed marks (``pending_episodes``, ``apply_consolidation``, ``facts``,
  ``links``, ``consumed``, ``restore_consolidation``; ``facts_of`` and
  ``pending_count`` are concrete, a backend overrides them with indexed
  reads), the pinned profile's versions (``profile``, ``profiled``, ``pin``,
  ``unpin``, ``restore_profile``; docs/profile.md), expiry; ``forget_namespace`` drops them all.
- **upkeep**: ``check`` (what is damaged, empty when sound) and ``close``.

Optional, each behind a ``Capability``: ``backup`` and ``restore_backup``
(``BACKUP``), ``encrypt``, ``rotate_master_key`` and a store that seals what
it writes (``ENCRYPTION``); the defaults here refuse with ``StoreError``.

What the layers above do, so that no backend repeats it: validation and
limits (``engramdb.validation``), ids and times (``engramdb.clock``),
embeddings, index keys (``recall.indexing``), redaction; the dynamics
themselves (initial importance and stability, what a recall or a fade
changes: ``engramdb.dynamics``); what consolidation writes
(``engramdb.consolidate``); ranking (``recall``); export and import
(``engramdb.transfer``). Shared behaviour a backend calls instead of
rewriting: ``Store``'s concrete methods (``get``, ``session_tail``,
``restore``, ``pending_count``), ``taken_along`` (which derived memories a
delete takes) and ``consolidated_again`` (which episodes it marks pending
again), the records' own methods (``engramdb.store.records``: a memory as
written, a fact as recorded, whether a consolidation step's episodes are
still pending, a catalog's dynamics built and patched), and the
stored form of values (``engramdb.store.codec``: metadata JSON, what an
encrypted store seals and how).

For a new backend (PostgreSQL): implement the abstract methods, run
``ALL_CHECKS`` against each way it opens, and reuse ``store.vectors``
(the in-memory vector index) until an ANN extension replaces it. What is
still inside ``SqliteStore`` that belongs above the store, and where it
should go:

- The composition of writes. ``insert``, ``restore_many``, ``update``,
  ``delete``, ``apply_consolidation`` and ``restore_consolidation`` each
  order the same primitive writes (a row, a version, a vector row, an index
  row, fact/link/mark rows, a change counter) inside one transaction. With a
  small transaction interface of those primitives here, they become concrete
  ``Store`` methods and a backend implements only the primitives.
- The guards of public methods (an empty batch, ``limit <= 0``, a restore
  without versions) belong in ``Store`` as validate-then-call-a-hook methods
  (LangGraph's ``BaseStore``), not in each backend.
- The per-namespace cache (``store/sqlite/cache.py``: vector index and
  catalog kept until a change counter moves, extended after this process's
  inserts, patched after ``set_dynamics``) is backend-neutral but for two
  queries; as ``store/cache.py`` over a small loader protocol PostgreSQL
  would share it.
- The associated data of each sealed value (``"engrams.text:<id>"``, ...)
  is spelled inline in each backend's modules (the key hierarchy itself is
  shared: ``security/datakeys.py`` over each backend's ``KeyTable``) and
  belongs in ``store/codec.py``.
- ``check``: the per-namespace comparison of memories, lexical rows, stored
  vectors and the loaded index (``store/sqlite/maintenance.py``) is shared
  logic over counts a backend would report.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engramdb.config import EncryptionKey
from engramdb.errors import StoreError
from engramdb.filters import Filter
from engramdb.model import Engram, Fact, NamespaceStats, ProfileEntry, Version
from engramdb.store.expiring import Expiring
from engramdb.store.identity import Held, Repetition
from engramdb.store.paging import Keyed, PageQuery, listed
from engramdb.store.records import (
    NO_VECTOR,
    Active,
    Candidate,
    Catalog,
    ConsolidationBatch,
    DerivedUpdate,
    Dynamics,
    DynamicState,
    DynamicsUpdate,
    EngramRecord,
    FactChange,
    FactRow,
    Learned,
    Link,
    PendingVector,
    VectorArrival,
    VersionRecord,
)

__all__ = [
    "NO_VECTOR",
    "Active",
    "Candidate",
    "Capability",
    "Catalog",
    "ConsolidationBatch",
    "DerivedUpdate",
    "DynamicState",
    "Dynamics",
    "DynamicsUpdate",
    "EngramRecord",
    "FactChange",
    "FactRow",
    "Held",
    "Learned",
    "Link",
    "PendingVector",
    "Repetition",
    "Store",
    "VectorArrival",
    "VersionRecord",
    "deepened",
]


class Capability(enum.Enum):
    """Optional abilities a backend may have; callers check before relying on them."""

    ANN = "ann"  # approximate nearest-neighbour index for large namespaces
    CONCURRENT_PROCESSES = "concurrent_processes"  # several processes may open one store
    BACKUP = "backup"  # online consistent backup
    ENCRYPTION = "encryption"  # envelope encryption at rest, master key rotation (docs/security.md)
    # a memory may be written without its vector, which follows (docs/write-path.md)
    DEFERRED_VECTORS = "deferred_vectors"


class Store(Expiring, ABC):
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

    # -- repetition (docs/repetition.md) ----------------------------------------
    # A backend that keeps no identities inherits these two: it finds no repetition,
    # and every add stores a copy (as before they existed). SqliteStore keeps them.

    def identified(self, namespace: str, digests: Sequence[str]) -> dict[str, Held]:
        """The memories of the namespace that hold any of ``digests`` (content identities
        and idempotency keys, ``store.identity``), by digest. A backend that keeps them
        also writes each ``EngramRecord.identity`` and ``idempotency`` with its memory
        (episodes only), gives them up with it, and has ``insert`` yield on a digest held
        already: that record is not written, and the memory holding the digest takes
        its place in the result, marked ``repeated`` (one memory when two writers add
        the same content at once); a held key whose content differs is a
        ``ConflictError``, nothing written."""
        return {}

    def repeat(self, namespace: str, repetitions: Sequence[Repetition]) -> None:
        """Record repetitions found by ``identified`` in one transaction: each memory's
        count and last encounter, its strengthening, its new idempotency key.
        This default writes the strengthening only."""
        updates = [r.update for r in repetitions if r.update is not None]
        if updates:
            self.set_dynamics(namespace, updates)

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
        change = DerivedUpdate(engram_id, text, metadata, occurred_at, vector, model_id, keys)
        return self._new_version(namespace, change, speaker=speaker, now=now)

    @abstractmethod
    def _new_version(
        self, namespace: str, change: DerivedUpdate, *, speaker: str | None, now: datetime
    ) -> Engram:
        """``update``'s write, in one transaction: ``change`` as the memory's next version
        (``NotFoundError`` when its id is not in the namespace). An episode's content
        identity (``store.identity``) becomes the new content's."""

    @abstractmethod
    def delete(self, namespace: str, engram_id: str) -> None:
        """Remove a memory, its versions and its index entries; ``NotFoundError`` if absent.

        Every derived memory (fact, summary) with the memory among its sources goes
        with it, transitively (``taken_along``): nothing that may hold its words
        survives it. The remaining episode sources of what went along are pending
        again (``consolidated_again``), in the same transaction.
        """

    @abstractmethod
    def delete_many(
        self, namespace: str, ids: Sequence[str], *, dry_run: bool = False
    ) -> list[str]:
        """Remove the memories of ``ids`` that exist in the namespace in one transaction,
        as ``delete`` removes one; returns the ids removed, those of ``ids`` first, in
        their order, then the derived ones. ``dry_run`` returns them, removing nothing."""

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
        """Memories matching ``terms`` (plain words), best first by BM25 weight.

        A backend may leave out the weight of terms that a large share of the
        store holds, so that a search costs the same in any size of namespace
        (docs/recall.md, "Lexical seeds")."""

    @abstractmethod
    def vector_search(
        self, namespace: str, vector: npt.NDArray[np.float32], limit: int
    ) -> list[Candidate]:
        """Memories nearest ``vector`` by cosine similarity, best first."""

    def vector_search_within(
        self,
        namespace: str,
        vector: npt.NDArray[np.float32],
        limit: int,
        within: Filter,
        deepest: int,
    ) -> list[Candidate]:
        """``vector_search``'s memories that pass ``within``, best first: of the nearest
        ``limit``, then of ever more (``deepened``), up to ``deepest``. What a filtered
        search seeds its candidates with when many pass (``recall.candidates``); a
        backend checks the filter where it reads the results (SqliteStore: by row)."""

        def read(depth: int) -> tuple[int, list[Candidate]]:
            found = self.vector_search(namespace, vector, depth)
            return len(found), self._passing(namespace, within, found)

        return deepened(read, limit, deepest)

    def lexical_search_within(
        self, namespace: str, terms: Sequence[str], limit: int, within: Filter, deepest: int
    ) -> list[Candidate]:
        """``lexical_search``'s memories that pass ``within``, best first, read as
        ``vector_search_within`` reads them."""

        def read(depth: int) -> tuple[int, list[Candidate]]:
            found = self.lexical_search(namespace, terms, depth)
            return len(found), self._passing(namespace, within, found)

        return deepened(read, limit, deepest)

    def _passing(self, namespace: str, within: Filter, found: list[Candidate]) -> list[Candidate]:
        passing = set(self.matching(namespace, within, ids=[c.id for c in found]))
        return [c for c in found if c.id in passing]

    def nearest_scores(
        self, namespace: str, vectors: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float64]:
        """Each of ``vectors``' similarity to its nearest memory of the namespace: the
        score of ``vector_search(namespace, vector, 1)``, 0 when it finds none. What
        the novelty of a batch of new memories is judged by; a backend answers the
        whole batch in one query (SqliteStore: one matrix product or k-NN batch)."""
        return np.array(
            [next((c.score for c in self.vector_search(namespace, v, 1)), 0.0) for v in vectors],
            dtype=np.float64,
        )

    @abstractmethod
    def vectors(self, namespace: str, ids: Sequence[str]) -> npt.NDArray[np.float32]:
        """The stored vectors of ``ids`` in that order (rows of zeros for unknown ids)."""

    @abstractmethod
    def catalog(self, namespace: str) -> Catalog:
        """A snapshot of the namespace's memories for ranking (cached between writes)."""

    # -- candidates of a two-stage search (docs/recall.md) ---------------------
    # Each default reads the whole catalog; a backend overrides them with indexed
    # queries so that a search over a large namespace reads only what it ranks.

    def count(self, namespace: str, limit: int) -> int:
        """How many memories the namespace holds, counting no further than ``limit``
        (a bounded count: whether a namespace is larger than a pool costs no more
        than the pool)."""
        return min(self.stats(namespace).engrams, max(limit, 0))

    def catalog_of(self, namespace: str, ids: Sequence[str]) -> Catalog:
        """The catalog of the memories of ``ids`` that exist in the namespace, in
        insertion order (the shape of ``catalog``, a row a memory)."""
        catalog = self.catalog(namespace)
        wanted = set(ids)
        return catalog.take([i for i, engram_id in enumerate(catalog.ids) if engram_id in wanted])

    def around(self, namespace: str, ids: Sequence[str], span: int) -> list[str]:
        """``ids`` that exist and the memories up to ``span`` turns before or after
        each in its session, in insertion order."""
        catalog = self.catalog(namespace)
        wanted = set(ids)
        seeds = [i for i, engram_id in enumerate(catalog.ids) if engram_id in wanted]
        near = {(int(catalog.session[i]), int(catalog.seq[i])) for i in seeds}
        reach = {
            (session, seq + offset)
            for session, seq in near
            if session >= 0
            for offset in range(-span, span + 1)
        }
        return [
            engram_id
            for i, engram_id in enumerate(catalog.ids)
            if engram_id in wanted or (int(catalog.session[i]), int(catalog.seq[i])) in reach
        ]

    def occurred_between(
        self, namespace: str, start: datetime, end: datetime, limit: int
    ) -> list[str]:
        """Up to ``limit`` memories whose event time is in ``[start, end)``, earliest first."""
        catalog = self.catalog(namespace)
        at = catalog.occurred_at
        inside = np.flatnonzero((at >= start.timestamp()) & (at < end.timestamp()))
        ordered = inside[np.argsort(at[inside], kind="stable")]
        return [catalog.ids[i] for i in ordered[: max(limit, 0)]]

    def links_of(self, namespace: str, ids: Sequence[str]) -> list[Link]:
        """The provenance links of the namespace with ``ids`` at either end."""
        wanted = set(ids)
        return [k for k in self.links(namespace) if k.derived_id in wanted or k.source_id in wanted]

    def latest_episodes(
        self, namespace: str, start: datetime, end: datetime, limit: int
    ) -> list[str]:
        """Up to ``limit`` episodes whose event time is in ``[start, end]``, latest first
        (ties: the later written first): what a mood reads (docs/context.md, "Mood")."""
        catalog = self.catalog(namespace)
        at = catalog.occurred_at
        kinds = catalog.kinds or ("episode",) * len(catalog)
        episode = np.array([k == "episode" for k in kinds], dtype=bool)
        inside = np.flatnonzero(episode & (at >= start.timestamp()) & (at <= end.timestamp()))
        latest = inside[np.lexsort((-inside, -at[inside]))]
        return [catalog.ids[i] for i in latest[: max(limit, 0)]]

    def matching(
        self,
        namespace: str,
        where: Filter,
        *,
        ids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[str]:
        """The memories of the namespace that pass ``where`` (docs/filters.md), among
        ``ids`` when given, in insertion order, at most ``limit``. Raises
        ``InvalidInputError`` for an ordering operator on an encrypted namespace."""
        wanted = None if ids is None else set(ids)
        out: list[str] = []
        for engram in self.iter_engrams(namespace):
            if limit is not None and len(out) >= limit:
                break
            if wanted is not None and engram.id not in wanted:
                continue
            if where.matches(
                speaker=engram.speaker,
                session=engram.session,
                metadata=engram.metadata,
                occurred_at=engram.occurred_at,
                expires_at=engram.expires_at,
            ):
                out.append(engram.id)
        return out

    def count_matching(self, namespace: str, where: Filter, limit: int) -> int:
        """How many memories of the namespace pass ``where``, counting no further than
        ``limit``: whether a filter leaves few enough to search them all costs no more
        than that many, however many pass (``recall.candidates``, docs/filters.md)."""
        return len(self.matching(namespace, where, limit=max(limit, 0)))

    def few_matching(
        self, namespace: str, where: Filter, most: int
    ) -> tuple[list[str], npt.NDArray[np.float32]] | None:
        """The memories that pass ``where``, in insertion order, with a vector each, when
        at most ``most`` pass (None when more do): a filtered search chooses its
        candidates among them by cosine (``recall.candidates``). A backend may give
        each vector as its index holds it (the same direction as the stored one, which
        is all a cosine sees) rather than read the stored vectors."""
        if self.count_matching(namespace, where, most + 1) > most:
            return None
        found = self.matching(namespace, where, limit=most + 1)
        if len(found) > most:  # written since the count
            return None
        return found, self.vectors(namespace, found)

    def page(self, query: PageQuery) -> list[Keyed]:
        """A page of a listing (docs/scopes.md): up to ``query.limit`` memories of the
        namespace after ``query.after`` in its order, each with its key. This default
        reads and sorts the whole namespace, its row key the insertion position; a
        backend reads an index from the key on (keyset pagination: no ``OFFSET``)."""
        return listed(query, self.iter_engrams(query.namespace))

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

    # -- vectors that follow their memory (docs/write-path.md) -------------------------
    # A backend with ``Capability.DEFERRED_VECTORS`` lets ``insert`` take a record
    # without its vector (``EngramRecord.pending``, its vector ``NO_VECTOR``): the
    # memory is stored and found by everything but its meaning, and stays pending until
    # ``set_vectors``. One without it inherits these: nothing is ever pending, and the
    # facade embeds before it writes.

    def pending_vectors(self, limit: int) -> list[PendingVector]:
        """Up to ``limit`` memories written without their vector, of every namespace,
        oldest write first. A delete takes a pending memory along; an ``update``
        writes the new version's vector, so the memory is no longer pending."""
        return []

    def claim_vectors(self, limit: int, lease_s: float) -> list[PendingVector]:
        """The background embedder's next round: up to ``limit`` pending memories, oldest
        first, that no other process is embedding. A backend that several processes
        write at once claims them for ``lease_s`` seconds, so that two never embed the
        same memory at once and a claimer that dies leaves its round to whoever claims
        after the lease; the claim ends when the vectors arrive. This default claims
        nothing: it is ``pending_vectors``, for a backend whose catch-up runs in one
        process at a time."""
        return self.pending_vectors(limit)

    def release_vectors(self, ids: Sequence[str]) -> None:
        """End this process's claim on the pending memories ``ids`` before their vectors
        arrive (a round that failed), so that the next claim, here or elsewhere, takes
        them at once. This default has no claims to end."""
        del ids

    def set_vectors(self, namespace: str, arrivals: Sequence[VectorArrival]) -> int:
        """Write the vectors of pending memories, with what is derived from them, in one
        transaction; returns how many were written. A memory no longer pending
        (deleted, or updated since) is skipped: its stored vector, if any, stands."""
        if arrivals:
            raise StoreError(f"{type(self).__name__} keeps no memory without its vector")
        return 0

    # -- memory dynamics (docs/dynamics.md) ---------------------------------------------

    @abstractmethod
    def set_dynamics(self, namespace: str, updates: Sequence[DynamicsUpdate]) -> int:
        """Write new dynamic state (recalls, stability, dormancy) in one transaction.

        Ids not in the namespace are skipped (a memory deleted since its recall
        was queued); returns how many memories changed. Content, versions and
        indexes are untouched; the next ``catalog`` shows the new state.
        """

    def active(self, namespace: str) -> Active:
        """The namespace's active (not dormant) memories as a fade weighs them: ids, last
        use, stability, importance and text bytes (docs/dynamics.md, "Dormancy and
        budgets"). This default reads the catalog; a backend reads the dynamics
        alone, without texts or vectors."""
        return Active.of(self.catalog(namespace))

    @abstractmethod
    def budget(self, namespace: str) -> tuple[int | None, int | None] | None:
        """The namespace's stored budget as ``(max_memories, max_bytes)``, None for
        a bound not set; None when the namespace has no budget."""

    @abstractmethod
    def set_budget(self, namespace: str, max_memories: int | None, max_bytes: int | None) -> None:
        """Store (or replace) the namespace's budget in one transaction; both None
        removes it. ``forget_namespace`` removes it too."""

    def usage(self, namespace: str) -> tuple[int, int]:
        """What a budget bounds: the namespace's active (not dormant) memories and the
        UTF-8 bytes of their texts. Counted here from the catalog; a backend keeps the
        totals instead (SqliteStore: a row kept by triggers), so that checking a
        budget at each write does not read the namespace."""
        catalog = self.catalog(namespace)
        if catalog.dynamics is None:
            return len(catalog), 0
        active = ~catalog.dynamics.dormant
        return int(active.sum()), int(catalog.dynamics.sizes[active].sum())

    # -- learning (docs/learning.md) ------------------------------------------------------

    @abstractmethod
    def learn(self, namespace: str, items: Sequence[Learned]) -> None:
        """Write what the namespace learned in one transaction, each item replacing
        the one of its kind and key."""

    @abstractmethod
    def learned(self, namespace: str, kind: str) -> list[Learned]:
        """What the namespace learned of ``kind``, by ``recorded_at`` then key."""

    @abstractmethod
    def unlearn(self, namespace: str, kinds: Sequence[str]) -> int:
        """Delete what the namespace learned of these kinds in one transaction;
        how many items went. ``forget_namespace`` deletes them all."""

    # -- consolidation (docs/consolidation.md) ----------------------------------------------

    @contextmanager
    def consolidating(self, namespace: str) -> Iterator[None]:
        """Held while the namespace is consolidated. A store that several processes
        share makes a second runner wait here until the first is done, which then
        finds nothing left to do (docs/scaling.md); this default holds nothing:
        each step's write is checked against what it read anyway
        (``ConsolidationBatch.pending_in``)."""
        yield

    @abstractmethod
    def pending_episodes(self, namespace: str, limit: int) -> list[Engram]:
        """Up to ``limit`` episodes not yet consolidated (or changed since), oldest first."""

    def pending_count(self, namespace: str) -> int:
        """How many episodes ``pending_episodes`` would return without a limit.

        This default reads them all; backends override it with a count.
        """
        return len(self.pending_episodes(namespace, 2**62))

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

    def facts_of(
        self, namespace: str, ids: Sequence[str] = (), keys: Sequence[tuple[str, str]] = ()
    ) -> list[Fact]:
        """The facts of the memories ``ids`` (those that are facts) and every fact of
        the namespace that shares a subject and attribute (both compared casefolded
        and stripped) with one of them or with a ``(subject, attribute)`` of
        ``keys``: a timeline whole. Ordered like ``facts``. What a search over
        some memories and a consolidation step read instead of every fact.

        This default reads every fact; backends override it with an indexed read.
        """

        def key(subject: str, attribute: str) -> tuple[str, str]:
            return subject.casefold().strip(), attribute.casefold().strip()

        every = self.facts(namespace)
        wanted = set(ids)
        shared = {key(f.subject, f.attribute) for f in every if f.engram_id in wanted}
        shared.update(key(subject, attribute) for subject, attribute in keys)
        return [f for f in every if f.engram_id in wanted or key(f.subject, f.attribute) in shared]

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

    # -- the pinned profile (docs/profile.md) ------------------------------------

    @abstractmethod
    def profile(self, namespace: str) -> list[ProfileEntry]:
        """Every version of the namespace's profile entries, by key, then version."""

    @abstractmethod
    def profiled(self) -> list[str]:
        """The namespaces that hold profile entries (past versions count), sorted."""

    @abstractmethod
    def pin(
        self,
        namespace: str,
        key: str,
        text: str,
        source_id: str | None,
        now: datetime,
        admit: Callable[[list[ProfileEntry]], None],
    ) -> ProfileEntry:
        """Pin ``text`` under ``key`` in one transaction: the key's current version (if
        any) closes at ``now`` and ``store.pinning.next_pin``'s version is written,
        unless it is None (the current one is returned). ``admit`` is called inside the
        transaction with the current entries as they would be and may refuse by
        raising: nothing is written then."""

    @abstractmethod
    def unpin(self, namespace: str, key: str, now: datetime) -> ProfileEntry | None:
        """Close the key's current version at ``now``; returns it closed, None when
        the key is not pinned."""

    @abstractmethod
    def restore_profile(self, namespace: str, entries: Sequence[ProfileEntry]) -> None:
        """Write exported profile versions as they are, in one transaction; a version
        the namespace holds already is ``InvalidInputError``, nothing written."""

    # -- maintenance ---------------------------------------------------------

    @abstractmethod
    def reindex(self, namespace: str | None = None) -> int:
        """Rebuild the derived indexes from the tables; returns memories indexed."""

    @abstractmethod
    def check(self) -> list[str]:
        """Integrity problems found (empty list when the store is sound)."""

    def backup(self, target_path: str | Path) -> Path:
        """Write a consistent copy of the whole store to a file while it is in use.

        Only backends with ``Capability.BACKUP`` support it; others raise
        ``StoreError``. Returns the path written.
        """
        raise StoreError(f"{type(self).__name__} has no online backup")

    def restore_backup(self, source_path: str | Path) -> int:
        """Replace the whole store with a verified backup; returns memories restored.

        The backup is checked before anything changes; a damaged one raises
        ``IntegrityError``. Only backends with ``Capability.BACKUP`` support it;
        others raise ``StoreError``.
        """
        raise StoreError(f"{type(self).__name__} has no online backup")

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


def deepened(
    read: Callable[[int], tuple[int, list[Candidate]]], limit: int, deepest: int
) -> list[Candidate]:
    """The first ``limit`` that pass of results read ever deeper: ``read(depth)`` gives
    how many results it read and those of them that pass, best first. ``depth``
    starts at ``limit`` and grows, as the share that pass requires, until half of
    ``limit`` pass (a filtered search's seeds are less than that share of its pool:
    ``recall.candidates``), the results run out, or ``depth`` reaches ``deepest``."""
    depth = max(limit, 1)
    while True:
        count, kept = read(depth)
        if 2 * len(kept) >= limit or count < depth or depth >= deepest:
            return kept[:limit]
        share = max(len(kept), 1) / count
        depth = min(deepest, max(2 * depth, int(0.625 * limit / share)))
