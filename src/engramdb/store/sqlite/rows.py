"""The memories of a SqliteStore: rows of ``engrams``, ``versions`` and ``vectors``.

Owns the SQL that writes and reads a memory: its current row and its
versions (sealed column by column in an encrypted store, each value under
associated data naming its table, column and memory), its quantised vector
row, the rows a delete takes along, and the reads of memories, histories,
sessions and counts. Every function runs inside the caller's transaction or
snapshot and is given the namespace's cipher; transactions, the in-memory
indexes and the data keys are the store's (``store.py``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from engramdb.clock import from_iso, to_iso
from engramdb.errors import NotFoundError, StoreError
from engramdb.model import Engram, NamespaceStats, Version
from engramdb.security.crypto import Cipher
from engramdb.store.base import (
    Catalog,
    DerivedUpdate,
    EngramRecord,
    VersionRecord,
)
from engramdb.store.codec import dump, open_optional, seal_optional, sealed_version, seconds
from engramdb.store.derivation import consolidated_again, taken_along_all
from engramdb.store.sqlite import checksums, dynamics, fields, lexical
from engramdb.store.vectors import quantize

__all__ = [
    "CATALOG_FIELDS",
    "ENGRAM_COLUMNS",
    "Analyser",
    "analysis",
    "by_rowid",
    "catalog",
    "chunks",
    "delete",
    "doomed",
    "engram",
    "forget_namespace",
    "get_many",
    "history",
    "ids_of",
    "insert",
    "insert_version",
    "locate",
    "model_ids",
    "namespaces",
    "neighbours",
    "new_version",
    "page",
    "reanalyse",
    "rowids_of",
    "session_tail",
    "stats",
    "with_derived",
    "write_vector",
]

ENGRAM_COLUMNS = (
    "rowid, id, namespace, kind, session, speaker, text, metadata, "
    "occurred_at, recorded_at, valid_from, version, seq, keys, analysis, expires_at, checksum"
)
#: What a store keeps of a memory's document for recall, made when the memory is
#: written (``recall.lexical.stored_analysis``): the document in, its analysis out.
Analyser = Callable[[str], str]
# a memory with its dynamics, as ``engram`` reads it
_SELECT = f"SELECT {ENGRAM_COLUMNS}{dynamics.DYNAMICS_COLUMNS} FROM engrams"
_CHUNK = 500  # ids per IN (...) list, well under SQLite's bound on parameters
_INSERT_ENGRAM = (
    f"INSERT INTO engrams ({', '.join(checksums.ENGRAM_FIELDS)}, checksum) "
    f"VALUES ({', '.join('?' * (len(checksums.ENGRAM_FIELDS) + 1))})"
)
_INSERT_VERSION = (
    f"INSERT INTO versions ({', '.join(checksums.VERSION_FIELDS)}, checksum) "
    f"VALUES ({', '.join('?' * (len(checksums.VERSION_FIELDS) + 1))})"
)


def engram(row: sqlite3.Row, cipher: Cipher) -> Engram:
    """The memory of a row of ``ENGRAM_COLUMNS`` (and its dynamics, when selected),
    once its checksum matches (``checksums.verify_engram``; after its values open, so
    a store sealed since this process opened it says so first)."""
    state = dynamics.state(row, cipher)
    eid = row["id"]
    found = Engram(
        id=eid,
        namespace=row["namespace"],
        text=cipher.open(row["text"], f"engrams.text:{eid}"),
        occurred_at=from_iso(row["occurred_at"]),
        recorded_at=from_iso(row["recorded_at"]),
        valid_from=from_iso(row["valid_from"]),
        session=row["session"],
        speaker=open_optional(cipher, row["speaker"], f"engrams.speaker:{eid}"),
        metadata=json.loads(cipher.open(row["metadata"], f"engrams.metadata:{eid}")),
        kind=row["kind"],
        version=int(row["version"]),
        stability_days=state.stability_days,
        importance=state.importance,
        valence=state.valence,
        arousal=state.arousal,
        emotion=state.emotion,
        recalls=state.recalls,
        last_recalled_at=state.last_recalled_at,
        dormant=state.dormant,
        expires_at=None if row["expires_at"] is None else from_iso(row["expires_at"]),
    )
    checksums.verify_engram(row, cipher)
    return found


#: What ``catalog`` reads of each memory, in this order; the dynamics columns follow
#: (``dynamics.DYNAMICS_COLUMNS``, or ``DYNAMICS_JOINED`` over ``engrams e``).
CATALOG_FIELDS = "rowid, id, kind, session, seq, speaker, occurred_at, text, keys, analysis"
_FIELDS = len(CATALOG_FIELDS.split(","))
_WIDTH = _FIELDS + len(dynamics.FIELDS)


def catalog(
    found: Sequence[Sequence[Any]],
    cipher: Cipher,
    codes: dict[str, int],
    vectors: npt.NDArray[np.float32],
) -> Catalog:
    """A catalog of ``found``, rows of ``CATALOG_FIELDS`` and the dynamics columns (tuples
    or ``sqlite3.Row``; columns after those are not read), in their order; ``vectors``
    are theirs, row for row. A session without a code in ``codes`` gets the next one.

    Built column by column, not a memory at a time: a two-stage search reads a pool
    of candidates this way at every search (docs/recall.md, "What a search reads")."""
    columns = list(zip(*found, strict=True)) or [()] * _WIDTH
    (_, ids, kinds, sessions, seqs, speakers, occurred, texts, keys, analyses) = columns[:_FIELDS]
    state = columns[_FIELDS:_WIDTH]
    texts = _opened(cipher, texts, ids, "engrams.text")
    keys = _opened(cipher, keys, ids, "engrams.keys")
    occurred_at = seconds(occurred)
    return Catalog(
        ids=ids,
        documents=tuple(map(str.strip, map("{} {}".format, texts, keys))),
        session=np.array(
            [-1 if s is None else codes.setdefault(s, len(codes)) for s in sessions],
            dtype=np.int64,
        ),
        seq=np.array(seqs, dtype=np.int64),
        speakers=_opened(cipher, speakers, ids, "engrams.speaker"),
        occurred_at=occurred_at,
        vectors=vectors,
        kinds=kinds,
        dynamics=dynamics.catalog_dynamics(state, occurred_at, texts, ids, cipher),
        analyses=_opened(cipher, analyses, ids, "engrams.analysis"),
    )


_TEXT = {str, type(None)}


def _opened(
    cipher: Cipher, values: Sequence[Any], ids: Sequence[str], column: str
) -> tuple[Any, ...]:
    """``values`` of ``column`` opened (None stays None): as stored in a plaintext store
    (after checking each is text), one by one in an encrypted one."""
    if not cipher.encrypted and set(map(type, values)) <= _TEXT:
        return tuple(values)
    return tuple(
        None if v is None else cipher.open(v, f"{column}:{i}")
        for v, i in zip(values, ids, strict=True)
    )


def chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def locate(conn: sqlite3.Connection, namespace: str, engram_id: str) -> tuple[int, int]:
    """The row and current version of a memory; ``NotFoundError`` when the namespace
    has no such id."""
    row = conn.execute(
        "SELECT rowid, version FROM engrams WHERE namespace = ? AND id = ?",
        (namespace, engram_id),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no memory {engram_id!r} in namespace {namespace!r}")
    return int(row[0]), int(row[1])


def rowids_of(conn: sqlite3.Connection, namespace: str, ids: Sequence[str]) -> dict[str, int]:
    """Id -> row of the ``ids`` that exist in the namespace."""
    out: dict[str, int] = {}
    for chunk in chunks(ids):
        marks = ",".join("?" * len(chunk))
        # ``+namespace``: with a long list SQLite would otherwise scan the namespace's
        # index instead of looking each id up (the unique index on ``id``)
        for row in conn.execute(
            f"SELECT id, rowid FROM engrams WHERE +namespace = ? AND id IN ({marks})",
            (namespace, *chunk),
        ):
            out[row[0]] = int(row[1])
    return out


def ids_of(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, str]:
    """Row -> id of the ``rowids`` that exist."""
    out: dict[int, str] = {}
    for chunk in chunks(rowids):
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(f"SELECT rowid, id FROM engrams WHERE rowid IN ({marks})", chunk):
            out[int(row[0])] = row[1]
    return out


# -- writes -------------------------------------------------------------------


def insert(
    conn: sqlite3.Connection,
    cipher: Cipher,
    record: EngramRecord,
    *,
    version: int,
    valid_from: datetime,
    seal_vectors: bool,
    analyser: Analyser | None = None,
) -> int:
    """Write a new memory's row, dynamics, vector and lexical index row (not its
    versions: ``insert_version``); its rowid. ``seq`` numbers it in its session.
    ``analyser`` makes the analysis kept with it (none without one: ``analysis``)."""
    eid = record.id
    # the row number SQLite would choose (one past the largest), chosen here because
    # the row's checksum covers it
    seq, rowid = conn.execute(
        "SELECT (SELECT COALESCE(MAX(seq), 0) + 1 FROM engrams "
        "WHERE namespace = ? AND session IS ?), (SELECT COALESCE(MAX(rowid), 0) + 1 FROM engrams)",
        (record.namespace, record.session),
    ).fetchone()
    values = (
        rowid,
        record.id,
        record.namespace,
        record.kind,
        record.session,
        seq,
        seal_optional(cipher, record.speaker, f"engrams.speaker:{eid}"),
        cipher.seal(record.text, f"engrams.text:{eid}"),
        cipher.seal(record.keys, f"engrams.keys:{eid}"),
        cipher.seal(dump(record.metadata), f"engrams.metadata:{eid}"),
        to_iso(record.occurred_at),
        to_iso(record.recorded_at),
        to_iso(valid_from),
        version,
        analysis(cipher, eid, record.text, record.keys, analyser),
        None if record.expires_at is None else to_iso(record.expires_at),
    )
    conn.execute(_INSERT_ENGRAM, (*values, checksums.of_engram(cipher, values)))
    dynamics.insert(conn, cipher, rowid, record)
    if record.pending:  # its vector follows (docs/write-path.md)
        conn.execute(
            "INSERT INTO vectors_pending (engram_rowid, importance_given, emotion_given) "
            "VALUES (?, ?, ?)",
            (rowid, int(record.importance_given), int(record.emotion_given)),
        )
    else:
        write_vector(conn, cipher, rowid, eid, record.vector, record.model_id, seal_vectors)
    lexical.index_text(conn, cipher, rowid, record.namespace, record.text, record.keys)
    fields.write(
        conn, cipher, rowid, record.namespace, record.speaker, record.session, record.metadata
    )
    return int(rowid)


def analysis(
    cipher: Cipher, engram_id: str, text: str, keys: str, analyser: Analyser | None
) -> str | bytes | None:
    """The stored analysis of a memory's document (its text and index keys, as the
    catalog joins them), sealed like its text; None without an analyser."""
    if analyser is None:
        return None
    return cipher.seal(analyser(f"{text} {keys}".strip()), f"engrams.analysis:{engram_id}")


def reanalyse(
    conn: sqlite3.Connection,
    cipher_of: Callable[[str], Cipher],
    namespace: str | None,
    analyser: Analyser,
) -> int:
    """Write every memory's analysis (of one namespace or all) afresh; how many."""
    done = 0
    after = 0
    while True:  # in pages, so a large store is not read into memory at once
        found = conn.execute(
            f"SELECT {', '.join(checksums.ENGRAM_FIELDS)}, checksum FROM engrams "
            "WHERE rowid > ? AND (? IS NULL OR namespace = ?) ORDER BY rowid LIMIT 1000",
            (after, namespace, namespace),
        ).fetchall()
        if not found:
            return done
        updates = []
        for row in found:
            eid, cipher = row["id"], cipher_of(row["namespace"])
            try:  # a damaged row keeps what it has, and check() goes on naming it
                checksums.verify_engram(row, cipher)
            except StoreError:
                continue
            opened_text = cipher.open(row["text"], f"engrams.text:{eid}")
            opened_keys = cipher.open(row["keys"], f"engrams.keys:{eid}")
            fresh = analysis(cipher, eid, opened_text, opened_keys, analyser)
            values = [fresh if c == "analysis" else row[c] for c in checksums.ENGRAM_FIELDS]
            updates.append((fresh, checksums.of_engram(cipher, values), row["rowid"]))
        conn.executemany("UPDATE engrams SET analysis = ?, checksum = ? WHERE rowid = ?", updates)
        done += len(found)
        after = int(found[-1][0])


