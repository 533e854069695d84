"""Consolidation in a SqliteStore: facts, provenance and consumed marks (docs/consolidation.md).

Owns the SQL of the ``facts``, ``provenance``, ``consolidated`` and
``consolidation_state`` tables: which episodes are still pending, writing one
consolidation step (``apply``), reading facts and links back, and writing back
what an export carried. What a step writes (which facts, which summaries) is
planned above the store, by ``engramdb.consolidate``; every function here runs
inside the caller's transaction or snapshot.

Nothing here reads a namespace row by row (docs/consolidation.md, "At scale"):
pending episodes are looked for above the namespace's ``consumed_to`` mark
(every episode at or below it is consumed at its current version; the triggers
of migration 9 lower it when that stops being true), and the facts of a
subject / attribute are found by their ``lookup`` token (``cipher.tag`` of the
casefolded pair, so it works on sealed facts too).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from engramdb.clock import from_iso, to_iso
from engramdb.errors import StoreError
from engramdb.model import Engram, Fact
from engramdb.security.crypto import Cipher
from engramdb.store.base import ConsolidationBatch, DerivedUpdate, Link
from engramdb.store.codec import open_optional, sealed_fact
from engramdb.store.sqlite import rows

__all__ = [
    "apply",
    "consumed",
    "fact_key",
    "facts",
    "facts_of",
    "links",
    "pending",
    "pending_count",
    "restore",
    "unconsume",
    "unconsumed",
]

# Above the namespace's ``consumed_to``, on the (namespace, rowid) index.
_PENDING = (
    "FROM engrams e LEFT JOIN consolidated c ON c.engram_rowid = e.rowid "
    "WHERE e.namespace = ? AND e.rowid > ? AND e.kind = 'episode' "
    "AND (c.engram_rowid IS NULL OR c.version < e.version)"
)
_INSERT_FACT = (
    "INSERT INTO facts (engram_rowid, namespace, subject, attribute, value, valid_from, "
    "valid_to, recorded_at, invalidated_at, status, superseded_by, lookup) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_FACT_COLUMNS = (
    "SELECT f.*, e.id AS engram_id, e.text AS text FROM facts f "
    "JOIN engrams e ON e.rowid = f.engram_rowid"
)


def fact_key(subject: str, attribute: str) -> str:
    """What facts of one subject / attribute share: both casefolded and stripped. Stored
    in ``facts.lookup`` (its keyed tag when sealed), so the NUL between them stays; the
    PostgreSQL store's lookups hold U+001F there (its text cannot hold NUL)."""
    return f"{subject.casefold().strip()}\x00{attribute.casefold().strip()}"


def _consumed_to(conn: sqlite3.Connection, namespace: str) -> int:
    row = conn.execute(
        "SELECT consumed_to FROM consolidation_state WHERE namespace = ?", (namespace,)
    ).fetchone()
    return 0 if row is None else int(row[0])


def pending(conn: sqlite3.Connection, cipher: Cipher, namespace: str, limit: int) -> list[Engram]:
    """Episodes not consolidated at their current version, oldest first (their
    dynamics are not read: consolidation does not use them)."""
    columns = ", ".join(f"e.{c}" for c in rows.ENGRAM_COLUMNS.split(", "))
    found = conn.execute(
        f"SELECT {columns} {_PENDING} ORDER BY e.rowid LIMIT ?",
        (namespace, _consumed_to(conn, namespace), limit),
    ).fetchall()
    return [rows.engram(r, cipher) for r in found]


def pending_count(conn: sqlite3.Connection, namespace: str) -> int:
    start = _consumed_to(conn, namespace)
    return int(conn.execute(f"SELECT COUNT(*) {_PENDING}", (namespace, start)).fetchone()[0])


def _advance(conn: sqlite3.Connection, namespace: str) -> None:
    """Move ``consumed_to`` up to just below the first episode still pending (or to
    the namespace's last row when none is): a scan of what the step consumed."""
    start = _consumed_to(conn, namespace)
    first = conn.execute(
        f"SELECT e.rowid {_PENDING} ORDER BY e.rowid LIMIT 1", (namespace, start)
    ).fetchone()
    if first is not None:
        to = int(first[0]) - 1
    else:
        last = conn.execute(
            "SELECT MAX(rowid) FROM engrams WHERE namespace = ?", (namespace,)
        ).fetchone()[0]
        to = start if last is None else int(last)
    if to > start:
        conn.execute(
            "UPDATE consolidation_state SET consumed_to = ? WHERE namespace = ?", (to, namespace)
        )


