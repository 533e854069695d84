"""What a SqliteStore holds in memory per namespace: its vector index and its catalog.

Both are derived from the tables (the ``vectors`` rows, the memories) and
kept for as long as the namespace's change counter (``namespace_state``, its
"generation") says nothing changed: every write bumps it in its transaction,
so another process's write is seen at the next read and the namespace is
reloaded. After this store's own write the loaded index is brought up to date
in place instead (``added``, ``removed``, ``changed``, ``patch``). Vector
search and ``vectors()`` are served from the index; the catalog for ranking is
built on demand and extended, not rebuilt, after this store's inserts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from engramdb.clock import from_iso
from engramdb.errors import DecryptionError, IntegrityError
from engramdb.security.crypto import Cipher
from engramdb.store.base import Candidate, Catalog, DynamicsUpdate
from engramdb.store.codec import open_optional
from engramdb.store.sqlite import dynamics, rows
from engramdb.store.sqlite.database import Database
from engramdb.store.sqlite.sealing import DataKeys
from engramdb.store.vectors import VectorIndex, dequantize, quantize

__all__ = ["Loaded", "NamespaceCache", "bump", "generations", "renumber"]

Written = list[tuple[int, npt.NDArray[np.float32]]]  # (rowid, vector) of memories written

_CATALOG_COLUMNS = (
    "SELECT rowid, id, kind, session, seq, speaker, occurred_at, text, keys"
    f"{dynamics.DYNAMICS_COLUMNS} FROM engrams WHERE namespace = ?"
)


def bump(conn: sqlite3.Connection, namespace: str) -> int:
    """Count a change of the namespace (inside the writing transaction); the new generation."""
    # A namespace's first generation is random, not 1: forget_namespace deletes
    # the row, and a restart at 1 would match what another SqliteStore on this
    # file loaded before the erasure, so it would keep serving the erased
    # vectors (tests/store/test_sqlite.py, refilled-after-forget).
    conn.execute(
        "INSERT INTO namespace_state (namespace, generation) "
        "VALUES (?, (random() & 4611686018427387903) + 1) "
        "ON CONFLICT (namespace) DO UPDATE SET generation = generation + 1",
        (namespace,),
    )
    return int(
        conn.execute(
            "SELECT generation FROM namespace_state WHERE namespace = ?", (namespace,)
        ).fetchone()[0]
    )


def renumber(conn: sqlite3.Connection) -> None:
    """Give every namespace a new random generation: every process reloads all of them."""
    conn.execute("UPDATE namespace_state SET generation = (random() & 4611686018427387903) + 1")


def generations(conn: sqlite3.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT namespace, generation FROM namespace_state").fetchall())


class Loaded:
    """The loaded vector index of one namespace and the generation it reflects."""

    def __init__(self, index: VectorIndex, generation: int) -> None:
        self.index = index
        self.generation = generation
        self.catalog: Catalog | None = None  # built on demand, dropped by any write...
        # ...but new memories this store inserted extend it instead: their rowids
        # wait in ``appended``; ``rowids`` and ``codes`` (session -> code) are the
        # catalog's own, to extend it in the same order and coding.
        self.appended: list[int] = []
        self.rowids: list[int] = []
        self.codes: dict[str, int] = {}


class NamespaceCache:
    """The loaded namespaces of one open store (all use goes through ``db.lock``)."""

    def __init__(self, db: Database, keys: DataKeys, *, dims: int, ann_threshold: int) -> None:
        self._db = db
        self._keys = keys
        self.dims = dims
        self.ann_threshold = ann_threshold
        self.loaded: dict[str, Loaded] = {}

    # -- reads ----------------------------------------------------------------

    def search(
        self, namespace: str, vector: npt.NDArray[np.float32], limit: int
    ) -> list[Candidate]:
        # One snapshot for the index and the ids, and the lock because a write in
        # another thread may mutate the index.
        with self._db.read() as conn:
            found = self.index(namespace).search(vector, limit)
            if not found:
                return []
            ids = rows.ids_of(conn, [key for key, _ in found])
        return [Candidate(ids[key], score) for key, score in found if key in ids]

    def vectors(self, namespace: str, ids: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(ids), self.dims), dtype=np.float32)
        # index.vector() is a view of a row that a delete may move: under the lock
        # (which read() holds), on the snapshot the rowids came from
        with self._db.read() as conn:
            rowids = rows.rowids_of(conn, namespace, ids)
            index = self.index(namespace)
            for i, engram_id in enumerate(ids):
                key = rowids.get(engram_id)
                vector = None if key is None else index.vector(key)
                if vector is not None:
                    out[i] = vector
        return out

    def catalog(self, namespace: str) -> Catalog:
        """The namespace's catalog: cached, extended after this store's own inserts
        (an agent adds a turn, then searches: only the new rows are read), rebuilt
        from the table after anything else changed it."""
        with self._db.read() as conn:  # the index and the rows from one snapshot
            index = self.index(namespace)
            loaded = self.loaded[namespace]
            if loaded.catalog is not None and not loaded.appended:
                return loaded.catalog
            cipher = self._keys.cipher(conn, namespace)
            last = loaded.rowids[-1] if loaded.rowids else 0  # rowids are in order
            if loaded.catalog is not None and min(loaded.appended) > last:
                wanted = sorted(loaded.appended)
                found: list[sqlite3.Row] = []
                for chunk in rows.chunks(wanted):
                    marks = ",".join("?" * len(chunk))
                    found += conn.execute(
                        f"{_CATALOG_COLUMNS} AND rowid IN ({marks}) ORDER BY rowid",
                        (namespace, *chunk),
                    ).fetchall()
                if len(found) == len(wanted):
                    part = _catalog_of(found, index, cipher, loaded.codes)
                    loaded.catalog = loaded.catalog.extended(part)
                    loaded.rowids += wanted
                    loaded.appended = []
                    return loaded.catalog
            found = conn.execute(f"{_CATALOG_COLUMNS} ORDER BY rowid", (namespace,)).fetchall()
            loaded.codes = {}
            loaded.catalog = _catalog_of(found, index, cipher, loaded.codes)
            loaded.rowids = [int(r["rowid"]) for r in found]
            loaded.appended = []
            return loaded.catalog

    def index(self, namespace: str) -> VectorIndex:
        """The namespace's vector index, (re)loaded from the table when it changed."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT generation FROM namespace_state WHERE namespace = ?", (namespace,)
            ).fetchone()
            generation = 0 if row is None else int(row[0])
            loaded = self.loaded.get(namespace)
            if loaded is not None and loaded.generation == generation:
                return loaded.index
            index = VectorIndex(self.dims, self.ann_threshold)
            stored = conn.execute(
                "SELECT v.engram_rowid, v.scale, v.data, e.id FROM vectors v "
                "JOIN engrams e ON e.rowid = v.engram_rowid WHERE e.namespace = ? "
                "ORDER BY v.engram_rowid",
                (namespace,),
            ).fetchall()
            sealed = self._keys.vectors_sealed
            cipher = self._keys.cipher(conn, namespace) if sealed and stored else None
            data = (
                [r[2] for r in stored]
                if cipher is None
                else [cipher.open_bytes(r[2], f"vectors:{r[3]}") for r in stored]
            )
            wrong = next(
                (r[3] for d, r in zip(data, stored, strict=True) if len(d) != self.dims), None
            )
            if wrong is not None:
                if not self._keys.encrypted and DataKeys.recorded(conn) is not None:
                    raise DecryptionError(
                        "the store was encrypted since it was opened: reopen it with its master key"
                    )
                raise IntegrityError(
                    f"the stored vector of memory {wrong} does not have {self.dims} "
                    "dimensions ('engram check' lists the damage)"
                )
            if stored:
                keys = [int(r[0]) for r in stored]
                matrix = np.stack(
                    [dequantize(d, float(r[1])) for d, r in zip(data, stored, strict=True)]
                )
                index.add(keys, matrix)
            self.loaded[namespace] = Loaded(index, generation)
            return index

    # -- after this store's own committed writes ------------------------------

    def added(
        self, namespace: str, written: Written, generation: int, *, appended: bool = False
    ) -> None:
        """Apply our own committed write to a loaded index, if it was current before it.

        ``appended``: the rows are new memories (not changed ones), so a built
        catalog is extended with them at its next read instead of rebuilt.
        """
        with self._db.lock:
            loaded = self.loaded.get(namespace)
            if loaded is None:
                return
            if loaded.generation != generation - 1:  # someone else wrote in between
                self.loaded.pop(namespace, None)
                return
            keys = [rowid for rowid, _ in written]
            # the index holds what is stored: the dequantised vector
            matrix = np.stack(
                [dequantize(*quantize(np.asarray(v, np.float32))) for _, v in written]
            )
            loaded.index.add(keys, matrix)
            loaded.generation = generation
            if appended and loaded.catalog is not None:
                loaded.appended += keys
            else:
                loaded.catalog = None

    def removed(self, namespace: str, rowids: Sequence[int], generation: int) -> None:
        """Take deleted memories out of a loaded index."""
        # Under the lock: remove() moves rows, which a search in another thread
        # (check_same_thread=False) must not see half-done.
        with self._db.lock:
            loaded = self.loaded.get(namespace)
            if loaded is not None:
                loaded.index.remove(list(rowids))
                loaded.catalog = None
                if loaded.generation == generation - 1:
                    loaded.generation = generation

    def changed(self, namespace: str, generation: int) -> None:
        """Vectors unchanged but something a ranking reads did (fact validity): the
        catalog goes, the index stays."""
        with self._db.lock:
            loaded = self.loaded.get(namespace)
            if loaded is not None and loaded.generation == generation - 1:
                loaded.generation = generation
                loaded.catalog = None

    def patch(self, namespace: str, updates: Sequence[DynamicsUpdate]) -> None:
        """Patch a built catalog with new dynamics instead of dropping it: its content
        is unchanged, so the recaller keeps its lexical index (a flush must not cost
        a rebuild). Another process sees the new state at its next catalog rebuild."""
        with self._db.lock:
            loaded = self.loaded.get(namespace)
            if loaded is not None and loaded.catalog is not None:
                loaded.catalog = loaded.catalog.with_dynamics(updates)

    def drop(self, namespace: str | None = None) -> None:
        """Forget one loaded namespace (or all): the next read reloads it."""
        with self._db.lock:
            if namespace is None:
                self.loaded.clear()
            else:
                self.loaded.pop(namespace, None)

    def problems(self, namespace: str, count: int, generation: int | None) -> list[str]:
        """A loaded index that is current but does not hold ``count`` vectors."""
        loaded = self.loaded.get(namespace)
        current = loaded is not None and loaded.generation == generation
        if loaded is not None and current and len(loaded.index) != count:
            return [
                f"namespace {namespace!r}: the loaded vector index holds "
                f"{len(loaded.index)} vectors, the table {count} memories"
            ]
        return []


