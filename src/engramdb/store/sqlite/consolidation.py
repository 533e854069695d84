"""Consolidation in a SqliteStore: facts, provenance and consumed marks (docs/consolidation.md).

Owns the SQL of the ``facts``, ``provenance``, ``consolidated`` and
``consolidation_state`` tables: which episodes are still pending, writing one
consolidation step (``apply``), reading facts and links back, and writing back
what an export carried. What a step writes (which facts, which summaries) is
planned above the store, by ``engramdb.consolidate``; every function here runs
inside the caller's transaction or snapshot.
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
from engramdb.store.codec import open_optional
from engramdb.store.sqlite import rows

__all__ = [
    "apply",
    "consumed",
    "facts",
    "links",
    "pending",
    "pending_count",
    "restore",
    "unconsumed",
]

_PENDING = (
    "FROM engrams e LEFT JOIN consolidated c ON c.engram_rowid = e.rowid "
    "WHERE e.namespace = ? AND e.kind = 'episode' "
    "AND (c.engram_rowid IS NULL OR c.version < e.version)"
)
_INSERT_FACT = (
    "INSERT INTO facts (engram_rowid, namespace, subject, attribute, value, valid_from, "
    "valid_to, recorded_at, invalidated_at, status, superseded_by) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def pending(conn: sqlite3.Connection, cipher: Cipher, namespace: str, limit: int) -> list[Engram]:
    """Episodes not consolidated at their current version, oldest first (their
    dynamics are not read: consolidation does not use them)."""
    columns = ", ".join(f"e.{c}" for c in rows.ENGRAM_COLUMNS.split(", "))
    found = conn.execute(
        f"SELECT {columns} {_PENDING} ORDER BY e.rowid LIMIT ?", (namespace, limit)
    ).fetchall()
    return [rows.engram(r, cipher) for r in found]


def pending_count(conn: sqlite3.Connection, namespace: str) -> int:
    return int(conn.execute(f"SELECT COUNT(*) {_PENDING}", (namespace,)).fetchone()[0])


def apply(
    conn: sqlite3.Connection, cipher: Cipher, batch: ConsolidationBatch, *, seal_vectors: bool
) -> list[tuple[int, npt.NDArray[np.float32]]]:
    """Write one consolidation step whose episodes are ``unconsumed``; the (rowid,
    vector) of the memories it wrote or changed."""
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
        )
        rows.insert_version(conn, cipher, rowid, record.id, rows.first_version(record))
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
        _derived_version(conn, cipher, rowid, namespace, update, batch, seal_vectors)
        written.append((rowid, update.vector))
    _mark_consumed(conn, rowids, dict(batch.episodes))
    conn.execute(
        "INSERT INTO consolidation_state (namespace, runs, episodes, updated_at) "
        "VALUES (?, 1, ?, ?) ON CONFLICT (namespace) DO UPDATE SET "
        "runs = runs + 1, episodes = episodes + excluded.episodes, "
        "updated_at = excluded.updated_at",
        (namespace, len(batch.episodes), now),
    )
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
            f"WHERE e.namespace = ? AND e.id IN ({marks})",
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
                cipher.seal(f.subject, f"facts.subject:{f.engram_id}"),
                cipher.seal(f.attribute, f"facts.attribute:{f.engram_id}"),
                cipher.seal(f.value, f"facts.value:{f.engram_id}"),
                to_iso(f.valid_from),
                None if f.valid_to is None else to_iso(f.valid_to),
                to_iso(f.recorded_at),
                None if f.invalidated_at is None else to_iso(f.invalidated_at),
                f.status,
                f.superseded_by,
            )
            for f in found
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
    # after opening, not in SQL. A namespace holds facts by the thousand at most.
    found = conn.execute(
        "SELECT f.*, e.id AS engram_id, e.text AS text FROM facts f "
        "JOIN engrams e ON e.rowid = f.engram_rowid WHERE f.namespace = ?",
        (namespace,),
    ).fetchall()
    sources: dict[int, list[str]] = {}
    for link in conn.execute(
        "SELECT p.derived_rowid, s.id FROM provenance p "
        "JOIN engrams s ON s.rowid = p.source_rowid "
        "JOIN facts f ON f.engram_rowid = p.derived_rowid "
        "WHERE f.namespace = ? ORDER BY p.derived_rowid, p.source_rowid",
        (namespace,),
    ):
        sources.setdefault(int(link[0]), []).append(link[1])
    opened: list[tuple[tuple[str, str, str, int], Any]] = []
    for r in found:
        eid = r["engram_id"]
        fact_subject = cipher.open(r["subject"], f"facts.subject:{eid}")
        fact_attribute = cipher.open(r["attribute"], f"facts.attribute:{eid}")
        if (subject is not None and fact_subject != subject) or (
            attribute is not None and fact_attribute != attribute
        ):
            continue
        order = (fact_subject, fact_attribute, r["valid_from"], int(r["engram_rowid"]))
        opened.append((order, r))
    opened.sort(key=lambda item: item[0])
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
            sources=tuple(sources.get(int(r["engram_rowid"]), ())),
        )
        for (subject_, attribute_, _, _), r in opened
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