def apply(
    conn: sqlite3.Connection,
    cipher: Cipher,
    batch: ConsolidationBatch,
    *,
    seal_vectors: bool,
    analyser: rows.Analyser | None = None,
) -> list[tuple[int, npt.NDArray[np.float32]]]:
    """Write one consolidation step whose episodes are ``unconsumed``; the (rowid,
    vector) of the memories it wrote or changed. ``analyser``: as ``rows.insert``'s."""
    namespace = batch.namespace
    written: list[tuple[int, npt.NDArray[np.float32]]] = []
    for record in batch.inserts:
        rowid = rows.insert(
            conn,
            cipher,
            record,
            version=1,
            valid_from=record.recorded_at,
            seal_vectors=seal_vectors,
            analyser=analyser,
        )
        rows.insert_version(conn, cipher, rowid, record.id, record.first_version())
        written.append((rowid, record.vector))
    rowids = _rowids(conn, namespace, batch.named(), "consolidation names memories not in")
    now = to_iso(batch.now)
    _insert_facts(conn, cipher, rowids, (f.recorded(namespace, batch.now) for f in batch.facts))
    conn.executemany(
        "UPDATE facts SET valid_to = ?, status = ?, superseded_by = ?, "
        "invalidated_at = ? WHERE engram_rowid = ?",
        [
            (
                None if c.valid_to is None else to_iso(c.valid_to),
                c.status,
                c.superseded_by,
                now,
                rowids[c.engram_id],
            )
            for c in batch.changes
        ],
    )
    _insert_links(conn, rowids, batch.links)
    for update in batch.updates:
        rowid = rowids[update.engram_id]
        _derived_version(conn, cipher, rowid, namespace, update, batch, seal_vectors, analyser)
        written.append((rowid, update.vector))
    _mark_consumed(conn, rowids, dict(batch.episodes))
    conn.execute(
        "INSERT INTO consolidation_state (namespace, runs, episodes, updated_at) "
        "VALUES (?, 1, ?, ?) ON CONFLICT (namespace) DO UPDATE SET "
        "runs = runs + 1, episodes = episodes + excluded.episodes, "
        "updated_at = excluded.updated_at",
        (namespace, len(batch.episodes), now),
    )
    _advance(conn, namespace)
    _fill_lookups(conn, cipher, namespace)
    return written


def unconsumed(conn: sqlite3.Connection, batch: ConsolidationBatch) -> bool:
    """Whether the batch's episodes are still pending as planned
    (``ConsolidationBatch.pending_in``: else another consolidator got there first,
    or an episode changed, and nothing is written)."""
    found: dict[str, tuple[int, int | None]] = {}
    for chunk in rows.chunks([engram_id for engram_id, _ in batch.episodes]):
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(
            "SELECT e.id, e.version, c.version FROM engrams e "
            "LEFT JOIN consolidated c ON c.engram_rowid = e.rowid "
            f"WHERE +e.namespace = ? AND e.id IN ({marks})",  # by id, not a namespace scan
            (batch.namespace, *chunk),
        ):
            found[r[0]] = (int(r[1]), None if r[2] is None else int(r[2]))
    return batch.pending_in(found)


def _rowids(
    conn: sqlite3.Connection, namespace: str, named: set[str], refusal: str
) -> dict[str, int]:
    """The rows of every id ``named``; ``StoreError`` (``refusal``) when one is missing."""
    rowids = rows.rowids_of(conn, namespace, sorted(named))
    missing = named - rowids.keys()
    if missing:
        raise StoreError(f"{refusal} {namespace!r}: {sorted(missing)[:3]}")
    return rowids


def _derived_version(
    conn: sqlite3.Connection,
    cipher: Cipher,
    rowid: int,
    namespace: str,
    update: DerivedUpdate,
    batch: ConsolidationBatch,
    seal_vectors: bool,
    analyser: rows.Analyser | None,
) -> None:
    """A new version of a derived memory (a summary refreshed); it keeps its speaker."""
    row = conn.execute(
        "SELECT id, version, speaker, valid_from FROM engrams WHERE rowid = ?", (rowid,)
    ).fetchone()
    rows.new_version(
        conn,
        cipher,
        rowid,
        namespace,
        update,
        speaker=open_optional(cipher, row["speaker"], f"engrams.speaker:{row['id']}"),
        version=int(row["version"]) + 1,
        at=max(batch.now, from_iso(row["valid_from"])),  # versions never overlap
        seal_vectors=seal_vectors,
        analyser=analyser,
    )


