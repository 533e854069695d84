"""What a SqliteStore holds in memory per namespace: its vector index and its catalog.

Both are derived from the tables (the ``vectors`` rows, the memories) and
kept for as long as the namespace's change counter (``namespace_state``, its
"generation") says nothing changed: every write bumps it in its transaction.
After this store's own write the loaded index is brought up to date in place
(``added``, ``removed``, ``changed``, ``patch``). Vector search is served from
the index, and so are ``vectors()`` and the catalog's vectors below
``ann_threshold``; above it they are read from the ``vectors`` rows (the graph
keeps int8 codes, not the float32 vectors the table's codes dequantise to). The
catalog for ranking is built on demand and extended, not rebuilt, after this
store's inserts.

The saved vector index. Rebuilding a namespace's index reads every vector row
and, above ``ann_threshold``, builds a graph (``store/graph.py``): minutes at a
million memories. So:

- Catch-up: triggers append every vector written or deleted, by any process,
  to the ``vector_changes`` log under the memory's namespace (schema
  migrations 7 and 12). An index records the log position it covers; when
  another process wrote, the next read applies only the rows of its
  namespace changed since that position. When the log cannot say what
  changed (another epoch: a backup was restored, ``renumber``; or entries
  pruned since), the saved file is loaded instead if there is one, and only
  then is the index rebuilt.
- Saved file (``annfile``: ``<database>.ann-<digest>``, 0600): a namespace
  with a graph is saved with its generation, log position and epoch.
  Opening the namespace in a new process opens the file (a plaintext
  store's is searched where it lies, memory-mapped; an encrypted one's is
  opened into memory) and catches up if the namespace changed since,
  instead of rebuilding. A file that is missing, damaged, foreign, sealed
  otherwise or of an earlier version (an hnswlib graph) is ignored, the
  index rebuilt and saved over it; ``engram check`` names a damaged one.
- Who saves, and when: any process that can write, after it built a graph
  that has no file yet, or once a tenth of a graph (at least ``_SAVE_AFTER``
  vectors, at most ``_CATCH_UP_MAX``: what the next process must insert again
  to catch up) changed since it was saved: at a read that rebuilt or caught up,
  and at ``close``. It saves only an index that is current,
  checked inside a write transaction of its own held until the file is
  renamed into place, so no write (a delete, a forget) commits in between;
  two processes saving replace the file in turn, each whole (a scratch file
  renamed over it).
- Pruning: a save drops the namespace's log entries up to the position the
  save before it covered (``namespace_state.saved_to``, then ``pruned_to``):
  a process that caught up since that save goes on catching up, one further
  behind loads the new file and catches up from there. A store closing
  counts as a save for the loaded namespaces below the threshold (no file;
  rebuilding one reads fewer than ``ann_threshold`` rows).
- Erasure (docs/security.md): in an encrypted store the file is sealed with
  the namespace's data key. A saved graph never holds a removed vector (the
  graph zeroes free slots in what it saves), and a delete in a namespace with
  a saved file writes the file again without the deleted vectors before it
  returns (the index is loaded and caught up for it, if it was not; the file
  is deleted if that fails). ``forget_namespace``, ``reindex``, ``encrypt``
  and ``restore_backup`` delete the files (``discard``).
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

from engramdb.bounded import Bounded
from engramdb.errors import DecryptionError, IntegrityError, StoreError
from engramdb.security.crypto import PLAIN
from engramdb.store.base import Candidate, Catalog, DynamicsUpdate
from engramdb.store.sqlite import annfile, dynamics, rows
from engramdb.store.sqlite.database import Database
from engramdb.store.sqlite.sealing import DataKeys
from engramdb.store.vectors import VectorIndex, dequantize_many, quantize_many

__all__ = [
    "LOADED_NAMESPACES",
    "Loaded",
    "NamespaceCache",
    "bump",
    "forget_changes",
    "generations",
    "renumber",
]

# Save a graph again once this many of its vectors changed since (or a tenth of
# it, if more): writing 100k vectors' graph costs about a second.
_SAVE_AFTER = 1_000
# ... but never leave more than this many unsaved: the next process to open the
# namespace inserts each into the graph again (4,003 added 0.19 s to an open at 1M
# vectors, bench/catch_up.py), so a tenth of a million-vector graph would add
# about 5 s to it. Writing a 1M graph's file costs about 2 s.
_CATCH_UP_MAX = 5_000
# Vector rows read and added to an index at a time by a rebuild (77 MB of float32)
_REBUILD_ROWS = 50_000
#: The namespaces whose vector index and catalog one open store keeps in memory, most
#: recently used first (docs/limits.md, "Caches"). An evicted namespace is loaded again
#: from its saved index file and the change log, or rebuilt from its rows.
LOADED_NAMESPACES = 64

Written = list[tuple[int, npt.NDArray[np.float32]]]  # (rowid, vector) of memories written

_CATALOG_COLUMNS = (
    f"SELECT {rows.CATALOG_FIELDS}{dynamics.DYNAMICS_COLUMNS} FROM engrams WHERE namespace = ?"
)


def bump(conn: sqlite3.Connection, namespace: str) -> int:
    """Count a change of the namespace (inside the writing transaction); the new generation."""
    # A namespace's first generation is random, not 1: forget_namespace deletes
    # the row, and a restart at 1 would match what another SqliteStore on this
    # file loaded before the erasure, so it would keep serving the erased
    # vectors (tests/store/test_sqlite.py, refilled-after-forget).
    first = secrets.randbits(62) + 1
    conn.execute(
        "INSERT INTO namespace_state (namespace, generation, born) VALUES (?, ?, ?) "
        "ON CONFLICT (namespace) DO UPDATE SET generation = generation + 1",
        (namespace, first, first),
    )
    return int(
        conn.execute(
            "SELECT generation FROM namespace_state WHERE namespace = ?", (namespace,)
        ).fetchone()[0]
    )


def renumber(conn: sqlite3.Connection) -> None:
    """Give every namespace a new random generation and the change log a new epoch:
    every process reloads all of them, and no saved index applies any more."""
    conn.execute("UPDATE namespace_state SET generation = (random() & 4611686018427387903) + 1")
    conn.execute("UPDATE vector_log SET epoch = (random() & 4611686018427387903) + 1")


def generations(conn: sqlite3.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT namespace, generation FROM namespace_state").fetchall())


def forget_changes(conn: sqlite3.Connection, namespace: str) -> None:
    """Erase the change log's entries of a forgotten namespace (inside its transaction,
    after the delete): no row names them any more. Indexes of the namespace are not
    caught up but rebuilt (its next row has another ``born``)."""
    conn.execute("DELETE FROM vector_changes WHERE namespace = ?", (namespace,))


def _generation(conn: sqlite3.Connection, namespace: str) -> tuple[int, int]:
    """The namespace's generation and when its row was made (0, 0 when it has none)."""
    row = conn.execute(
        "SELECT generation, born FROM namespace_state WHERE namespace = ?", (namespace,)
    ).fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def _log(conn: sqlite3.Connection, namespace: str) -> tuple[int, int, int]:
    """The change log's epoch, the number of its last entry (0 when none yet), and
    the number up to which the namespace's entries may have been pruned."""
    epoch, pruned_to = conn.execute("SELECT epoch, pruned_to FROM vector_log").fetchone()
    last = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'vector_changes'").fetchone()
    own = conn.execute(
        "SELECT pruned_to FROM namespace_state WHERE namespace = ?", (namespace,)
    ).fetchone()
    pruned = max(int(pruned_to), 0 if own is None else int(own[0]))
    return int(epoch), (0 if last is None else int(last[0])), pruned