def _catalog_of(
    found: Sequence[sqlite3.Row], index: VectorIndex, cipher: Cipher, codes: dict[str, int]
) -> Catalog:
    """A catalog of rows (in rowid order); new sessions get the next codes."""
    texts = [cipher.open(r["text"], f"engrams.text:{r['id']}") for r in found]
    keys = [cipher.open(r["keys"], f"engrams.keys:{r['id']}") for r in found]
    return Catalog(
        ids=tuple(r["id"] for r in found),
        documents=tuple(f"{t} {k}".strip() for t, k in zip(texts, keys, strict=True)),
        session=np.array(
            [
                -1 if r["session"] is None else codes.setdefault(r["session"], len(codes))
                for r in found
            ],
            dtype=np.int64,
        ),
        seq=np.array([r["seq"] for r in found], dtype=np.int64),
        speakers=tuple(
            open_optional(cipher, r["speaker"], f"engrams.speaker:{r['id']}") for r in found
        ),
        occurred_at=np.array(
            [from_iso(r["occurred_at"]).timestamp() for r in found], dtype=np.float64
        ),
        vectors=index.matrix([int(r["rowid"]) for r in found]),
        kinds=tuple(r["kind"] for r in found),
        dynamics=dynamics.catalog_dynamics(found, texts, cipher),
    )