def insert_version(
    conn: sqlite3.Connection, cipher: Cipher, rowid: int, engram_id: str, v: VersionRecord
) -> None:
    values = (
        rowid,
        v.version,
        *sealed_version(cipher, engram_id, v.version, v.text, v.speaker, dump(v.metadata)),
        to_iso(v.occurred_at),
        to_iso(v.valid_from),
        None if v.valid_to is None else to_iso(v.valid_to),
    )
    conn.execute(_INSERT_VERSION, (*values, checksums.of_version(cipher, values)))


def new_version(
    conn: sqlite3.Connection,
    cipher: Cipher,
    rowid: int,
    namespace: str,
    change: DerivedUpdate,
    *,
    speaker: str | None,
    version: int,
    at: datetime,
    seal_vectors: bool,
    analyser: Analyser | None = None,
) -> None:
    """Close the memory's current version at ``at`` and write ``change`` as its
    current one, numbered ``version``: row, history, vector, index row and analysis.
    Each row it changes is checked first, and its checksum written anew after."""
    eid = change.engram_id
    checksums.reseal_version(
        conn,
        cipher,
        rowid,
        eid,
        version - 1,
        lambda: conn.execute(
            "UPDATE versions SET valid_to = ? WHERE engram_rowid = ? AND valid_to IS NULL",
            (to_iso(at), rowid),
        ),
    )
    insert_version(
        conn,
        cipher,
        rowid,
        eid,
        VersionRecord(version, change.text, speaker, change.metadata, change.occurred_at, at, None),
    )
    written = (
        cipher.seal(change.text, f"engrams.text:{eid}"),
        seal_optional(cipher, speaker, f"engrams.speaker:{eid}"),
        cipher.seal(dump(change.metadata), f"engrams.metadata:{eid}"),
        to_iso(change.occurred_at),
        cipher.seal(change.keys, f"engrams.keys:{eid}"),
        to_iso(at),
        version,
        analysis(cipher, eid, change.text, change.keys, analyser),
        rowid,
    )
    checksums.reseal_engram(
        conn,
        cipher,
        rowid,
        lambda: conn.execute(
            "UPDATE engrams SET text = ?, speaker = ?, metadata = ?, occurred_at = ?, "
            "keys = ?, valid_from = ?, version = ?, analysis = ? WHERE rowid = ?",
            written,
        ),
    )
    write_vector(conn, cipher, rowid, eid, change.vector, change.model_id, seal_vectors)
    conn.execute(  # the namespace's usage follows (a trigger)
        "UPDATE dynamics SET size = ? WHERE engram_rowid = ?",
        (dynamics.text_size(change.text), rowid),
    )
    lexical.index_text(conn, cipher, rowid, namespace, change.text, change.keys, replace=True)
    session = conn.execute("SELECT session FROM engrams WHERE rowid = ?", (rowid,)).fetchone()[0]
    fields.write(conn, cipher, rowid, namespace, speaker, session, change.metadata, replace=True)


