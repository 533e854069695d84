"""PostgresStore: the Store interface over PostgreSQL and pgvector (docs/postgres.md).

Owns the composition of each write (which rows, in which transaction) and the
reads a search makes: dense candidates by pgvector (an exact scan of the
namespace below ``ann_threshold`` memories, the HNSW index above it), lexical
candidates from ``store.postgres.lexical``, the catalog a ranking reads. Every
statement names the namespace. The SQL of rows is ``store.postgres.rows``; the
connection and migrations are ``store.postgres.database``.

Memories written without their vector (docs/write-path.md) are
``store.postgres.pending``'s. Not here yet (docs/postgres.md, "What is not done
yet"): encryption at rest, a per-namespace cache of the catalog between writes,
the indexed reads of a two-stage search (``count``, ``catalog_of``, ``around``,
... use ``Store``'s defaults, which read the catalog), a connection pool, change
notices between processes, ``backup`` (PostgreSQL's own ``pg_dump`` is the backup).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from psycopg import sql

from engramdb.errors import StoreError
from engramdb.model import Engram, Fact, NamespaceStats, Version
from engramdb.store.base import (
    Candidate,
    Capability,
    Catalog,
    ConsolidationBatch,
    DerivedUpdate,
    DynamicsUpdate,
    EngramRecord,
    Held,
    Learned,
    Link,
    PendingVector,
    Repetition,
    Store,
    VectorArrival,
    VersionRecord,
)
from engramdb.store.identity import content_identity
from engramdb.store.paging import Keyed, PageQuery
from engramdb.store.postgres import changes, identities, lexical, listing, pending, rows
from engramdb.store.postgres.database import DEFAULT_POOL_SIZE, Connection, Database
from engramdb.store.postgres.lexical import terms_of
from engramdb.store.postgres.profile import ProfileTable

__all__ = ["DEFAULT_SCHEMA", "PostgresStore"]

#: The PostgreSQL schema a store works in unless told otherwise.
DEFAULT_SCHEMA = "engramdb"
# How many candidates HNSW gathers for a query at least (pgvector's hnsw.ef_search);
# more when more are asked for. pgvector 0.8's iterative scan goes on past it when
# the namespace's rows are too few among them.
_EF_SEARCH = 100
_PAGE = 1_000  # memories per query of iter_engrams
_SELECT = f"SELECT {rows.ENGRAM_COLUMNS} FROM engrams"


class PostgresStore(ProfileTable, Store):
    """Memories in one schema of a PostgreSQL database with pgvector."""

    capabilities = frozenset(
        {Capability.ANN, Capability.CONCURRENT_PROCESSES, Capability.DEFERRED_VECTORS}
    )

    def __init__(
        self,
        url: str,
        *,
        schema: str = DEFAULT_SCHEMA,
        ann_threshold: int = 20_000,
        dims: int = 384,
        read_only: bool = False,
        pool_size: int = DEFAULT_POOL_SIZE,
    ) -> None:
        """Open the store in ``schema`` of the database at ``url``, creating it there
        (and pgvector, where the role may) unless ``read_only``: then a schema without
        a store is a ``NotFoundError`` and every write a ``StoreError``. It holds up to
        ``pool_size`` connections (docs/scaling.md)."""
        self.dims = dims
        self.ann_threshold = ann_threshold
        self._db = Database(url, schema, dims=dims, read_only=read_only, pool_size=pool_size)
        # catalogs kept while their namespace does not move, whoever writes it
        self._catalogs = changes.CatalogCache()

    @property
    def schema(self) -> str:
        return self._db.schema

    # -- writes ---------------------------------------------------------------

    def insert(self, records: Sequence[EngramRecord]) -> list[Engram]:
        if not records:
            return []
        held: dict[int, Engram] = {}  # position -> the memory that already held its content
        with self._db.write("insert") as conn:
            for namespace in sorted({r.namespace for r in records}):
                digests = [(r.identity, r.idempotency) for r in records if r.namespace == namespace]
                identities.lock(conn, self.schema, namespace, [d for ds in digests for d in ds])
            fresh: list[int] = []  # positions to write
            again: list[int] = []  # positions repeating a record of this batch: after it
            seen: set[tuple[str, str]] = set()
            for position, record in enumerate(records):
                mine = {
                    (record.namespace, d)
                    for d in (record.identity, record.idempotency)
                    if d is not None
                }
                if mine & seen:
                    again.append(position)
                elif not self._claimed(conn, record, position, held):
                    fresh.append(position)
                    seen |= mine
            self._write_new(conn, [records[i] for i in fresh])
            for position in again:
                if not self._claimed(conn, records[position], position, held):
                    self._write_new(conn, [records[position]])
        return [held.get(i) or record.written() for i, record in enumerate(records)]

    @staticmethod
    def _claimed(
        conn: Connection, record: EngramRecord, position: int, held: dict[int, Engram]
    ) -> bool:
        """Whether a memory holds the record's content or key already (docs/repetition.md:
        another writer may have stored it since the facade looked); it takes the
        record's place in ``held``."""
        holder = identities.claim(
            conn, record.namespace, record.identity, record.idempotency, record.request
        )
        if holder is None:
            return False
        held[position] = replace(_one(conn, "rowid = %s", (holder,)), repeated=True)
        return True

    @staticmethod
    def _write_new(conn: Connection, records: Sequence[EngramRecord]) -> None:
        """New memories at version 1, with the digests that make a later write of each
        a repetition."""
        if not records:
            return
        firsts = [r.first_version() for r in records]
        rowids = rows.insert(conn, records, firsts)
        rows.insert_version(conn, zip(rowids, firsts, strict=True))
        for rowid, r in zip(rowids, records, strict=True):
            identities.write(conn, r.namespace, rowid, r.identity, r.idempotency, r.request)

    # -- vectors that follow their memory (docs/write-path.md) ----------------

    def pending_vectors(self, limit: int) -> list[PendingVector]:
        if limit <= 0:
            return []
        with self._db.read() as conn:
            return pending.oldest(conn, limit)

    def set_vectors(self, namespace: str, arrivals: Sequence[VectorArrival]) -> int:
        if not arrivals:
            return 0
        with self._db.write("set_vectors") as conn:
            # in id order: two processes embedding the same memories lock them alike
            ordered = sorted(arrivals, key=lambda arrival: arrival.id)
            return sum(pending.arrive(conn, namespace, arrival) for arrival in ordered)

    def identified(self, namespace: str, digests: Sequence[str]) -> dict[str, Held]:
        if not digests:
            return {}
        with self._db.read() as conn:
            ready = not identities.pending(conn, namespace)
        if not ready and not self._db.read_only:  # a store from before: filled once
            with self._db.write("fill identities") as conn:
                conn.execute("LOCK TABLE identities_pending IN SHARE ROW EXCLUSIVE MODE")
                if identities.pending(conn, namespace):
                    identities.fill(conn, namespace)
        with self._db.read() as conn:
            return identities.held(conn, namespace, digests)

    def repeat(self, namespace: str, repetitions: Sequence[Repetition]) -> None:
        if not repetitions:
            return
        updates = [r.update for r in repetitions if r.update is not None]
        with self._db.write("repetition") as conn:
            rowids = rows.rowids_of(conn, namespace, [r.engram_id for r in repetitions])
            identities.repeat(conn, namespace, rowids, repetitions)
            _set_dynamics(conn, namespace, updates)

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
        with self._db.write("update") as conn:
            rowid, version = rows.locate(conn, namespace, engram_id)
            change = DerivedUpdate(engram_id, text, metadata, occurred_at, vector, model_id, keys)
            rows.new_version(conn, rowid, change, speaker=speaker, version=version + 1, at=now)
            updated = _one(conn, "rowid = %s", (rowid,))
            if updated.kind == "episode":  # what a repetition of it is follows its content
                identity = content_identity(text, speaker, updated.session, occurred_at)
                identities.renew(conn, namespace, rowid, identity)
            return updated

    def delete(self, namespace: str, engram_id: str) -> None:
        with self._db.write("delete") as conn:
            rowid, _ = rows.locate(conn, namespace, engram_id)
            rows.delete(conn, rowid)

    def delete_many(
        self, namespace: str, ids: Sequence[str], *, dry_run: bool = False
    ) -> list[str]:
        if dry_run:
            with self._db.read() as conn:
                return [i for _, i in rows.doomed(conn, namespace, ids, lock=False)]
        with self._db.write("delete_many") as conn:
            gone = rows.doomed(conn, namespace, ids, lock=True)
            conn.execute("DELETE FROM engrams WHERE rowid = ANY(%s)", ([r for r, _ in gone],))
        return [i for _, i in gone]

    def forget_namespace(self, namespace: str) -> int:
        with self._db.write("forget_namespace") as conn:
            gone = conn.execute("DELETE FROM engrams WHERE namespace = %s", (namespace,))
            conn.execute("DELETE FROM budgets WHERE namespace = %s", (namespace,))
            conn.execute("DELETE FROM learned WHERE namespace = %s", (namespace,))
            conn.execute("DELETE FROM profile_entries WHERE namespace = %s", (namespace,))
            identities.forget(conn, namespace)
            changes.forget(conn, namespace)
        self._catalogs.drop(namespace)
        return max(gone.rowcount, 0)

    def restore_many(self, items: Sequence[tuple[EngramRecord, Sequence[VersionRecord]]]) -> None:
        if not items:
            return
        if any(not versions for _, versions in items):
            raise StoreError("restore needs at least one version per memory")
        records = [record for record, _ in items]
        with self._db.write("restore") as conn:
            rowids = rows.insert(conn, records, [versions[-1] for _, versions in items])
            rows.insert_version(
                conn,
                [(rowid, v) for rowid, (_, vs) in zip(rowids, items, strict=True) for v in vs],
            )
            for rowid, record in zip(rowids, records, strict=True):
                if record.kind == "episode":  # an imported episode is one to repeat too
                    identity = record.identity or content_identity(
                        record.text, record.speaker, record.session, record.occurred_at
                    )
                    identities.write(conn, record.namespace, rowid, identity, None)

    # -- reads ----------------------------------------------------------------

    def get_many(self, namespace: str, ids: Sequence[str]) -> dict[str, Engram]:
        with self._db.read() as conn:
            found = conn.execute(
                f"{_SELECT} WHERE id = ANY(%s) AND namespace = %s", (list(ids), namespace)
            )
            return {row[1]: rows.engram(row) for row in found}

    def history(self, namespace: str, engram_id: str) -> list[Version]:
        with self._db.read() as conn:
            return rows.history(conn, namespace, engram_id)

    def neighbours(self, namespace: str, engram_id: str, before: int, after: int) -> list[Engram]:
        with self._db.read() as conn:
            at = conn.execute(
                "SELECT session, seq FROM engrams WHERE namespace = %s AND id = %s",
                (namespace, engram_id),
            ).fetchone()
            if at is None or at[0] is None:
                return []
            session, seq = at
            found = conn.execute(
                f"{_SELECT} WHERE namespace = %s AND session = %s AND seq BETWEEN %s AND %s "
                "AND id <> %s ORDER BY seq",
                (namespace, session, seq - before, seq + after, engram_id),
            )
            return [rows.engram(row) for row in found]

    def session_tail(self, namespace: str, session: str, limit: int) -> list[Engram]:
        if limit <= 0:
            return []
        with self._db.read() as conn:
            found = conn.execute(
                f"{_SELECT} WHERE namespace = %s AND session = %s AND kind = 'episode' "
                "ORDER BY seq DESC LIMIT %s",
                (namespace, session, limit),
            ).fetchall()
        return [rows.engram(row) for row in reversed(found)]

    def lexical_search(self, namespace: str, terms: Sequence[str], limit: int) -> list[Candidate]:
        with self._db.read() as conn:
            return lexical.search(conn, namespace, terms, limit)

    def vector_search(
        self, namespace: str, vector: npt.NDArray[np.float32], limit: int
    ) -> list[Candidate]:
        if limit <= 0:
            return []
        with self._db.read() as conn:
            return self._nearest(conn, namespace, vector, limit)

    def nearest_scores(
        self, namespace: str, vectors: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float64]:
        scores = np.zeros(len(vectors), dtype=np.float64)
        with self._db.read() as conn:
            for i, vector in enumerate(vectors):
                best = self._nearest(conn, namespace, vector, 1)
                scores[i] = best[0].score if best else 0.0
        return scores

    def _nearest(
        self, conn: Connection, namespace: str, vector: npt.NDArray[np.float32], limit: int
    ) -> list[Candidate]:
        """The namespace's memories nearest ``vector``: exact below ``ann_threshold``
        memories, by the HNSW index (pgvector's iterative scan) at and above it."""
        query = rows.vector_of(vector)
        if _bounded_count(conn, namespace, self.ann_threshold) < self.ann_threshold:
            # a materialized scan of the namespace: the planner cannot take the index
            found = conn.execute(
                "WITH near AS MATERIALIZED (SELECT rowid, id, embedding <=> %s AS distance "
                "FROM engrams WHERE namespace = %s AND embedding IS NOT NULL) "
                "SELECT id, 1 - distance FROM near ORDER BY distance, rowid LIMIT %s",
                (query, namespace, limit),
            ).fetchall()
        else:
            conn.execute(
                sql.SQL("SET LOCAL hnsw.ef_search = {}").format(
                    sql.Literal(min(max(_EF_SEARCH, limit), 1_000))
                )
            )
            conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            found = conn.execute(
                "SELECT id, 1 - (embedding <=> %s) FROM engrams WHERE namespace = %s "
                "AND embedding IS NOT NULL ORDER BY embedding <=> %s LIMIT %s",
                (query, namespace, query, limit),
            ).fetchall()
            found.sort(key=lambda row: -float(row[1]))  # relaxed order: nearly sorted
        return [Candidate(str(engram_id), float(score)) for engram_id, score in found]

    def vectors(self, namespace: str, ids: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(ids), self.dims), dtype=np.float32)
        with self._db.read() as conn:
            found = dict(
                conn.execute(
                    "SELECT id, embedding FROM engrams WHERE id = ANY(%s) AND namespace = %s",
                    (list(ids), namespace),
                ).fetchall()
            )
        for i, engram_id in enumerate(ids):
            if found.get(engram_id) is not None:  # None: pending (docs/write-path.md)
                out[i] = found[engram_id].to_numpy()
        return out

    def catalog(self, namespace: str) -> Catalog:
        with self._db.read() as conn:
            return self._catalogs.catalog(conn, namespace, lambda c: self._catalog(c, namespace))

    def _catalog(self, conn: Connection, namespace: str) -> Catalog:
        return rows.catalog(conn, "namespace = %s", (namespace,), self.dims)

    def count(self, namespace: str, limit: int) -> int:
        if limit <= 0:
            return 0
        with self._db.read() as conn:
            return _bounded_count(conn, namespace, limit)

    def iter_engrams(self, namespace: str | None = None) -> Iterator[Engram]:
        after = 0
        while True:
            with self._db.read() as conn:
                if namespace is None:
                    page = conn.execute(
                        f"{_SELECT} WHERE rowid > %s ORDER BY rowid LIMIT %s", (after, _PAGE)
                    ).fetchall()
                else:
                    page = conn.execute(
                        f"{_SELECT} WHERE namespace = %s AND rowid > %s ORDER BY rowid LIMIT %s",
                        (namespace, after, _PAGE),
                    ).fetchall()
            yield from (rows.engram(row) for row in page)
            if len(page) < _PAGE:
                return
            after = int(page[-1][0])

    def page(self, query: PageQuery) -> list[Keyed]:
        with self._db.read() as conn:
            return listing.page(conn, query)

    def namespaces(self) -> list[str]:
        with self._db.read() as conn:
            # byte order, as Python sorts: not the database's collation
            found = conn.execute(
                'SELECT DISTINCT namespace COLLATE "C" AS ns FROM engrams ORDER BY ns'
            )
            return [str(ns) for (ns,) in found]

    def stats(self, namespace: str) -> NamespaceStats:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT session), min(occurred_at), max(occurred_at) "
                "FROM engrams WHERE namespace = %s",
                (namespace,),
            ).fetchone()
            versions = conn.execute(
                "SELECT count(*) FROM versions v JOIN engrams e ON e.rowid = v.engram_rowid "
                "WHERE e.namespace = %s",
                (namespace,),
            ).fetchone()
            waiting = pending.count(conn, namespace)
        assert row is not None
        assert versions is not None
        return NamespaceStats(
            namespace=namespace,
            engrams=int(row[0]),
            versions=int(versions[0]),
            sessions=int(row[1]),
            first_occurred_at=row[2],
            last_occurred_at=row[3],
            pending_vectors=waiting,
        )

    def model_ids(self) -> set[str]:
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT DISTINCT model_id FROM engrams WHERE embedding IS NOT NULL"
            )
            return {str(m) for (m,) in found}

    # -- memory dynamics (docs/dynamics.md) -------------------------------------

    def set_dynamics(self, namespace: str, updates: Sequence[DynamicsUpdate]) -> int:
        with self._db.write("set_dynamics") as conn:
            return _set_dynamics(conn, namespace, updates)

    def budget(self, namespace: str) -> tuple[int | None, int | None] | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT max_memories, max_bytes FROM budgets WHERE namespace = %s", (namespace,)
            ).fetchone()
        return None if row is None else (row[0], row[1])

    def set_budget(self, namespace: str, max_memories: int | None, max_bytes: int | None) -> None:
        with self._db.write("set_budget") as conn:
            if max_memories is None and max_bytes is None:
                conn.execute("DELETE FROM budgets WHERE namespace = %s", (namespace,))
                return
            conn.execute(
                "INSERT INTO budgets (namespace, max_memories, max_bytes) VALUES (%s, %s, %s) "
                "ON CONFLICT (namespace) DO UPDATE SET max_memories = excluded.max_memories, "
                "max_bytes = excluded.max_bytes",
                (namespace, max_memories, max_bytes),
            )

    # -- learning (docs/learning.md) --------------------------------------------------

    def learn(self, namespace: str, items: Sequence[Learned]) -> None:
        with self._db.write("learn") as conn, conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO learned (namespace, kind, key, value, recorded_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (namespace, kind, key) DO UPDATE "
                "SET value = excluded.value, recorded_at = excluded.recorded_at",
                [(namespace, i.kind, i.key, i.value, i.recorded_at) for i in items],
            )

    def learned(self, namespace: str, kind: str) -> list[Learned]:
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT key, value, recorded_at FROM learned WHERE namespace = %s AND kind = %s "
                "ORDER BY recorded_at, key",
                (namespace, kind),
            ).fetchall()
        return [Learned(kind, key, value, at) for key, value, at in found]

    def unlearn(self, namespace: str, kinds: Sequence[str]) -> int:
        with self._db.write("unlearn") as conn:
            gone = conn.execute(
                "DELETE FROM learned WHERE namespace = %s AND kind = ANY(%s)",
                (namespace, list(kinds)),
            )
        return max(gone.rowcount, 0)

    def usage(self, namespace: str) -> tuple[int, int]:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT count(*), coalesce(sum(octet_length(text)), 0) FROM engrams "
                "WHERE namespace = %s AND NOT dormant",
                (namespace,),
            ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    # -- consolidation (docs/consolidation.md) ----------------------------------

    def pending_episodes(self, namespace: str, limit: int) -> list[Engram]:
        if limit <= 0:
            return []
        with self._db.read() as conn:
            found = conn.execute(
                f"{_SELECT} WHERE namespace = %s AND kind = 'episode' "
                "AND (consumed IS NULL OR consumed < version) ORDER BY rowid LIMIT %s",
                (namespace, limit),
            )
            return [rows.engram(row) for row in found]

    def pending_count(self, namespace: str) -> int:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT count(*) FROM engrams WHERE namespace = %s AND kind = 'episode' "
                "AND (consumed IS NULL OR consumed < version)",
                (namespace,),
            ).fetchone()
        return 0 if row is None else int(row[0])

    @contextmanager
    def consolidating(self, namespace: str) -> Iterator[None]:
        """A session advisory lock on the namespace, on a connection of its own: a
        second runner, in this process or another, waits until the first is done
        (docs/scaling.md)."""
        with self._db.exclusive(f"consolidate {namespace}"):
            yield

    def apply_consolidation(self, batch: ConsolidationBatch) -> bool:
        namespace = batch.namespace
        with self._db.write("consolidation") as conn:
            # the episodes are locked first: a concurrent step on them waits, then sees
            # them consumed and writes nothing
            found = conn.execute(
                "SELECT id, version, consumed FROM engrams WHERE id = ANY(%s) "
                "AND namespace = %s ORDER BY rowid FOR UPDATE",
                ([engram_id for engram_id, _ in batch.episodes], namespace),
            )
            state = {str(i): (int(v), None if c is None else int(c)) for i, v, c in found}
            if not batch.pending_in(state):
                return False
            if batch.inserts:
                firsts = [r.first_version() for r in batch.inserts]
                written = rows.insert(conn, batch.inserts, firsts)
                rows.insert_version(conn, zip(written, firsts, strict=True))
            rowids = _all_of(conn, namespace, batch.named(), "consolidation names memories not in")
            rows.insert_facts(conn, rowids, (f.recorded(namespace, batch.now) for f in batch.facts))
            for c in batch.changes:
                conn.execute(
                    "UPDATE facts SET valid_to = %s, status = %s, superseded_by = %s, "
                    "invalidated_at = %s WHERE engram_rowid = %s",
                    (c.valid_to, c.status, c.superseded_by, batch.now, rowids[c.engram_id]),
                )
            rows.insert_links(conn, rowids, batch.links)
            for update in batch.updates:
                self._refresh(conn, rowids[update.engram_id], update, batch.now)
            self._mark(conn, rowids, dict(batch.episodes))
        return True

    @staticmethod
    def _refresh(conn: Connection, rowid: int, update: DerivedUpdate, now: datetime) -> None:
        """A new version of a derived memory (a summary refreshed); it keeps its speaker."""
        row = conn.execute(
            "SELECT version, speaker, valid_from FROM engrams WHERE rowid = %s", (rowid,)
        ).fetchone()
        assert row is not None
        version, speaker, valid_from = row
        at = max(now, valid_from)  # versions never overlap
        rows.new_version(conn, rowid, update, speaker=speaker, version=int(version) + 1, at=at)

    @staticmethod
    def _mark(conn: Connection, rowids: Mapping[str, int], marks: Mapping[str, int]) -> None:
        for engram_id, version in marks.items():
            conn.execute(
                "UPDATE engrams SET consumed = %s WHERE rowid = %s", (version, rowids[engram_id])
            )

    def facts(
        self, namespace: str, *, subject: str | None = None, attribute: str | None = None
    ) -> list[Fact]:
        where, params = "f.namespace = %s", [namespace]
        if subject is not None:
            where, params = f"{where} AND f.subject = %s", [*params, subject]
        if attribute is not None:
            where, params = f"{where} AND f.attribute = %s", [*params, attribute]
        with self._db.read() as conn:
            return rows.facts(conn, where, params)

    def facts_of(
        self, namespace: str, ids: Sequence[str] = (), keys: Sequence[tuple[str, str]] = ()
    ) -> list[Fact]:
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT f.lookup FROM facts f JOIN engrams e ON e.rowid = f.engram_rowid "
                "WHERE e.id = ANY(%s) AND e.namespace = %s",
                (list(ids), namespace),
            )
            wanted = {str(lookup) for (lookup,) in found}
            wanted.update(rows.fact_key(subject, attribute) for subject, attribute in keys)
            if not wanted:
                return []
            return rows.facts(
                conn, "f.namespace = %s AND f.lookup = ANY(%s)", (namespace, sorted(wanted))
            )

    def links(self, namespace: str) -> list[Link]:
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT d.id, s.id, p.relation FROM provenance p "
                "JOIN engrams d ON d.rowid = p.derived_rowid "
                "JOIN engrams s ON s.rowid = p.source_rowid "
                "WHERE d.namespace = %s ORDER BY p.derived_rowid, p.source_rowid",
                (namespace,),
            )
            return [Link(str(d), str(s), str(relation)) for d, s, relation in found]

    def consumed(self, namespace: str) -> dict[str, int]:
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT id, consumed FROM engrams WHERE namespace = %s AND consumed IS NOT NULL",
                (namespace,),
            )
            return {str(engram_id): int(version) for engram_id, version in found}

    def restore_consolidation(
        self,
        namespace: str,
        facts: Sequence[Fact],
        links: Sequence[Link],
        consumed: Mapping[str, int],
    ) -> None:
        named = {f.engram_id for f in facts} | set(consumed)
        for link in links:
            named.update((link.derived_id, link.source_id))
        with self._db.write("restoring consolidation") as conn:
            rowids = _all_of(
                conn, namespace, named, "cannot restore consolidation: memories not in"
            )
            rows.insert_facts(conn, rowids, facts)
            rows.insert_links(conn, rowids, links)
            self._mark(conn, rowids, consumed)

    # -- maintenance ----------------------------------------------------------

    def reindex(self, namespace: str | None = None) -> int:
        """Rebuild each memory's lexical terms from its text and keys; HNSW needs no
        rebuild (PostgreSQL's ``REINDEX`` does it, docs/postgres.md)."""
        with self._db.write("reindex") as conn:
            if namespace is None:
                found = conn.execute("SELECT rowid, text, keys FROM engrams").fetchall()
            else:
                found = conn.execute(
                    "SELECT rowid, text, keys FROM engrams WHERE namespace = %s", (namespace,)
                ).fetchall()
            with conn.cursor() as cur:
                cur.executemany(
                    "UPDATE engrams SET terms = %s WHERE rowid = %s",
                    [(terms_of(text, keys), rowid) for rowid, text, keys in found],
                )
        return len(found)

    def check(self) -> list[str]:
        """Memories whose current version is missing from their history, whose
        lexical terms are not those of their text and keys, or that have no vector
        and are not pending (docs/write-path.md: a pending memory is not damage)."""
        problems = []
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT count(*) FROM engrams e WHERE NOT EXISTS (SELECT 1 FROM versions v "
                "WHERE v.engram_rowid = e.rowid AND v.version = e.version AND v.valid_to IS NULL)"
            ).fetchone()
            if row is not None and row[0]:
                problems.append(f"history: {row[0]} memories without their current version")
            row = conn.execute(
                "SELECT count(*) FROM engrams e WHERE e.embedding IS NULL AND NOT EXISTS "
                "(SELECT 1 FROM vectors_pending p WHERE p.engram_rowid = e.rowid)"
            ).fetchone()
            if row is not None and row[0]:
                problems.append(f"vectors: {row[0]} memories without a vector, not pending")
            row = conn.execute(
                "SELECT count(*) FROM vectors_pending p JOIN engrams e "
                "ON e.rowid = p.engram_rowid WHERE e.embedding IS NOT NULL"
            ).fetchone()
            if row is not None and row[0]:
                problems.append(f"vectors: {row[0]} pending memories with a vector")
            stale = sum(
                1
                for terms, text, keys in conn.execute("SELECT terms, text, keys FROM engrams")
                if list(terms) != terms_of(text, keys)
            )
            if stale:
                problems.append(f"lexical index: {stale} memories with stale terms (reindex)")
        return problems

    def close(self) -> None:
        self._db.close()