def _insert_facts(
    conn: sqlite3.Connection, cipher: Cipher, rowids: Mapping[str, int], found: Iterable[Fact]
) -> None:
    """Fact rows, subject, attribute and value sealed."""
    conn.executemany(
        _INSERT_FACT,
        [
            (
                rowids[f.engram_id],
                f.namespace,
                *sealed_fact(cipher, f.engram_id, f.subject, f.attribute, f.value),
                to_iso(f.valid_from),
                None if f.valid_to is None else to_iso(f.valid_to),
                to_iso(f.recorded_at),
                None if f.invalidated_at is None else to_iso(f.invalidated_at),
                f.status,
                f.superseded_by,
                cipher.tag(fact_key(f.subject, f.attribute)),
            )
            for f in found
        ],
    )


def _fill_lookups(conn: sqlite3.Connection, cipher: Cipher, namespace: str) -> None:
    """The ``lookup`` of facts written before it existed (or before the store was
    encrypted): once per namespace, by the first consolidation step after."""
    found = conn.execute(
        "SELECT f.engram_rowid, e.id, f.subject, f.attribute FROM facts f "
        "JOIN engrams e ON e.rowid = f.engram_rowid "
        "WHERE f.namespace = ? AND f.lookup IS NULL",
        (namespace,),
    ).fetchall()
    conn.executemany(
        "UPDATE facts SET lookup = ? WHERE engram_rowid = ?",
        [
            (
                cipher.tag(
                    fact_key(
                        cipher.open(subject, f"facts.subject:{eid}"),
                        cipher.open(attribute, f"facts.attribute:{eid}"),
                    )
                ),
                rowid,
            )
            for rowid, eid, subject, attribute in found
        ],
    )


def _insert_links(
    conn: sqlite3.Connection, rowids: Mapping[str, int], found: Iterable[Link]
) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO provenance (derived_rowid, source_rowid, relation) VALUES (?, ?, ?)",
        [(rowids[k.derived_id], rowids[k.source_id], k.relation) for k in found],
    )


def _mark_consumed(
    conn: sqlite3.Connection, rowids: Mapping[str, int], marks: Mapping[str, int]
) -> None:
    conn.executemany(
        "INSERT INTO consolidated (engram_rowid, version) VALUES (?, ?) "
        "ON CONFLICT (engram_rowid) DO UPDATE SET version = excluded.version",
        [(rowids[eid], version) for eid, version in marks.items()],
    )


def unconsume(conn: sqlite3.Connection, namespace: str, rowids: Sequence[int]) -> None:
    """Mark episodes pending again (a delete took along what was derived from them:
    ``store.derivation.consolidated_again``), and lower ``consumed_to`` below the first."""
    if not rowids:
        return
    conn.executemany("DELETE FROM consolidated WHERE engram_rowid = ?", [(r,) for r in rowids])
    conn.execute(
        "UPDATE consolidation_state SET consumed_to = ? WHERE namespace = ? AND consumed_to >= ?",
        (min(rowids) - 1, namespace, min(rowids)),
    )


def restore(
    conn: sqlite3.Connection,
    cipher: Cipher,
    namespace: str,
    found: Sequence[Fact],
    provenance: Sequence[Link],
    marks: Mapping[str, int],
) -> None:
    """Write back facts, links and consumed marks of memories already restored."""
    named = {f.engram_id for f in found} | set(marks)
    for link in provenance:
        named.update((link.derived_id, link.source_id))
    rowids = _rowids(conn, namespace, named, "cannot restore consolidation: memories not in")
    _insert_facts(conn, cipher, rowids, found)
    _insert_links(conn, rowids, provenance)
    _mark_consumed(conn, rowids, marks)


# -- reads --------------------------------------------------------------------


def facts(
    conn: sqlite3.Connection,
    cipher: Cipher,
    namespace: str,
    subject: str | None,
    attribute: str | None,
) -> list[Fact]:
    """The namespace's facts with their sources, ordered by subject, attribute and
    ``valid_from``."""
    # Subject and attribute may be sealed (docs/security.md): filtered and ordered here,
    # after opening, not in SQL.
    found = conn.execute(f"{_FACT_COLUMNS} WHERE f.namespace = ?", (namespace,)).fetchall()
    return _built(conn, cipher, namespace, found, subject=subject, attribute=attribute)