def write_vector(
    conn: sqlite3.Connection,
    cipher: Cipher,
    rowid: int,
    engram_id: str,
    vector: npt.NDArray[np.float32],
    model_id: str,
    sealed: bool,
) -> None:
    data, scale = quantize(np.asarray(vector, dtype=np.float32))
    # a memory written without its vector has one now (docs/write-path.md)
    conn.execute("DELETE FROM vectors_pending WHERE engram_rowid = ?", (rowid,))
    if sealed:
        data = cipher.seal_bytes(data, f"vectors:{engram_id}")
    conn.execute(
        "INSERT OR REPLACE INTO vectors (engram_rowid, model_id, dims, scale, data) "
        "VALUES (?, ?, ?, ?, ?)",
        (rowid, model_id, len(vector), scale, data),
    )


def delete(conn: sqlite3.Connection, rowids: Sequence[int]) -> None:
    """Delete memories with their index rows; versions, vectors, dynamics, facts and
    provenance go with them (foreign keys, ON DELETE CASCADE)."""
    lexical.unindex(conn, rowids)
    conn.executemany("DELETE FROM engrams WHERE rowid = ?", [(r,) for r in rowids])


def doomed(
    conn: sqlite3.Connection, namespace: str, ids: Sequence[str]
) -> tuple[list[int], list[str], list[int]]:
    """What ``delete_many`` of ``ids`` does: the rows and ids of the ``ids`` that exist in
    the namespace, in their order, then of the derived memories a delete of them takes
    along (``with_derived``); and the rows of the episodes it marks pending again
    (``store.derivation.consolidated_again``)."""
    wanted = list(dict.fromkeys(ids))
    found = rowids_of(conn, namespace, wanted)
    named = [found[i] for i in wanted if i in found]
    rowids = with_derived(conn, named)
    again = consolidated_again(named, rowids, lambda keys: _episodes_under(conn, keys))
    id_of = ids_of(conn, rowids)
    return rowids, [id_of[r] for r in rowids], sorted(again)