def _one(conn: Connection, where: str, params: Sequence[Any]) -> Engram:
    row = conn.execute(f"{_SELECT} WHERE {where}", params).fetchone()
    if row is None:
        raise StoreError("a memory written in this transaction was not found")
    return rows.engram(row)


def _bounded_count(conn: Connection, namespace: str, limit: int) -> int:
    """How many memories the namespace holds, counting no further than ``limit``."""
    row = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM engrams WHERE namespace = %s LIMIT %s) AS held",
        (namespace, limit),
    ).fetchone()
    return 0 if row is None else int(row[0])


def _all_of(conn: Connection, namespace: str, named: set[str], refusal: str) -> dict[str, int]:
    """The rows of every id ``named``; ``StoreError`` (``refusal``) when one is missing."""
    found = rows.rowids_of(conn, namespace, named)
    missing = named - found.keys()
    if missing:
        raise StoreError(f"{refusal} {namespace!r}: {sorted(missing)[:3]}")
    return found


def _set_dynamics(conn: Connection, namespace: str, updates: Sequence[DynamicsUpdate]) -> int:
    """Write each update's given fields (None: unchanged); how many memories changed.

    Recalls are added in SQL (``DynamicsUpdate.recalled``): several processes write
    the recalls of one memory, each from what it read before, so a count written
    as it is would lose the other's; the later recall time and the larger stability
    are kept (docs/scaling.md). Rows are written in id order, so two writers of the
    same memories lock them in one order."""
    changed = 0
    for u in sorted(updates, key=lambda update: update.id):
        done = conn.execute(
            "UPDATE engrams SET "
            "stability_days = CASE WHEN %(recalled)s > 0 "
            "THEN greatest(stability_days, %(stability_days)s) "
            "ELSE coalesce(%(stability_days)s, stability_days) END, "
            "importance = coalesce(%(importance)s, importance), "
            "last_recalled_at = CASE WHEN %(recalled)s > 0 "
            "THEN greatest(last_recalled_at, %(last_recalled_at)s) "
            "ELSE coalesce(%(last_recalled_at)s, last_recalled_at) END, "
            "recalls = CASE WHEN %(recalled)s > 0 THEN recalls + %(recalled)s "
            "ELSE coalesce(%(recalls)s, recalls) END, "
            "dormant = coalesce(%(dormant)s, dormant) "
            "WHERE namespace = %(namespace)s AND id = %(id)s",
            asdict(u) | {"namespace": namespace},  # the update's fields by their names
        )
        changed += max(done.rowcount, 0)
    return changed
