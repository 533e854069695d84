"""SqliteStore: the embedded default backend (one SQLite file in WAL mode).

The class is where the parts meet: each ``Store`` method takes one write
transaction or one read snapshot of the ``Database``, asks ``DataKeys`` for
the namespace's cipher, runs the SQL of the part it concerns, and once a
write has committed brings this process's ``NamespaceCache`` up to date. The
parts, each a module beside this one:

- ``database``: the file, the connection, transactions with bounded retry,
  snapshots, and the one translation of ``sqlite3`` errors (docs/reliability.md);
- ``rows``: memories, their versions and vectors, deletes, the reads of memories;
- ``lexical``: the FTS5 index; ``cache``: the in-memory vector index and
  catalog per namespace; ``dynamics``: the dynamics table; ``budgets``: budgets;
  ``profile``: the pinned profile's versions;
- ``consolidation``: facts, provenance and consumed marks; ``learning``: what a namespace learned;
- ``sealing``: the keys of an encrypted store; ``maintenance``: checks,
  backups, scrubbing after erasure.

It does not validate user input (the facade did) or rank anything.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engramdb.bounded import Bounded
from engramdb.config import EncryptionKey
from engramdb.errors import IntegrityError, NotFoundError, StoreError
from engramdb.model import Engram, Fact, NamespaceStats, Version
from engramdb.security.crypto import Cipher, check_source
from engramdb.store.base import (
    Active,
    Candidate,
    Capability,
    Catalog,
    ConsolidationBatch,
    DerivedUpdate,
    DynamicsUpdate,
    EngramRecord,
    Held,
    Link,
    PendingVector,
    Repetition,
    Store,
    VectorArrival,
    VersionRecord,
)
from engramdb.store.identity import content_identity
from engramdb.store.sqlite import (
    budgets,
    candidates,
    checksums,
    consolidation,
    dynamics,
    identities,
    learning,
    lexical,
    maintenance,
    pending,
    profile,
    rows,
    validity,
)
from engramdb.store.sqlite.cache import (
    Loaded,
    NamespaceCache,
    bump,
    forget_changes,
    renumber,
)
from engramdb.store.sqlite.database import (
    DB_FILENAME,
    Database,
    database_path,
    existing_database,
    failures,
    is_read_only,
)
from engramdb.store.sqlite.expiring import ExpiryRows
from engramdb.store.sqlite.filtered import FilteredReads
from engramdb.store.sqlite.learning import LearningRows
from engramdb.store.sqlite.sealing import DataKeys, seal_store

__all__ = ["DB_FILENAME", "SqliteStore", "database_path", "existing_database"]


class SqliteStore(FilteredReads, ExpiryRows, LearningRows, profile.ProfileTable, Store):
    """A store in one SQLite database file (or ``":memory:"``)."""

    capabilities = frozenset(
        {
            Capability.ANN,
            Capability.CONCURRENT_PROCESSES,
            Capability.BACKUP,
            Capability.ENCRYPTION,
            Capability.DEFERRED_VECTORS,
        }
    )

    def __init__(
        self,
        path: str | Path,
        *,
        ann_threshold: int = 20_000,
        dims: int = 384,
        read_only: bool = False,
        encryption: EncryptionKey | None = None,
        encrypt_vectors: bool = True,
        analyser: rows.Analyser | None = None,
    ) -> None:
        """Open (creating unless ``read_only``) the store at ``path``.

        ``read_only=True`` opens an existing file with ``mode=ro`` and
        ``query_only``: every write raises ``StoreError`` ("the store is
        read-only") and nothing on disk is created, migrated or changed; a
        missing store is a ``NotFoundError`` naming ``path``. A store created
        here is owner-only: a 0600 database in 0700 folders (docs/security.md).

        ``encryption`` (docs/security.md): a new, empty store opened with a key is
        created encrypted (its vectors too unless ``encrypt_vectors`` is
        False); an encrypted store opens only with its key
        (``DecryptionError`` otherwise), and a plaintext store refuses a key.

        ``analyser`` (docs/recall.md, "What a search reads"): what recall reads of a
        memory's text and index keys, kept beside it when it is written and by
        ``reindex``; without one none is kept, and recall analyses each memory
        it reads itself.
        """
        if encryption is not None:
            check_source(encryption)  # a malformed key creates nothing
        self.ann_threshold = ann_threshold
        self.dims = dims
        self.analyser = analyser
        self._keys = DataKeys(encryption, encrypt_vectors=encrypt_vectors)
        self._db = Database(path, read_only=read_only, prepare=self._prepare)
        self.read_only = read_only
        self.path = self._db.path
        self._cache = NamespaceCache(self._db, self._keys, dims=dims, ann_threshold=ann_threshold)
        self._scrubber = maintenance.Scrubber(self._db)

    def _prepare(self, db: Database) -> None:
        """As the database opens: the master key checked, then the checksums of rows
        written before they existed filled in (once, ``checksums.fill_pending``), and
        those of every row written from now on kept (``checksums.watch``); facts left
        superseded by a fact that no longer exists reopened (once)."""
        self._keys.open(db)
        if not db.read_only:
            # create: a namespace with a budget and no memory yet may have no data key
            checksums.fill_pending(db, lambda conn: self._keys.ciphers(conn, create=True))
            checksums.watch(db, self._keys.ciphers)
            validity.repair_pending(db)  # what erasures left dangling before

    # What this backend's own tests reach for (tests/store, tests/reliability): the
    # connection, a snapshot, the loaded namespaces, running the migrations again.

    @property
    def _conn(self) -> sqlite3.Connection:
        return self._db.conn

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._db.read()

    @property
    def _vectors(self) -> Bounded[str, Loaded]:
        return self._cache.loaded

    def _migrate(self) -> None:
        self._db.migrate()

    def _cipher(self, conn: sqlite3.Connection, namespace: str, *, create: bool = False) -> Cipher:
        return self._keys.cipher(conn, namespace, create=create)

    # -- encryption at rest (docs/security.md) --------------------------------

    @property
    def encrypted(self) -> bool:
        """Whether this store seals what it writes (docs/security.md)."""
        return self._keys.encrypted

    def rotate_master_key(self, new: EncryptionKey) -> int:
        """Re-wrap every namespace's data key under the master key ``new``.

        One transaction; content is not re-encrypted. Other processes that have
        the store open keep reading and writing the namespaces they know, but
        refuse to make a new namespace's key until they reopen with ``new``.
        Returns the number of data keys re-wrapped.
        """
        with self._db.write("master key rotation") as conn:
            return self._keys.rotate(conn, new, datetime.now().astimezone())

    def encrypt(self, key: EncryptionKey, *, encrypt_vectors: bool = True) -> int:
        """Encrypt this plaintext store in place under the master key ``key``.

        One transaction seals every value (memories, history, facts, emotions,
        and vectors unless ``encrypt_vectors`` is False) and rebuilds the
        lexical index as a blind one; then the file is VACUUMed and the WAL
        truncated, so no plaintext is left in free pages. Returns the number of
        memories sealed. Other processes that have the store open must reopen
        it with the key: until then they refuse to write and fail to read.
        """
        check_source(key)
        if self._keys.encrypted:
            raise StoreError("the store is already encrypted (rotate its master key instead)")
        keys = DataKeys(key, encrypt_vectors=encrypt_vectors)
        with self._db.write("encryption in place") as conn:
            if DataKeys.recorded(conn) is not None:
                raise StoreError("the store was encrypted by another process; reopen it")
            keys.initialise(conn, datetime.now().astimezone())
            count = seal_store(conn, keys)
        self._cache.discard()  # saved indexes in the clear go; sealed ones replace them
        self._keys = keys
        self._cache = NamespaceCache(
            self._db, keys, dims=self.dims, ann_threshold=self.ann_threshold
        )
        if not self._db.in_memory:
            with self._db.lock:
                try:
                    self._db.conn.execute("VACUUM")
                    self._db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                except sqlite3.Error as exc:
                    raise StoreError(
                        f"the store is encrypted, but compacting it failed ({exc}): plaintext "
                        "may remain in free pages until 'VACUUM' succeeds (retry with no "
                        "other process using the store)"
                    ) from exc
        return count

    # -- writes ---------------------------------------------------------------

    def insert(self, records: Sequence[EngramRecord]) -> list[Engram]:
        if not records:
            return []
        written: dict[str, list[tuple[int, npt.NDArray[np.float32] | None]]] = {}
        held: dict[int, Engram] = {}  # position -> the memory that already held its content
        with self._db.write("insert", refusable=True) as conn:
            cipher_of = self._keys.ciphers(conn, create=True)
            for position, record in enumerate(records):
                cipher = cipher_of(record.namespace)
                # docs/repetition.md: another writer may have stored it since the facade looked
                holder = identities.claim(
                    conn,
                    cipher,
                    record.namespace,
                    record.identity,
                    record.idempotency,
                    record.request,
                )
                if holder is not None:
                    held[position] = replace(rows.by_rowid(conn, cipher, holder), repeated=True)
                    continue
                rowid = rows.insert(
                    conn,
                    cipher,
                    record,
                    version=1,
                    valid_from=record.recorded_at,
                    seal_vectors=self._keys.vectors_sealed,
                    analyser=self.analyser,
                )
                rows.insert_version(conn, cipher, rowid, record.id, record.first_version())
                identities.write(
                    conn,
                    cipher,
                    record.namespace,
                    rowid,
                    record.identity,
                    record.idempotency,
                    record.request,
                )
                vector = None if record.pending else record.vector
                written.setdefault(record.namespace, []).append((rowid, vector))
            generations = {ns: bump(conn, ns) for ns in written}
        self._written(written, generations, appended=True)
        return [held.get(i) or record.written() for i, record in enumerate(records)]

    def _written(
        self,
        written: Mapping[str, Sequence[tuple[int, npt.NDArray[np.float32] | None]]],
        generations: Mapping[str, int],
        *,
        appended: bool = False,
    ) -> None:
        """Bring the loaded indexes up to our own committed write. Memories written
        without their vector (docs/write-path.md) join the catalog, not the index."""
        for namespace, added in written.items():
            vectored = [(rowid, v) for rowid, v in added if v is not None]
            generation = generations[namespace]
            if len(vectored) == len(added):
                self._cache.added(namespace, vectored, generation, appended=appended)
            elif vectored:
                self._cache.added(namespace, vectored, generation)  # the catalog is rebuilt
            else:
                self._cache.changed(namespace, generation)  # the index is unchanged

    # -- vectors that follow their memory (docs/write-path.md) ----------------

    def pending_vectors(self, limit: int) -> list[PendingVector]:
        with self._db.read() as conn:
            return pending.oldest(conn, lambda ns: self._cipher(conn, ns), limit)

    def set_vectors(self, namespace: str, arrivals: Sequence[VectorArrival]) -> int:
        if not arrivals:
            return 0
        written: list[tuple[int, npt.NDArray[np.float32] | None]] = []
        with self._db.write("set_vectors") as conn:
            cipher = self._cipher(conn, namespace, create=True)
            for arrival in arrivals:
                rowid = pending.rowid_of(conn, namespace, arrival.id)
                if rowid is None:  # deleted, or updated (with its vector) since
                    continue
                pending.arrive(conn, cipher, rowid, arrival, seal_vectors=self._keys.vectors_sealed)
                written.append((rowid, arrival.vector))
            if not written:
                return 0
            generation = bump(conn, namespace)
        self._written({namespace: written}, {namespace: generation})
        return len(written)

    def identified(self, namespace: str, digests: Sequence[str]) -> dict[str, Held]:
        if not digests:
            return {}
        with self._db.read() as conn:
            ready = not identities.pending(conn, namespace)
        if not ready and not self.read_only:  # a store from before: filled once
            with self._db.write("fill identities") as conn:
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
            cipher = self._cipher(conn, namespace, create=True)
            identities.repeat(conn, cipher, namespace, rowids, repetitions)
            applied = dynamics.update(conn, rowids, updates)
        self._cache.patch(namespace, applied)

    def _new_version(
        self, namespace: str, change: DerivedUpdate, *, speaker: str | None, now: datetime
    ) -> Engram:
        with self._db.write("update") as conn:
            rowid, version = rows.locate(conn, namespace, change.engram_id)
            cipher = self._cipher(conn, namespace, create=True)
            rows.new_version(
                conn,
                cipher,
                rowid,
                namespace,
                change,
                speaker=speaker,
                version=version + 1,
                at=now,
                seal_vectors=self._keys.vectors_sealed,
                analyser=self.analyser,
            )
            kind, session = conn.execute(
                "SELECT kind, session FROM engrams WHERE rowid = ?", (rowid,)
            ).fetchone()
            if kind == "episode":  # what a repetition of it is follows its content
                identity = content_identity(change.text, speaker, session, change.occurred_at)
                identities.renew(conn, cipher, namespace, rowid, identity)
            generation = bump(conn, namespace)
            updated = rows.by_rowid(conn, cipher, rowid)
        self._cache.added(namespace, [(rowid, change.vector)], generation)
        return updated

    def delete(self, namespace: str, engram_id: str) -> None:
        if not self.delete_many(namespace, [engram_id]):
            raise NotFoundError(f"no memory {engram_id!r} in namespace {namespace!r}")

    def delete_many(
        self, namespace: str, ids: Sequence[str], *, dry_run: bool = False
    ) -> list[str]:
        with self._db.read() if dry_run else self._db.write("delete", erasure=True) as conn:
            doomed, gone, again = rows.doomed(conn, namespace, ids)
            if dry_run or not doomed:
                return gone
            validity.after_erasure(conn, namespace, gone)
            rows.delete(conn, doomed)
            consolidation.unconsume(conn, namespace, again)
            generation = bump(conn, namespace)
        self._keys.forget_opened(namespace)
        self._scrubber.scrub()
        self._cache.removed(namespace, doomed, generation)
        return gone

    def forget_namespace(self, namespace: str) -> int:
        try:
            return self._forget(namespace)
        except StoreError as exc:
            if not maintenance.disk_full(exc):
                raise
        # too little room for one transaction: the memories go a few at a time first
        erased = maintenance.erase_in_steps(self._db, namespace)
        return len(erased) + self._forget(namespace)

    def _forget(self, namespace: str) -> int:
        with self._db.write("forget_namespace", erasure=True) as conn:
            count = rows.forget_namespace(conn, namespace)
            identities.forget(conn, namespace)
            learning.forget(conn, namespace)
            profile.forget(conn, namespace)
            # the vector change log names them no more (those erased in steps too)
            forget_changes(conn, namespace)
            self._keys.forget(conn, namespace)  # its data key goes with it
        self._cache.discard(namespace)  # with its saved vector index
        self._scrubber.scrub(vacuum=True)
        return count

    def restore_many(self, items: Sequence[tuple[EngramRecord, Sequence[VersionRecord]]]) -> None:
        if not items:
            return
        if any(not versions for _, versions in items):
            raise StoreError("restore needs at least one version per memory")
        written: dict[str, list[tuple[int, npt.NDArray[np.float32] | None]]] = {}
        with self._db.write("restore", refusable=True) as conn:
            cipher_of = self._keys.ciphers(conn, create=True)
            for record, versions in items:
                current = versions[-1]
                cipher = cipher_of(record.namespace)
                rowid = rows.insert(
                    conn,
                    cipher,
                    record,
                    version=current.version,
                    valid_from=current.valid_from,
                    seal_vectors=self._keys.vectors_sealed,
                    analyser=self.analyser,
                )
                for v in versions:
                    rows.insert_version(conn, cipher, rowid, record.id, v)
                if record.kind == "episode":  # an imported episode is one to repeat too
                    identity = record.identity or content_identity(
                        record.text, record.speaker, record.session, record.occurred_at
                    )
                    identities.write(conn, cipher, record.namespace, rowid, identity, None)
                vector = None if record.pending else record.vector
                written.setdefault(record.namespace, []).append((rowid, vector))
            generations = {ns: bump(conn, ns) for ns in written}
        self._written(written, generations)

    # -- reads ----------------------------------------------------------------

    def get_many(self, namespace: str, ids: Sequence[str]) -> dict[str, Engram]:
        if not ids:
            return {}
        with self._db.read() as conn:
            return rows.get_many(conn, self._cipher(conn, namespace), namespace, ids)

    def history(self, namespace: str, engram_id: str) -> list[Version]:
        with self._db.read() as conn:
            return rows.history(conn, self._cipher(conn, namespace), namespace, engram_id)

    def neighbours(self, namespace: str, engram_id: str, before: int, after: int) -> list[Engram]:
        with self._db.read() as conn:
            cipher = self._cipher(conn, namespace)
            return rows.neighbours(conn, cipher, namespace, engram_id, before, after)

    def session_tail(self, namespace: str, session: str, limit: int) -> list[Engram]:
        if limit <= 0:
            return []
        with self._db.read() as conn:
            cipher = self._cipher(conn, namespace)
            return rows.session_tail(conn, cipher, namespace, session, limit)

    def lexical_search(self, namespace: str, terms: Sequence[str], limit: int) -> list[Candidate]:
        if not terms or limit <= 0:
            return []
        with self._db.read() as conn:
            return lexical.search(conn, self._cipher(conn, namespace), namespace, terms, limit)

    def vector_search(
        self, namespace: str, vector: npt.NDArray[np.float32], limit: int
    ) -> list[Candidate]:
        return self._cache.search(namespace, vector, limit)

    def nearest_scores(
        self, namespace: str, vectors: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float64]:
        return self._cache.nearest(namespace, vectors)

    def vectors(self, namespace: str, ids: Sequence[str]) -> npt.NDArray[np.float32]:
        return self._cache.vectors(namespace, ids)

    def catalog(self, namespace: str) -> Catalog:
        return self._cache.catalog(namespace)

    # -- candidates of a two-stage search (docs/recall.md) ---------------------

    def count(self, namespace: str, limit: int) -> int:
        with self._db.read() as conn:
            return candidates.count(conn, namespace, limit)

    def catalog_of(self, namespace: str, ids: Sequence[str]) -> Catalog:
        with self._db.read() as conn:
            return candidates.catalog_of(
                conn,
                self._cipher(conn, namespace),
                namespace,
                ids,
                dims=self.dims,
                vectors_sealed=self._keys.vectors_sealed,
            )

    def around(self, namespace: str, ids: Sequence[str], span: int) -> list[str]:
        with self._db.read() as conn:
            return candidates.around(conn, namespace, ids, max(span, 0))

    def occurred_between(
        self, namespace: str, start: datetime, end: datetime, limit: int
    ) -> list[str]:
        with self._db.read() as conn:
            return candidates.occurred_between(conn, namespace, start, end, limit)

    def links_of(self, namespace: str, ids: Sequence[str]) -> list[Link]:
        with self._db.read() as conn:
            return candidates.links_of(conn, namespace, ids)

    def latest_episodes(
        self, namespace: str, start: datetime, end: datetime, limit: int
    ) -> list[str]:
        with self._db.read() as conn:
            return candidates.latest_episodes(conn, namespace, start, end, limit)

    def iter_engrams(self, namespace: str | None = None) -> Iterator[Engram]:
        last = 0
        while True:
            with self._db.read() as conn:  # a page per snapshot: writers go on in between
                engrams, last = rows.page(conn, self._keys.ciphers(conn), namespace, last)
            if not engrams:
                return
            yield from engrams

    def namespaces(self) -> list[str]:
        with self._db.read() as conn:
            return rows.namespaces(conn)

    def stats(self, namespace: str) -> NamespaceStats:
        with self._db.read() as conn:
            return rows.stats(conn, namespace)

    def model_ids(self) -> set[str]:
        with self._db.read() as conn:
            return rows.model_ids(conn)

    # -- memory dynamics (docs/dynamics.md) -----------------------------------

    def set_dynamics(self, namespace: str, updates: Sequence[DynamicsUpdate]) -> int:
        if not updates:
            return 0
        with self._db.write("set_dynamics") as conn:
            rowids = rows.rowids_of(conn, namespace, [u.id for u in updates])
            applied = dynamics.update(conn, rowids, updates)
        self._cache.patch(namespace, applied)
        return len(applied)

    def active(self, namespace: str) -> Active:
        with self._db.read() as conn:
            return dynamics.active(conn, self._cipher(conn, namespace), namespace)

    def budget(self, namespace: str) -> tuple[int | None, int | None] | None:
        with self._db.read() as conn:
            return budgets.read(conn, self._cipher(conn, namespace), namespace)

    def usage(self, namespace: str) -> tuple[int, int]:
        with self._db.read() as conn:
            active, used = dynamics.usage(conn, namespace)
        if used is not None:
            return active, used
        if self.read_only:  # sizes not kept yet, and none can be written: counted
            return super().usage(namespace)
        with self._db.write("usage") as conn:  # once: sizes kept from now on
            sizes = dynamics.unknown_sizes(conn, self._cipher(conn, namespace), namespace)
            dynamics.fill_sizes(conn, sizes, namespace)
            active, used = dynamics.usage(conn, namespace)
        return active, used or 0

    def set_budget(self, namespace: str, max_memories: int | None, max_bytes: int | None) -> None:
        with self._db.write("set_budget") as conn:
            cipher = self._cipher(conn, namespace, create=True)
            budgets.write(conn, cipher, namespace, max_memories, max_bytes)

    # -- consolidation (docs/consolidation.md) --------------------------------

    def pending_episodes(self, namespace: str, limit: int) -> list[Engram]:
        with self._db.read() as conn:
            return consolidation.pending(conn, self._cipher(conn, namespace), namespace, limit)

    def pending_count(self, namespace: str) -> int:
        with self._db.read() as conn:
            return consolidation.pending_count(conn, namespace)

    def apply_consolidation(self, batch: ConsolidationBatch) -> bool:
        namespace = batch.namespace
        with self._db.write("consolidation", refusable=True) as conn:
            if not consolidation.unconsumed(conn, batch):
                return False
            cipher = self._cipher(conn, namespace, create=True)
            written = consolidation.apply(
                conn, cipher, batch, seal_vectors=self._keys.vectors_sealed, analyser=self.analyser
            )
            generation = bump(conn, namespace)
        if written:
            self._cache.added(namespace, written, generation)
        else:
            self._cache.changed(namespace, generation)  # fact validity: rankings must see it
        return True

    def facts(
        self, namespace: str, *, subject: str | None = None, attribute: str | None = None
    ) -> list[Fact]:
        with self._db.read() as conn:
            cipher = self._cipher(conn, namespace)
            return consolidation.facts(conn, cipher, namespace, subject, attribute)

    def facts_of(
        self, namespace: str, ids: Sequence[str] = (), keys: Sequence[tuple[str, str]] = ()
    ) -> list[Fact]:
        if not ids and not keys:
            return []
        with self._db.read() as conn:
            cipher = self._cipher(conn, namespace)
            return consolidation.facts_of(conn, cipher, namespace, ids, keys)

    def links(self, namespace: str) -> list[Link]:
        with self._db.read() as conn:
            return consolidation.links(conn, namespace)

    def consumed(self, namespace: str) -> dict[str, int]:
        with self._db.read() as conn:
            return consolidation.consumed(conn, namespace)

    def restore_consolidation(
        self,
        namespace: str,
        facts: Sequence[Fact],
        links: Sequence[Link],
        consumed: Mapping[str, int],
    ) -> None:
        if not (facts or links or consumed):
            return
        with self._db.write("restoring consolidation", refusable=True) as conn:
            cipher = self._cipher(conn, namespace, create=True)
            consolidation.restore(conn, cipher, namespace, facts, links, consumed)
            generation = bump(conn, namespace)
        self._cache.changed(namespace, generation)  # fact validity: rankings must see it

    # -- maintenance ----------------------------------------------------------

    def reindex(self, namespace: str | None = None) -> int:
        with self._db.write("reindex") as conn:
            count = maintenance.rebuild(conn, self._keys, namespace)
            if self.analyser is not None:  # fills in what stores written before lack
                rows.reanalyse(conn, self._keys.ciphers(conn), namespace, self.analyser)
        self._cache.discard(namespace)  # the vector index is rebuilt from the table too
        return count

    def check(self) -> list[str]:
        """Integrity, orphans and index-vs-table consistency (``engram check``).

        Reads run on one snapshot, so writers in other processes cause no false
        alarms. FTS5's own index check is a write statement to SQLite: it runs in
        a short write transaction of its own, and is skipped on a read-only store
        or one whose file or file system refuses writes.
        """
        with self._db.read() as conn:
            problems = maintenance.problems(conn, self._keys, self._cache)
            problems += maintenance.guarded(
                "loaded index check", lambda: self._cache.damaged(conn, rows.namespaces(conn))
            )
        if not self.read_only:
            try:
                with self._db.write("lexical index check") as conn:
                    lexical.check_integrity(conn)
            except StoreError as exc:
                cause = exc.__cause__
                # a file or file system that refuses writes cannot run it: not damage
                if not (isinstance(cause, sqlite3.Error) and is_read_only(cause)):
                    problems.append(f"lexical index: {cause or exc}")
        return problems

    def backup(self, target_path: str | Path) -> Path:
        """Write a consistent copy of the whole store to ``target_path`` while it is in
        use (``maintenance.write_backup``): never half a backup."""
        return maintenance.write_backup(self._db, Path(target_path))

    def restore_backup(self, source_path: str | Path) -> int:
        """Replace this store's whole content with the backup at ``source_path``.

        The backup is first copied to a scratch file beside this store, migrated
        and checked there (``check()``), so a damaged backup is refused before
        anything here changes. Then the backup API writes it into this store
        through its own connection, in one transaction: other processes that
        have the store open see the old content or the new, never a mix, and
        their in-memory indexes reload (every namespace's change counter is set
        anew). Returns the number of memories restored.
        """
        source = Path(source_path)
        if not source.is_file():
            raise StoreError(f"no backup file at {source}")
        scratch_dir = Path.cwd() if self._db.in_memory else Path(self.path).parent
        scratch = scratch_dir / f".{Path(self.path).name}.restore-{os.getpid()}"
        try:
            with failures("restore from backup"):
                maintenance.copy_database(source, scratch)
                # the backup must open with this store's key (and be encrypted iff it is)
                verified = SqliteStore(
                    scratch,
                    ann_threshold=self.ann_threshold,
                    dims=self.dims,
                    encryption=self._keys.source,
                )
                try:
                    count = self._restore_from(verified, source)
                finally:
                    verified.close()
        except OSError as exc:
            raise StoreError(f"restore from {source} failed: {exc}") from exc
        finally:
            for suffix in ("", "-wal", "-shm", "-journal", "-reserve"):
                Path(f"{scratch}{suffix}").unlink(missing_ok=True)
        return count

    def _restore_from(self, verified: SqliteStore, source: Path) -> int:
        problems = verified.check()
        if problems:
            raise IntegrityError(
                f"the backup {source} failed its checks, nothing was restored: "
                + "; ".join(problems[:5])
            )
        count = sum(verified.stats(ns).engrams for ns in verified.namespaces())
        with self._db.lock:
            self._db.check_open()
            if self.read_only:
                raise StoreError("cannot restore: the store is read-only")
            verified._db.conn.backup(self._db.conn)
            with self._db.transaction() as conn:
                renumber(conn)
                # the backup's own encryption record and data keys now apply
                self._keys.attach(DataKeys.recorded(conn), self.path)
            self._cache.discard()
        return count

    def close(self) -> None:
        with self._db.lock:
            if self._db.closed:
                return
            self._cache.save()  # graphs with unsaved changes, for the next process
            self._cache.drop()
            # the retry of an erasure's FTS merge (and, in Database.close, of the
            # checkpoint) that another process blocked (docs/security.md)
            self._scrubber.settle()
            self._db.close()