def with_derived(conn: sqlite3.Connection, rowids: Sequence[int]) -> list[int]:
    """``rowids`` and the derived memories a delete of them takes along
    (``taken_along_all`` over the ``provenance`` table; docs/security.md)."""

    def derived_from(sources: Sequence[int]) -> list[int]:
        out: list[int] = []
        for chunk in chunks(sources):
            marks = ",".join("?" * len(chunk))
            out.extend(
                int(r[0])
                for r in conn.execute(
                    f"SELECT DISTINCT p.derived_rowid FROM provenance p "
                    f"JOIN engrams d ON d.rowid = p.derived_rowid "
                    f"WHERE p.source_rowid IN ({marks}) AND d.kind != 'episode'",
                    chunk,
                )
            )
        return out

    return taken_along_all(rowids, derived_from)


def _episodes_under(conn: sqlite3.Connection, rowids: Sequence[int]) -> set[int]:
    """The episodes that are sources of the derived memories among ``rowids``."""
    out: set[int] = set()
    for chunk in chunks(rowids):
        marks = ",".join("?" * len(chunk))
        out.update(
            int(r[0])
            for r in conn.execute(
                f"SELECT DISTINCT p.source_rowid FROM provenance p "
                f"JOIN engrams d ON d.rowid = p.derived_rowid "
                f"JOIN engrams s ON s.rowid = p.source_rowid "
                f"WHERE p.derived_rowid IN ({marks}) AND d.kind != 'episode' "
                f"AND s.kind = 'episode'",
                chunk,
            )
        )
    return out


