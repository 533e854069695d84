"""PostgresStore: the Store interface over PostgreSQL and pgvector (docs/postgres.md).

Owns the composition of each write (which rows, in which transaction) and the
reads a search makes: dense candidates by pgvector (an exact scan of the
namespace below ``ann_threshold`` memories, the HNSW index above it), lexical
candidates from ``store.postgres.lexical``, the catalog a ranking reads. Every
statement names the namespace. The SQL of rows is ``store.postgres.rows``; the
connection and migrations are ``store.postgres.database``.

In an encrypted store (docs/security.md) every value of a memory that is
sealed on SQLite is sealed here with the namespace's cipher
(``store.postgres.sealed``, keys by ``security.datakeys``), the lexical terms
are blind tokens, and vectors are sealed and never given to pgvector: dense
candidates come from an in-process index of the opened vectors
(``store.vectors.VectorIndex``, exact below ``ann_threshold``, a graph above),
built at a namespace's first search and kept while its change mark stays
(docs/postgres.md, "Encryption at rest"). Memories written without their
vector (docs/write-path.md) are ``store.postgres.pending``'s.

The reads of a two-stage search over a namespace larger than the pool (``catalog_of``,
``around``, ``occurred_between``, ``links_of``, ``latest_episodes``) and a fade's
``active`` are indexed queries of ``store.postgres.candidates``: none reads the
catalog. Not here yet (docs/postgres.md, "What is not done yet"): change notices
between processes, ``backup`` (PostgreSQL's own ``pg_dump`` is the backup).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from engramdb.bounded import Bounded
from engramdb.config import EncryptionKey
from engramdb.errors import InvalidInputError, StoreError
from engramdb.filters import Filter
from engramdb.model import Engram, NamespaceStats, Version
from engramdb.security.crypto import check_source
from engramdb.store.base import (
    Candidate,
    Capability,
    Catalog,
    DerivedUpdate,
    DynamicsUpdate,
    EngramRecord,
    Held,
    PendingVector,
    Repetition,
    Store,
    VectorArrival,
    VersionRecord,
)
from engramdb.store.identity import content_identity
from engramdb.store.paging import Keyed, PageQuery
from engramdb.store.postgres import (
    changes,
    encryption,
    fields,
    identities,
    lexical,
    listing,
    macs,
    nearest,
    pending,
    rows,
    validity,
)
from engramdb.store.postgres.candidates import CandidateReads
from engramdb.store.postgres.consolidation import ConsolidationTables
from engramdb.store.postgres.database import DEFAULT_POOL_SIZE, Connection, Database
from engramdb.store.postgres.expiring import ExpiryRows
from engramdb.store.postgres.learned import LearnedTable
from engramdb.store.postgres.profile import ProfileTable
from engramdb.store.postgres.sealed import DataKeys
from engramdb.store.vectors import VectorIndex

__all__ = ["DEFAULT_SCHEMA", "PostgresStore"]

#: The PostgreSQL schema a store works in unless told otherwise.
DEFAULT_SCHEMA = "engramdb"
_PAGE = 1_000  # memories per query of iter_engrams
_SELECT = f"SELECT {rows.ENGRAM_COLUMNS} FROM engrams"


class PostgresStore(
    CandidateReads, ExpiryRows, ConsolidationTables, LearnedTable, ProfileTable, Store
):
    """Memories in one schema of a PostgreSQL database with pgvector."""

    capabilities = frozenset(
        {
            Capability.ANN,
            Capability.CONCURRENT_PROCESSES,
            Capability.DEFERRED_VECTORS,
            Capability.ENCRYPTION,
        }
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
        encryption: EncryptionKey | None = None,
        encrypt_vectors: bool = True,
    ) -> None:
        """Open the store in ``schema`` of the database at ``url``, creating it there
        (and pgvector, where the role may) unless ``read_only``: then a schema without
        a store is a ``NotFoundError`` and every write a ``StoreError``. It holds up to
        ``pool_size`` connections (docs/scaling.md). ``encryption`` is the master key
        of an encrypted store, or the one a new store is created encrypted with
        (docs/security.md)."""
        self.dims = dims
        self.ann_threshold = ann_threshold
        if encryption is not None:
            check_source(encryption)
        self._db = Database(url, schema, dims=dims, read_only=read_only, pool_size=pool_size)
        try:
            self._keys = DataKeys(encryption, encrypt_vectors=encrypt_vectors)
            self._keys.open(self._db)
            if not read_only:
                with self._db.write("row MACs and validity") as conn:
                    if self._keys.encrypted:  # rows written before their MACs
                        macs.fill_pending(conn, self._ciphers(conn))
                    validity.repair_pending(conn, self._ciphers(conn))
        except BaseException:
            self._db.close()
            raise
        # catalogs kept while their namespace does not move, whoever writes it
        self._catalogs = changes.CatalogCache()
        # an encrypted namespace's vector index, built from its catalog's opened vectors
        self._sealed: Bounded[str, tuple[Catalog, VectorIndex]] = Bounded(changes.CACHED_NAMESPACES)
        self._sealed_lock = threading.Lock()  # a server's threads search side by side

    @property
    def encrypted(self) -> bool:
        return self._keys.encrypted

    @property
    def schema(self) -> str:
        return self._db.schema

    # -- writes ---------------------------------------------------------------

    def insert(self, records: Sequence[EngramRecord]) -> list[Engram]:
        if not records:
            return []
        held: dict[int, Engram] = {}  # position -> the memory that already held its content
        with self._db.write("insert") as conn:
            known: set[tuple[str, str]] = set()  # (namespace, digest) held before this write
            for namespace in sorted({r.namespace for r in records}):
                digests = [
                    d
                    for r in records
                    if r.namespace == namespace
                    for d in (r.identity, r.idempotency)
                    if d is not None
                ]
                identities.lock(conn, self.schema, namespace, digests)
                cipher = self._cipher(conn, namespace, create=True)
                known |= {
                    (namespace, d) for d in identities.present(conn, cipher, namespace, digests)
                }
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
                elif not (mine & known and self._claimed(conn, record, position, held)):
                    fresh.append(position)
                    seen |= mine
            self._write_new(conn, [records[i] for i in fresh])
            for position in again:
                if not self._claimed(conn, records[position], position, held):
                    self._write_new(conn, [records[position]])
        return [held.get(i) or record.written() for i, record in enumerate(records)]

    def _claimed(
        self, conn: Connection, record: EngramRecord, position: int, held: dict[int, Engram]
    ) -> bool:
        """Whether a memory holds the record's content or key already (docs/repetition.md:
        another writer may have stored it since the facade looked); it takes the
        record's place in ``held``."""
        cipher = self._cipher(conn, record.namespace, create=True)
        holder = identities.claim(
            conn, cipher, record.namespace, record.identity, record.idempotency, record.request
        )
        if holder is None:
            return False
        found = _one(conn, "rowid = %s", (holder,), lambda _: cipher)
        held[position] = replace(found, repeated=True)
        return True

    def _write_new(self, conn: Connection, records: Sequence[EngramRecord]) -> None:
        """New memories at version 1, with the digests that make a later write of each
        a repetition."""
        if not records:
            return
        cipher_of = self._ciphers(conn, create=True)
        firsts = [r.first_version() for r in records]
        sealed = self._keys.vectors_sealed
        rowids = rows.insert(conn, records, firsts, cipher_of, seal_vectors=sealed)
        rows.insert_version(conn, zip(rowids, records, firsts, strict=True), cipher_of)
        identities.write_all(
            conn,
            (
                (cipher_of(r.namespace), r.namespace, rowid, r.identity, r.idempotency, r.request)
                for rowid, r in zip(rowids, records, strict=True)
            ),
        )

    # -- vectors that follow their memory (docs/write-path.md) ----------------

    def pending_vectors(self, limit: int) -> list[PendingVector]:
        if limit <= 0:
            return []
        with self._db.read() as conn:
            return pending.oldest(conn, limit, self._ciphers(conn))

    def claim_vectors(self, limit: int, lease_s: float) -> list[PendingVector]:
        if limit <= 0:
            return []
        with self._db.write("claim_vectors") as conn:
            return pending.claim(conn, limit, lease_s, self._ciphers(conn))

    def release_vectors(self, ids: Sequence[str]) -> None:
        if ids:
            with self._db.write("release_vectors") as conn:
                pending.release(conn, ids)

    def set_vectors(self, namespace: str, arrivals: Sequence[VectorArrival]) -> int:
        if not arrivals:
            return 0
        with self._db.write("set_vectors") as conn:
            # in id order: two processes embedding the same memories lock them alike
            ordered = sorted(arrivals, key=lambda arrival: arrival.id)
            cipher, sealed = self._cipher(conn, namespace), self._keys.vectors_sealed
            return sum(
                pending.arrive(conn, namespace, arrival, cipher, seal_vectors=sealed)
                for arrival in ordered
            )

    def identified(self, namespace: str, digests: Sequence[str]) -> dict[str, Held]:
        if not digests:
            return {}
        with self._db.read() as conn:
            ready = not identities.pending(conn, namespace)
        if not ready and not self._db.read_only:  # a store from before: filled once
            with self._db.write("fill identities") as conn:
                conn.execute("LOCK TABLE identities_pending IN SHARE ROW EXCLUSIVE MODE")
                if identities.pending(conn, namespace):
                    identities.fill(conn, self._cipher(conn, namespace), namespace)
        with self._db.read() as conn:
            return identities.held(conn, self._cipher(conn, namespace), namespace, digests)

    def repeat(self, namespace: str, repetitions: Sequence[Repetition]) -> None:
        if not repetitions:
            return
        updates = [r.update for r in repetitions if r.update is not None]
        with self._db.write("repetition") as conn:
            rowids = rows.rowids_of(conn, namespace, [r.engram_id for r in repetitions])
            identities.repeat(conn, self._cipher(conn, namespace), namespace, rowids, repetitions)
            _set_dynamics(conn, namespace, updates)

    def _new_version(
        self, namespace: str, change: DerivedUpdate, *, speaker: str | None, now: datetime
    ) -> Engram:
        with self._db.write("update") as conn:
            rowid, version = rows.locate(conn, namespace, change.engram_id)
            cipher_of = self._ciphers(conn, create=True)
            rows.new_version(
                conn, rowid, change, speaker=speaker, version=version + 1, at=now,
                namespace=namespace, cipher_of=cipher_of, seal_vectors=self._keys.vectors_sealed,
            )  # fmt: skip
            updated = _one(conn, "rowid = %s", (rowid,), cipher_of)
            if updated.kind == "episode":  # what a repetition of it is follows its content
                identity = content_identity(
                    change.text, speaker, updated.session, change.occurred_at
                )
                identities.renew(conn, cipher_of(namespace), namespace, rowid, identity)
            return updated

    def delete(self, namespace: str, engram_id: str) -> None:
        with self._db.write("delete") as conn:
            rowid, _ = rows.locate(conn, namespace, engram_id)
            rows.delete(conn, [rowid], rows.with_derived(conn, [rowid]), self._ciphers(conn))

    def delete_many(
        self, namespace: str, ids: Sequence[str], *, dry_run: bool = False
    ) -> list[str]:
        if dry_run:
            with self._db.read() as conn:
                return [i for _, i in rows.doomed(conn, namespace, ids, lock=False)[1]]
        with self._db.write("delete_many") as conn:
            named, gone = rows.doomed(conn, namespace, ids, lock=True)
            rows.delete(conn, named, [r for r, _ in gone], self._ciphers(conn))
        return [i for _, i in gone]

    def forget_namespace(self, namespace: str) -> int:
        with self._db.write("forget_namespace") as conn:
            gone = conn.execute("DELETE FROM engrams WHERE namespace = %s", (namespace,))
            conn.execute("DELETE FROM budgets WHERE namespace = %s", (namespace,))
            conn.execute("DELETE FROM expiry_ttl WHERE namespace = %s", (namespace,))
            conn.execute("DELETE FROM learned WHERE namespace = %s", (namespace,))
            conn.execute("DELETE FROM profile_entries WHERE namespace = %s", (namespace,))
            identities.forget(conn, namespace)
            changes.forget(conn, namespace)
            self._keys.forget(conn, namespace)  # its data key goes with it
        self._catalogs.drop(namespace)
        with self._sealed_lock:
            self._sealed.pop(namespace, None)
        self._keys.forget_opened(namespace)
        return max(gone.rowcount, 0)

    def restore_many(self, items: Sequence[tuple[EngramRecord, Sequence[VersionRecord]]]) -> None:
        if not items:
            return
        if any(not versions for _, versions in items):
            raise StoreError("restore needs at least one version per memory")
        records = [record for record, _ in items]
        with self._db.write("restore") as conn:
            cipher_of = self._ciphers(conn, create=True)
            rowids = rows.insert(
                conn, records, [versions[-1] for _, versions in items], cipher_of,
                seal_vectors=self._keys.vectors_sealed,
            )  # fmt: skip
            rows.insert_version(
                conn,
                [(rowid, r, v) for rowid, (r, vs) in zip(rowids, items, strict=True) for v in vs],
                cipher_of,
            )
            for rowid, record in zip(rowids, records, strict=True):
                if record.kind == "episode":  # an imported episode is one to repeat too
                    identity = record.identity or content_identity(
                        record.text, record.speaker, record.session, record.occurred_at
                    )
                    cipher = cipher_of(record.namespace)
                    identities.write(conn, cipher, record.namespace, rowid, identity, None)

    # -- reads ----------------------------------------------------------------

    def get_many(self, namespace: str, ids: Sequence[str]) -> dict[str, Engram]:
        with self._db.read() as conn:
            found = conn.execute(
                f"{_SELECT} WHERE id = ANY(%s) AND namespace = %s", (list(ids), namespace)
            )
            cipher_of = self._ciphers(conn)
            return {row[1]: rows.engram(row, cipher_of) for row in found}

    def history(self, namespace: str, engram_id: str) -> list[Version]:
        with self._db.read() as conn:
            return rows.history(conn, namespace, engram_id, self._cipher(conn, namespace))

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
            cipher_of = self._ciphers(conn)
            return [rows.engram(row, cipher_of) for row in found]

    def session_tail(self, namespace: str, session: str, limit: int) -> list[Engram]:
        if limit <= 0:
            return []
        with self._db.read() as conn:
            found = conn.execute(
                f"{_SELECT} WHERE namespace = %s AND session = %s AND kind = 'episode' "
                "ORDER BY seq DESC LIMIT %s",
                (namespace, session, limit),
            ).fetchall()
            cipher_of = self._ciphers(conn)
            return [rows.engram(row, cipher_of) for row in reversed(found)]

    def lexical_search(self, namespace: str, terms: Sequence[str], limit: int) -> list[Candidate]:
        with self._db.read() as conn:
            return lexical.search(conn, namespace, terms, limit, self._cipher(conn, namespace))

    def vector_search(
        self, namespace: str, vector: npt.NDArray[np.float32], limit: int
    ) -> list[Candidate]:
        if limit <= 0:
            return []
        if self._keys.vectors_sealed:
            catalog, index = self._sealed_index(namespace)
            found = index.search(np.asarray(vector, dtype=np.float32), limit)
            return [Candidate(catalog.ids[key], score) for key, score in found]
        with self._db.read() as conn:
            return nearest.search(conn, namespace, vector, limit, self.ann_threshold)

    def _sealed_index(self, namespace: str) -> tuple[Catalog, VectorIndex]:
        """The in-process index of an encrypted namespace's vectors, keyed by position in
        its catalog: built from the catalog's opened vectors, kept while the catalog is
        (docs/postgres.md, "Encryption at rest")."""
        catalog = self.catalog(namespace)
        with self._sealed_lock:
            held = self._sealed.get(namespace)
        if held is not None and held[0] is catalog:
            return held
        index = VectorIndex(self.dims, self.ann_threshold)
        stored = np.flatnonzero(catalog.vectors.any(axis=1))  # zeros: pending, left out
        if len(stored):
            index.add([int(i) for i in stored], catalog.vectors[stored])
        with self._sealed_lock:
            self._sealed[namespace] = (catalog, index)
        return catalog, index

    def nearest_scores(
        self, namespace: str, vectors: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float64]:
        if self._keys.vectors_sealed:
            _, index = self._sealed_index(namespace)
            if not len(index):
                return np.zeros(len(vectors), dtype=np.float64)
            return index.nearest(np.asarray(vectors, dtype=np.float32))
        with self._db.read() as conn:
            return nearest.scores(conn, namespace, vectors, self.ann_threshold)

    def vectors(self, namespace: str, ids: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(ids), self.dims), dtype=np.float32)
        with self._db.read() as conn:
            cipher = self._cipher(conn, namespace)
            found = {
                str(eid): rows.read_vector(cipher, str(eid), embedding, sealed, self.dims)
                for eid, embedding, sealed in conn.execute(
                    "SELECT id, embedding, sealed_vector FROM engrams "
                    "WHERE id = ANY(%s) AND namespace = %s",
                    (list(ids), namespace),
                )
            }
        for i, engram_id in enumerate(ids):
            if engram_id in found:
                out[i] = found[engram_id]
        return out

    def catalog(self, namespace: str) -> Catalog:
        with self._db.read() as conn:
            return self._catalogs.catalog(conn, namespace, lambda c: self._catalog(c, namespace))

    def _catalog(self, conn: Connection, namespace: str) -> Catalog:
        cipher = self._cipher(conn, namespace)
        return rows.catalog(conn, "namespace = %s", (namespace,), self.dims, cipher)

    def count(self, namespace: str, limit: int) -> int:
        if limit <= 0:
            return 0
        with self._db.read() as conn:
            return nearest.bounded_count(conn, namespace, limit)

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
                cipher_of = self._ciphers(conn)
                engrams = [rows.engram(row, cipher_of) for row in page]
            yield from engrams
            if len(page) < _PAGE:
                return
            after = int(page[-1][0])

    def page(self, query: PageQuery) -> list[Keyed]:
        if query.where is not None:
            self._orderable(query.where)
        with self._db.read() as conn:
            return listing.page(conn, query, self._cipher(conn, query.namespace))

    def matching(
        self,
        namespace: str,
        where: Filter,
        *,
        ids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[str]:
        self._orderable(where)
        with self._db.read() as conn:
            cipher = self._cipher(conn, namespace)
            return fields.matching(conn, cipher, namespace, where, ids, limit)

    def _orderable(self, where: Filter) -> None:
        """Refuse an ordering filter in an encrypted store, as the SQLite store does (its
        filter index holds keyed tokens: docs/filters.md), so that a filter means the
        same on both stores."""
        if where.ordering and self._keys.encrypted:
            raise InvalidInputError(
                "ordering operators ($gt, $gte, $lt, $lte) cannot filter an encrypted "
                "namespace: its values are stored as keyed tokens that only compare equal"
            )

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
                "SELECT DISTINCT model_id FROM engrams "
                "WHERE embedding IS NOT NULL OR sealed_vector IS NOT NULL"
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

    def usage(self, namespace: str) -> tuple[int, int]:
        if self._keys.encrypted:  # sizes of the opened text, not of its ciphertext
            active = self.active(namespace)  # no vector read, unlike the catalog
            return len(active), int(active.sizes.sum())
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT count(*), coalesce(sum(octet_length(text)), 0) FROM engrams "
                "WHERE namespace = %s AND NOT dormant",
                (namespace,),
            ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    # -- maintenance ----------------------------------------------------------

    def reindex(self, namespace: str | None = None) -> int:
        """Rebuild each memory's lexical terms from its text and keys; HNSW needs no
        rebuild (PostgreSQL's ``REINDEX`` does it, docs/postgres.md)."""
        with self._db.write("reindex") as conn:
            found = encryption.opened_terms(conn, self._ciphers(conn), namespace)
            with conn.cursor() as cur:
                cur.executemany(
                    "UPDATE engrams SET terms = %s WHERE rowid = %s",
                    [(terms, rowid) for rowid, terms, _ in found],
                )
        return len(found)

    def check(self) -> list[str]:
        """Memories whose current version is missing from their history, whose
        lexical terms are not those of their text and keys, or that have no vector
        and are not pending (docs/write-path.md: a pending memory is not damage);
        facts superseded by a fact that does not exist; in an encrypted store,
        sealed values that do not open (``encryption.unopenable``) and memories'
        rows that do not match their MAC (``macs.mismatched``)."""
        problems = []
        with self._db.read() as conn:
            cipher_of = self._ciphers(conn)
            if self._keys.encrypted:
                problems += encryption.unopenable(conn, cipher_of, self._keys.vectors_sealed)
                problems += macs.mismatched(conn, cipher_of)
            row = conn.execute(
                "SELECT count(*) FROM engrams e WHERE NOT EXISTS (SELECT 1 FROM versions v "
                "WHERE v.engram_rowid = e.rowid AND v.version = e.version AND v.valid_to IS NULL)"
            ).fetchone()
            if row is not None and row[0]:
                problems.append(f"history: {row[0]} memories without their current version")
            row = conn.execute(
                "SELECT count(*) FROM engrams e WHERE e.embedding IS NULL "
                "AND e.sealed_vector IS NULL AND NOT EXISTS "
                "(SELECT 1 FROM vectors_pending p WHERE p.engram_rowid = e.rowid)"
            ).fetchone()
            if row is not None and row[0]:
                problems.append(f"vectors: {row[0]} memories without a vector, not pending")
            row = conn.execute(
                "SELECT count(*) FROM vectors_pending p JOIN engrams e "
                "ON e.rowid = p.engram_rowid "
                "WHERE e.embedding IS NOT NULL OR e.sealed_vector IS NOT NULL"
            ).fetchone()
            if row is not None and row[0]:
                problems.append(f"vectors: {row[0]} pending memories with a vector")
            row = conn.execute(  # an erasure moves what they end at (store.derivation)
                "SELECT count(*) FROM facts f WHERE f.superseded_by IS NOT NULL AND NOT EXISTS "
                "(SELECT 1 FROM engrams s JOIN facts g ON g.engram_rowid = s.rowid "
                "WHERE s.id = f.superseded_by AND g.namespace = f.namespace)"
            ).fetchone()
            if row is not None and row[0]:
                problems.append(f"facts: {row[0]} superseded by a fact that does not exist")
            stale = sum(
                1
                for _, terms, held in encryption.opened_terms(conn, cipher_of, lenient=True)
                if terms != held
            )
            if stale:
                problems.append(f"lexical index: {stale} memories with stale terms (reindex)")
        return problems

    # -- encryption at rest (docs/security.md) ------------------------------------

    def encrypt(self, key: EncryptionKey, *, encrypt_vectors: bool = True) -> int:
        """Encrypt this plaintext store in place under the master key ``key``: one
        transaction seals every value (and every vector, unless ``encrypt_vectors`` is
        False) and makes the lexical terms blind; the number of memories sealed. The
        plaintext row versions stay in the relation files until the operator's
        ``VACUUM FULL`` (docs/postgres.md, "Encryption at rest"). Other processes that
        have the store open must reopen it with the key."""
        check_source(key)
        if self._keys.encrypted:
            raise StoreError("the store is already encrypted (rotate its master key instead)")
        keys = DataKeys(key, encrypt_vectors=encrypt_vectors)
        with self._db.write("encryption in place") as conn:
            conn.execute("LOCK TABLE crypto, engrams IN EXCLUSIVE MODE")
            if keys.recorded(conn) is not None:
                raise StoreError("the store was encrypted by another process; reopen it")
            keys.initialise(conn, datetime.now().astimezone())
            count = encryption.seal_store(conn, keys)
        self._keys = keys
        self._catalogs = changes.CatalogCache()
        with self._sealed_lock:
            self._sealed.clear()
        return count

    def rotate_master_key(self, new: EncryptionKey) -> int:
        """Re-wrap every namespace's data key under ``new`` in one transaction; content
        is not re-encrypted. The number of data keys re-wrapped."""
        check_source(new)
        with self._db.write("master key rotation") as conn:
            conn.execute("LOCK TABLE crypto IN EXCLUSIVE MODE")
            return self._keys.rotate(conn, new, datetime.now().astimezone())

    def close(self) -> None:
        self._db.close()


def _one(conn: Connection, where: str, params: Sequence[Any], cipher_of: rows.CipherOf) -> Engram:
    row = conn.execute(f"{_SELECT} WHERE {where}", params).fetchone()
    if row is None:
        raise StoreError("a memory written in this transaction was not found")
    return rows.engram(row, cipher_of)


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