def _prune(conn: sqlite3.Connection, namespace: str, position: int) -> None:
    """Note a save of the namespace covering the log up to ``position`` (inside a write
    transaction), and drop its entries up to what the save before covered: an index
    older than that loads the saved file or is rebuilt (module docstring)."""
    conn.execute(
        "DELETE FROM vector_changes WHERE namespace = ? AND seq <= "
        "(SELECT saved_to FROM namespace_state WHERE namespace = ?)",
        (namespace, namespace),
    )
    conn.execute(
        "UPDATE namespace_state SET pruned_to = MAX(pruned_to, saved_to), "
        "saved_to = MAX(saved_to, ?) WHERE namespace = ?",
        (position, namespace),
    )


class Loaded:
    """The loaded vector index of one namespace and what it reflects: the namespace
    at ``generation`` (its row made at ``born``), every vector change logged up to
    ``position`` (log ``epoch``;
    this store's own later writes may be applied too: applying them again is
    harmless)."""

    def __init__(
        self,
        index: VectorIndex,
        generation: int,
        *,
        born: int = 0,
        position: int = 0,
        epoch: int = 0,
    ) -> None:
        self.index = index
        self.generation = generation
        self.born = born
        self.position = position
        self.epoch = epoch
        self.wrote = False  # this store wrote the namespace: its close prunes the log
        self.unsaved = 0  # vectors added or removed since it was saved or loaded
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
        self.loaded: Bounded[str, Loaded] = Bounded(LOADED_NAMESPACES)
        # What happened to indexes: "rebuilt", "loaded" (from a saved file),
        # "unusable" (a saved file that did not load), "older" (one of an earlier
        # version, not read), "caught_up" (and its "caught_up_rows"), "saved".
        # The tests read it instead of timing.
        self.events: Counter[str] = Counter()

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

    def nearest(self, namespace: str, vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        with self._db.read():  # the lock: a write in another thread may mutate the index
            return self.index(namespace).nearest(vectors)

    def vectors(self, namespace: str, ids: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(ids), self.dims), dtype=np.float32)
        # index.matrix() copies rows that a delete may move: under the lock (which
        # read() holds), on the snapshot the rowids came from
        with self._db.read() as conn:
            rowids = rows.rowids_of(conn, namespace, ids)
            index = self.index(namespace)
            found = [i for i, engram_id in enumerate(ids) if engram_id in rowids]
            if found:
                keys = [rowids[ids[i]] for i in found]
                out[found] = self._vectors_of(conn, namespace, index, keys)
        return out

    def index_vectors(self, namespace: str, keys: Sequence[int]) -> npt.NDArray[np.float32]:
        """The vectors of rows ``keys`` as the namespace's index holds them (rows of zeros
        for unknown keys): above ``ann_threshold`` the graph's unit vectors, whose
        direction is the stored vectors', for a cosine (``Store.few_matching``)."""
        with self._db.read():  # matrix() copies rows that a delete may move
            return self.index(namespace).matrix(keys)

    def _vectors_of(
        self, conn: sqlite3.Connection, namespace: str, index: VectorIndex, keys: Sequence[int]
    ) -> npt.NDArray[np.float32]:
        """The stored vectors of ``keys`` (rows of zeros for unknown ones): the index's
        own below the threshold, the ``vectors`` rows' above it (module docstring)."""
        if index.exact:
            return index.matrix(keys)
        out = np.zeros((len(keys), self.dims), dtype=np.float32)
        position = {key: i for i, key in enumerate(keys)}
        for chunk in rows.chunks(list(position)):
            for found, matrix in self._stored(conn, namespace, chunk):
                out[[position[key] for key in found]] = matrix
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
                    vectors = self._vectors_of(conn, namespace, index, wanted)
                    part = rows.catalog(found, cipher, loaded.codes, vectors)
                    loaded.catalog = loaded.catalog.extended(part)
                    loaded.rowids += wanted
                    loaded.appended = []
                    return loaded.catalog
            found = conn.execute(f"{_CATALOG_COLUMNS} ORDER BY rowid", (namespace,)).fetchall()
            loaded.codes = {}
            loaded.rowids = [int(r["rowid"]) for r in found]
            vectors = self._vectors_of(conn, namespace, index, loaded.rowids)
            loaded.catalog = rows.catalog(found, cipher, loaded.codes, vectors)
            loaded.appended = []
            return loaded.catalog

    def index(self, namespace: str) -> VectorIndex:
        """The namespace's vector index: as loaded while current; else caught up from
        the change log, or loaded from its saved file (and caught up), or rebuilt
        from the table."""
        with self._db.read() as conn:
            loaded = self.loaded.get(namespace)
            if loaded is not None and loaded.generation == _generation(conn, namespace)[0]:
                return loaded.index
            loaded = self._current(conn, namespace)
            if loaded is None:
                state, log = _generation(conn, namespace), _log(conn, namespace)
                loaded = self._rebuild(conn, namespace, state, log)
                loaded.unsaved = _SAVE_AFTER + len(loaded.index)  # save what it cost
                self.loaded[namespace] = loaded
            if self._worth_saving(namespace, loaded):
                self._save(conn, namespace, loaded)
            return loaded.index

    def _current(self, conn: sqlite3.Connection, namespace: str) -> Loaded | None:
        """The namespace's index brought up to date without a rebuild: as loaded, or
        caught up, or its saved file's (caught up); None when only a rebuild can."""
        state = _generation(conn, namespace)
        loaded = self.loaded.get(namespace)
        if loaded is not None and loaded.generation == state[0]:
            return loaded
        log = _log(conn, namespace)
        if loaded is None or not self._brought_up(conn, namespace, loaded, state, log):
            # the saved file may be ahead of a loaded index the log cannot bring up
            # to date (its entries were pruned when the file was saved)
            loaded = self._load_saved(conn, namespace)
            if loaded is None or not self._brought_up(conn, namespace, loaded, state, log):
                return None
        self.loaded[namespace] = loaded
        return loaded

    def _brought_up(
        self,
        conn: sqlite3.Connection,
        namespace: str,
        loaded: Loaded,
        state: tuple[int, int],
        log: tuple[int, int, int],
    ) -> bool:
        """Whether ``loaded`` is at the namespace's ``state``, caught up if need be; a
        namespace forgotten since has another ``born``: nothing to catch up from."""
        generation, born = state
        if loaded.generation == generation:
            return True
        return loaded.born == born and self._catch_up(conn, namespace, loaded, generation, log)

    def _rebuild(
        self,
        conn: sqlite3.Connection,
        namespace: str,
        state: tuple[int, int],
        log: tuple[int, int, int],
    ) -> Loaded:
        index = VectorIndex(self.dims, self.ann_threshold)
        for keys, matrix in self._stored(conn, namespace, None):
            index.add(keys, matrix)
        self.events["rebuilt"] += 1
        generation, born = state
        return Loaded(index, generation, born=born, position=log[1], epoch=log[0])

    def _stored(
        self, conn: sqlite3.Connection, namespace: str, rowids: Sequence[int] | None
    ) -> Iterator[tuple[list[int], npt.NDArray[np.float32]]]:
        """Rowids and dequantised vectors of the namespace's ``vectors`` rows (of
        ``rowids`` only, unless None), in rowid order, ``_REBUILD_ROWS`` at a time.

        A plaintext store reads the namespace's ``(namespace, rowid)`` index and the
        ``vectors`` rows, never the memories' own rows (their texts); a store whose
        vectors are sealed also reads each memory's id, the associated data."""
        sealed = self._keys.vectors_sealed
        columns = "e.rowid, v.scale, v.data" + (", e.id" if sealed else "")
        where = "e.namespace = ?"
        params: list[object] = [namespace]
        if rowids is not None:
            where += f" AND e.rowid IN ({','.join('?' * len(rowids))})"
            params += list(rowids)
        cursor = conn.execute(
            f"SELECT {columns} FROM engrams e JOIN vectors v ON v.engram_rowid = e.rowid "
            f"WHERE {where} ORDER BY e.rowid",
            params,
        )
        while stored := cursor.fetchmany(_REBUILD_ROWS):
            if sealed:
                cipher = self._keys.cipher(conn, namespace)
                data = [cipher.open_bytes(r[2], f"vectors:{r[3]}") for r in stored]
            else:
                data = [r[2] for r in stored]
            wrong = next(
                (r for d, r in zip(data, stored, strict=True) if len(d) != self.dims), None
            )
            if wrong is not None:
                if not self._keys.encrypted and DataKeys.recorded(conn) is not None:
                    raise DecryptionError(
                        "the store was encrypted since it was opened: reopen it with its master key"
                    )
                engram_id = (
                    wrong[3]
                    if sealed
                    else rows.ids_of(conn, [int(wrong[0])]).get(int(wrong[0]), wrong[0])
                )
                raise IntegrityError(
                    f"the stored vector of memory {engram_id} does not have {self.dims} "
                    "dimensions ('engram check' lists the damage)"
                )
            codes = np.frombuffer(b"".join(data), dtype=np.int8).reshape(len(data), self.dims)
            scales = np.array([float(r[1]) for r in stored], dtype=np.float64)
            yield [int(r[0]) for r in stored], dequantize_many(codes, scales)

    def _catch_up(
        self,
        conn: sqlite3.Connection,
        namespace: str,
        loaded: Loaded,
        generation: int,
        log: tuple[int, int, int],
    ) -> bool:
        """Apply the namespace's vectors changed since ``loaded.position`` (any
        process's writes); False when the log cannot say what changed (another
        epoch, entries pruned)."""
        epoch, last, pruned_to = log
        since = loaded.position
        if loaded.epoch != epoch or since > last or since < pruned_to:
            return False
        changed = [
            int(r[0])
            for r in conn.execute(
                "SELECT DISTINCT engram_rowid FROM vector_changes WHERE namespace = ? AND seq > ?",
                (namespace, since),
            )
        ]
        present: list[int] = []
        for chunk in rows.chunks(changed):
            for keys, matrix in self._stored(conn, namespace, chunk):
                loaded.index.add(keys, matrix)
                present += keys
        found = set(present)
        gone = [key for key in changed if key not in found and key in loaded.index]
        if gone:
            loaded.index.remove(gone)
        loaded.generation, loaded.position = generation, last
        loaded.catalog, loaded.appended = None, []
        loaded.unsaved += len(present) + len(gone)
        self.events["caught_up"] += 1
        self.events["caught_up_rows"] += len(present) + len(gone)
        return True

    # -- the saved index (module docstring) -----------------------------------

    def _load_saved(self, conn: sqlite3.Connection, namespace: str) -> Loaded | None:
        if self._db.in_memory:
            return None
        path = annfile.path_of(self._db.path, namespace)
        if not path.is_file():
            return None
        try:
            cipher = self._keys.cipher(conn, namespace) if self._keys.encrypted else PLAIN
            saved = annfile.read(path, namespace, cipher)
            if saved is None:  # an earlier version's form (hnswlib): rebuilt once
                self.events["older"] += 1
                if not self._db.read_only:
                    path.unlink(missing_ok=True)
                return None
            index = VectorIndex.opened(self.dims, self.ann_threshold, saved.form, view=saved.mapped)
        except (OSError, ValueError, StoreError):  # damaged or foreign: rebuilt instead
            self.events["unusable"] += 1
            if not self._db.read_only:  # derived: the rebuild saves a sound one, if any
                path.unlink(missing_ok=True)
            return None
        self.events["loaded"] += 1
        covered = saved.covered
        return Loaded(
            index,
            covered.generation,
            born=covered.born,
            position=covered.position,
            epoch=covered.epoch,
        )

    def _save(self, conn: sqlite3.Connection, namespace: str, loaded: Loaded) -> bool:
        """Save a current graph, holding the write lock so that no write (a forget, a
        delete) commits between checking it is current and the rename; then prune
        the log up to what the file covers. Whether the file now holds the index."""
        index = loaded.index
        if not index.graph_built or self._db.in_memory or self._db.read_only:
            return False
        cipher = self._keys.cipher(conn, namespace) if self._keys.encrypted else PLAIN
        path = annfile.path_of(self._db.path, namespace)
        try:
            # A connection of its own: ours may be inside a read snapshot here.
            guard = sqlite3.connect(self._db.path, timeout=1.0, isolation_level=None)
        except sqlite3.Error:
            return False
        try:
            guard.execute("BEGIN IMMEDIATE")
            epoch, last, _ = _log(guard, namespace)
            if (_generation(guard, namespace), epoch) != (
                (loaded.generation, loaded.born),
                loaded.epoch,
            ):
                return False  # someone wrote since: the next read catches up, then saves
            # current: no entry of the namespace is newer than the log's last one
            loaded.position = max(loaded.position, last)
            covered = annfile.Covered(loaded.generation, loaded.born, loaded.position, epoch)
            annfile.write(
                path, namespace, covered, self.dims, cipher, form=index.serialized, save=index.save
            )
            _prune(guard, namespace, loaded.position)
            guard.execute("COMMIT")
            loaded.unsaved = 0
            self.events["saved"] += 1
            return True
        except (sqlite3.Error, OSError, StoreError, ValueError):
            # The file is derived and optional: failing to save it (busy, disk full)
            # costs the next process a rebuild, never this read its answer.
            return False
        finally:
            with contextlib.suppress(sqlite3.Error):
                guard.execute("ROLLBACK")  # when it did not commit
            guard.close()

    def _worth_saving(self, namespace: str, loaded: Loaded) -> bool:
        """A graph with no saved file yet, or with many changes since it was saved;
        small changes are left to the log: the next process catches up."""
        if not loaded.index.graph_built or self._db.in_memory:
            return False
        if loaded.unsaved >= min(max(_SAVE_AFTER, len(loaded.index) // 10), _CATCH_UP_MAX):
            return True
        return loaded.unsaved > 0 and not annfile.path_of(self._db.path, namespace).exists()

    def save(self) -> None:
        """At close: save every loaded graph with many changes not yet saved, and prune
        the log entries of the loaded namespaces below the threshold it wrote (a
        store that only read writes nothing)."""
        with self._db.read() as conn:
            for namespace, loaded in list(self.loaded.items()):
                if self._worth_saving(namespace, loaded):
                    self._save(conn, namespace, loaded)
        exact = [
            (ns, ld) for ns, ld in self.loaded.items() if ld.wrote and not ld.index.graph_built
        ]
        if not exact or self._db.in_memory or self._db.read_only:
            return
        try:
            guard = sqlite3.connect(self._db.path, timeout=1.0, isolation_level=None)
        except sqlite3.Error:
            return
        try:
            guard.execute("BEGIN IMMEDIATE")
            for namespace, loaded in exact:
                epoch, last, _ = _log(guard, namespace)
                current = (loaded.generation, loaded.born) == _generation(guard, namespace)
                if current and epoch == loaded.epoch:
                    _prune(guard, namespace, last)
            guard.execute("COMMIT")
        except sqlite3.Error:
            return  # pruning is housekeeping: the next close tries again
        finally:
            with contextlib.suppress(sqlite3.Error):
                guard.execute("ROLLBACK")
            guard.close()

    def discard(self, namespace: str | None = None) -> None:
        """Drop the loaded index and delete the saved file of one namespace (or all):
        after an erasure, a reindex, an encryption or a restore."""
        with self._db.lock:
            self.drop(namespace)
            if self._db.in_memory:
                return
            doomed = (
                annfile.paths(self._db.path)
                if namespace is None
                else [annfile.path_of(self._db.path, namespace)]
            )
            for path in doomed:
                path.unlink(missing_ok=True)

    def damaged(self, conn: sqlite3.Connection, namespaces: Sequence[str]) -> list[str]:
        """The saved index files that would not load (``engram check``); one of an
        earlier version is not damaged (it is rebuilt at the next search)."""
        if self._db.in_memory:
            return []
        owners = {annfile.path_of(self._db.path, ns).name: ns for ns in namespaces}
        found = []
        for path in annfile.paths(self._db.path):
            namespace = owners.get(path.name)
            if namespace is None:
                found.append(f"{path.name}: a saved vector index of no namespace (delete it)")
                continue
            try:
                cipher = self._keys.cipher(conn, namespace) if self._keys.encrypted else PLAIN
                saved = annfile.read(path, namespace, cipher)
                if saved is not None:
                    VectorIndex.opened(self.dims, self.ann_threshold, saved.form, view=True)
            except (OSError, ValueError, StoreError) as exc:
                found.append(
                    f"namespace {namespace!r}: the saved vector index {path.name} does not "
                    f"load ({exc}); it is rebuilt at the next search"
                )
        return found

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
            if loaded.generation == 0 and not len(loaded.index):
                # loaded before the namespace had a row: if this write made it (its
                # first generation is random), nobody wrote in between
                with self._db.read() as conn:
                    if _generation(conn, namespace)[1] == generation:
                        loaded.generation, loaded.born = generation - 1, generation
            if loaded.generation != generation - 1:  # someone else wrote in between:
                return  # the next read catches up, our write included
            keys = [rowid for rowid, _ in written]
            # the index holds what is stored: the dequantised vector
            matrix = dequantize_many(*quantize_many(np.stack([v for _, v in written])))
            loaded.index.add(keys, matrix)
            loaded.generation = generation
            loaded.unsaved += len(keys)
            loaded.wrote = True
            self._advance(namespace, loaded)
            if appended and loaded.catalog is not None:
                loaded.appended += keys
            else:
                loaded.catalog = None

    def removed(self, namespace: str, rowids: Sequence[int], generation: int) -> None:
        """Take deleted memories out of a loaded index, and out of the saved file."""
        # Under the lock: remove() moves rows, which a search in another thread
        # (check_same_thread=False) must not see half-done.
        with self._db.lock:
            loaded = self.loaded.get(namespace)
            if loaded is not None:
                loaded.index.remove(list(rowids))
                loaded.catalog = None
                loaded.unsaved += len(rowids)
                loaded.wrote = True
                if loaded.generation == generation - 1:
                    loaded.generation = generation
                    self._advance(namespace, loaded)
            if self._db.in_memory:
                return
            path = annfile.path_of(self._db.path, namespace)
            if not path.exists():
                return
            # The saved graph holds the deleted vectors (docs/security.md, erasure):
            # write it again without them now, or else delete it.
            written = False
            try:
                with self._db.read() as conn:  # loaded or opened, caught up: never rebuilt
                    current = self._current(conn, namespace)
                    written = current is not None and self._save(conn, namespace, current)
            finally:
                if not written:
                    path.unlink(missing_ok=True)

    def changed(self, namespace: str, generation: int) -> None:
        """Vectors unchanged but something a ranking reads did (fact validity): the
        catalog goes, the index stays."""
        with self._db.lock:
            loaded = self.loaded.get(namespace)
            if loaded is not None and loaded.generation == generation - 1:
                loaded.generation = generation
                loaded.catalog = None
                self._advance(namespace, loaded)

    def _advance(self, namespace: str, loaded: Loaded) -> None:
        """Move the index's log position past our own write, so that a later catch-up
        does not read it again: while the namespace is still at the index's
        generation, no entry of it is newer than the log's last one."""
        with self._db.read() as conn:
            if _generation(conn, namespace) == (loaded.generation, loaded.born):
                epoch, last, _ = _log(conn, namespace)
                if epoch == loaded.epoch:
                    loaded.position = max(loaded.position, last)

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