def forget_namespace(conn: sqlite3.Connection, namespace: str) -> int:
    """Delete every memory of the namespace and its side records (change counter,
    consolidation counters, budget, usage); how many memories went. Its data key is the
    caller's to destroy."""
    rowids = [
        int(r[0])
        for r in conn.execute("SELECT rowid FROM engrams WHERE namespace = ?", (namespace,))
    ]
    lexical.unindex(conn, rowids)
    conn.execute("DELETE FROM usage WHERE namespace = ?", (namespace,))  # first: no recounting
    conn.execute("DELETE FROM engrams WHERE namespace = ?", (namespace,))
    conn.execute("DELETE FROM namespace_state WHERE namespace = ?", (namespace,))
    conn.execute("DELETE FROM consolidation_state WHERE namespace = ?", (namespace,))
    conn.execute("DELETE FROM budgets WHERE namespace = ?", (namespace,))
    conn.execute("DELETE FROM expiry_ttl WHERE namespace = ?", (namespace,))
    fields.forget(conn, namespace)
    return len(rowids)


# -- reads --------------------------------------------------------------------


def get_many(
    conn: sqlite3.Connection, cipher: Cipher, namespace: str, ids: Sequence[str]
) -> dict[str, Engram]:
    found: dict[str, Engram] = {}
    for chunk in chunks(ids):
        marks = ",".join("?" * len(chunk))
        # ``+namespace``: by the id index, not a scan of the namespace's index
        for row in conn.execute(
            f"{_SELECT} WHERE id IN ({marks}) AND +namespace = ?", (*chunk, namespace)
        ):
            found[row["id"]] = engram(row, cipher)
    return found


def by_rowid(conn: sqlite3.Connection, cipher: Cipher, rowid: int) -> Engram:
    return engram(conn.execute(f"{_SELECT} WHERE rowid = ?", (rowid,)).fetchone(), cipher)


def history(
    conn: sqlite3.Connection, cipher: Cipher, namespace: str, engram_id: str
) -> list[Version]:
    rows = conn.execute(
        "SELECT v.* FROM versions v JOIN engrams e ON e.rowid = v.engram_rowid "
        "WHERE e.namespace = ? AND e.id = ? ORDER BY v.version",
        (namespace, engram_id),
    ).fetchall()
    out = []
    for r in rows:
        aad = f"{engram_id}:{r['version']}"
        out.append(
            Version(
                engram_id=engram_id,
                version=int(r["version"]),
                text=cipher.open(r["text"], f"versions.text:{aad}"),
                speaker=open_optional(cipher, r["speaker"], f"versions.speaker:{aad}"),
                metadata=json.loads(cipher.open(r["metadata"], f"versions.metadata:{aad}")),
                occurred_at=from_iso(r["occurred_at"]),
                valid_from=from_iso(r["valid_from"]),
                valid_to=None if r["valid_to"] is None else from_iso(r["valid_to"]),
            )
        )
        checksums.verify_version(r, cipher, engram_id)
    return out