def facts_of(
    conn: sqlite3.Connection,
    cipher: Cipher,
    namespace: str,
    ids: Sequence[str],
    keys: Iterable[tuple[str, str]],
) -> list[Fact]:
    """The facts of the memories ``ids`` and every fact that shares a subject and
    attribute with one of them or with ``keys``, ordered as ``facts`` orders them:
    by the id index, then by ``lookup`` (a superset where two pairs share a
    token, narrowed after opening). Facts without a ``lookup`` yet (written
    before it existed) are read and opened too."""
    found: dict[int, sqlite3.Row] = {}
    for chunk in rows.chunks(list(dict.fromkeys(ids))):
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(
            f"{_FACT_COLUMNS} WHERE e.id IN ({marks}) AND +e.namespace = ?", (*chunk, namespace)
        ):
            found[int(r["engram_rowid"])] = r
    wanted = {fact_key(*_opened_key(cipher, r)) for r in found.values()}
    wanted.update(fact_key(subject, attribute) for subject, attribute in keys)
    shared: list[sqlite3.Row] = []
    for chunk in rows.chunks(sorted({cipher.tag(k) for k in wanted})):
        marks = ",".join("?" * len(chunk))
        shared += conn.execute(
            f"{_FACT_COLUMNS} WHERE f.namespace = ? AND f.lookup IN ({marks})", (namespace, *chunk)
        ).fetchall()
    shared += conn.execute(
        f"{_FACT_COLUMNS} WHERE f.namespace = ? AND f.lookup IS NULL", (namespace,)
    ).fetchall()
    for r in shared:
        rowid = int(r["engram_rowid"])
        if rowid not in found and fact_key(*_opened_key(cipher, r)) in wanted:
            found[rowid] = r
    return _built(conn, cipher, namespace, list(found.values()))


def _opened_key(cipher: Cipher, r: sqlite3.Row) -> tuple[str, str]:
    eid = r["engram_id"]
    return (
        cipher.open(r["subject"], f"facts.subject:{eid}"),
        cipher.open(r["attribute"], f"facts.attribute:{eid}"),
    )


def _sources(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, list[str]]:
    """The ids each derived memory of ``rowids`` came from, in source row order."""
    sources: dict[int, list[str]] = {}
    for chunk in rows.chunks(sorted(rowids)):
        marks = ",".join("?" * len(chunk))
        for derived, source in conn.execute(
            "SELECT p.derived_rowid, s.id FROM provenance p "
            "JOIN engrams s ON s.rowid = p.source_rowid "
            f"WHERE p.derived_rowid IN ({marks}) ORDER BY p.derived_rowid, p.source_rowid",
            chunk,
        ):
            sources.setdefault(int(derived), []).append(source)
    return sources


def _built(
    conn: sqlite3.Connection,
    cipher: Cipher,
    namespace: str,
    found: Sequence[sqlite3.Row],
    *,
    subject: str | None = None,
    attribute: str | None = None,
) -> list[Fact]:
    """Facts of fact rows (optionally of one subject / attribute), with their sources,
    ordered by subject, attribute, ``valid_from`` and row."""
    opened: list[tuple[tuple[str, str, str, int], Any]] = []
    for r in found:
        fact_subject, fact_attribute = _opened_key(cipher, r)
        if (subject is not None and fact_subject != subject) or (
            attribute is not None and fact_attribute != attribute
        ):
            continue
        order = (fact_subject, fact_attribute, r["valid_from"], int(r["engram_rowid"]))
        opened.append((order, r))
    opened.sort(key=lambda item: item[0])
    sources = _sources(conn, [order[3] for order, _ in opened])
    return [
        Fact(
            engram_id=r["engram_id"],
            namespace=namespace,
            subject=subject_,
            attribute=attribute_,
            value=cipher.open(r["value"], f"facts.value:{r['engram_id']}"),
            text=cipher.open(r["text"], f"engrams.text:{r['engram_id']}"),
            valid_from=from_iso(r["valid_from"]),
            valid_to=None if r["valid_to"] is None else from_iso(r["valid_to"]),
            recorded_at=from_iso(r["recorded_at"]),
            invalidated_at=None if r["invalidated_at"] is None else from_iso(r["invalidated_at"]),
            status=r["status"],
            superseded_by=r["superseded_by"],
            sources=tuple(sources.get(rowid, ())),
        )
        for (subject_, attribute_, _, rowid), r in opened
    ]


def links(conn: sqlite3.Connection, namespace: str) -> list[Link]:
    found = conn.execute(
        "SELECT d.id, s.id, p.relation FROM provenance p "
        "JOIN engrams d ON d.rowid = p.derived_rowid "
        "JOIN engrams s ON s.rowid = p.source_rowid "
        "WHERE d.namespace = ? ORDER BY p.derived_rowid, p.source_rowid",
        (namespace,),
    ).fetchall()
    return [Link(r[0], r[1], r[2]) for r in found]


def consumed(conn: sqlite3.Connection, namespace: str) -> dict[str, int]:
    return {
        r[0]: int(r[1])
        for r in conn.execute(
            "SELECT e.id, c.version FROM consolidated c "
            "JOIN engrams e ON e.rowid = c.engram_rowid WHERE e.namespace = ?",
            (namespace,),
        )
    }