def neighbours(
    conn: sqlite3.Connection,
    cipher: Cipher,
    namespace: str,
    engram_id: str,
    before: int,
    after: int,
) -> list[Engram]:
    row = conn.execute(
        "SELECT session, seq FROM engrams WHERE namespace = ? AND id = ?",
        (namespace, engram_id),
    ).fetchone()
    if row is None or row["session"] is None:
        return []
    rows = conn.execute(
        f"{_SELECT} WHERE namespace = ? AND session = ? "
        "AND seq BETWEEN ? AND ? AND id != ? ORDER BY seq",
        (namespace, row["session"], row["seq"] - before, row["seq"] + after, engram_id),
    ).fetchall()
    return [engram(r, cipher) for r in rows]


def session_tail(
    conn: sqlite3.Connection, cipher: Cipher, namespace: str, session: str, limit: int
) -> list[Engram]:
    # the (namespace, session, seq) index serves it
    rows = conn.execute(
        f"{_SELECT} WHERE namespace = ? AND session = ? AND kind = 'episode' "
        "ORDER BY seq DESC LIMIT ?",
        (namespace, session, limit),
    ).fetchall()
    return [engram(r, cipher) for r in reversed(rows)]


def page(
    conn: sqlite3.Connection,
    cipher_of: Callable[[str], Cipher],
    namespace: str | None,
    after: int,
    size: int = 1000,
) -> tuple[list[Engram], int]:
    """Up to ``size`` memories (of one namespace or all) after rowid ``after``, in
    insertion order, and the rowid to continue from (``after`` when none came)."""
    if namespace is None:
        rows = conn.execute(f"{_SELECT} WHERE rowid > ? ORDER BY rowid LIMIT ?", (after, size))
    else:
        rows = conn.execute(
            f"{_SELECT} WHERE namespace = ? AND rowid > ? ORDER BY rowid LIMIT ?",
            (namespace, after, size),
        )
    fetched = rows.fetchall()
    engrams = [engram(row, cipher_of(row["namespace"])) for row in fetched]
    return engrams, int(fetched[-1]["rowid"]) if fetched else after


def namespaces(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT namespace FROM engrams ORDER BY namespace")]


def stats(conn: sqlite3.Connection, namespace: str) -> NamespaceStats:
    row = conn.execute(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT session) AS s, MIN(occurred_at) AS lo, "
        "MAX(occurred_at) AS hi FROM engrams WHERE namespace = ?",
        (namespace,),
    ).fetchone()
    versions = conn.execute(
        "SELECT COUNT(*) FROM versions v JOIN engrams e ON e.rowid = v.engram_rowid "
        "WHERE e.namespace = ?",
        (namespace,),
    ).fetchone()[0]
    pending = conn.execute(
        "SELECT COUNT(*) FROM vectors_pending p JOIN engrams e ON e.rowid = p.engram_rowid "
        "WHERE e.namespace = ?",
        (namespace,),
    ).fetchone()[0]
    return NamespaceStats(
        namespace=namespace,
        engrams=int(row["n"]),
        versions=int(versions),
        sessions=int(row["s"]),
        first_occurred_at=None if row["lo"] is None else from_iso(row["lo"]),
        last_occurred_at=None if row["hi"] is None else from_iso(row["hi"]),
        pending_vectors=int(pending),
    )


def model_ids(conn: sqlite3.Connection) -> set[str]:
    # the least and the greatest by the model index: two seeks, and the whole
    # (a pass over every vector) only when they differ
    low, high = conn.execute(
        "SELECT (SELECT MIN(model_id) FROM vectors), (SELECT MAX(model_id) FROM vectors)"
    ).fetchone()
    if low == high:
        return set() if low is None else {low}
    return {r[0] for r in conn.execute("SELECT DISTINCT model_id FROM vectors")}
