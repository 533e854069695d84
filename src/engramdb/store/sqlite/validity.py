"""What an erasure changes of the facts that remain in a SqliteStore: the validity of
those the erased evidence closed (``store.derivation.revalidated``: a fact superseded
by an erased fact takes over its end, or is current again; a fact gone stale with it
is judged again from its sources), written in the erasure's transaction before the
erased rows go (docs/consolidation.md, "Provenance and erasure").

Owns the lookups the rule reads (``Timelines``, by the id index, the partial index of
``superseded_by``, provenance's source index and ``lookup``) and the update. The
facts' checksums follow the update as any write's do (``checksums.watch``). Nothing
here opens a sealed value: validity, supersession and provenance are clear.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from engramdb.clock import from_iso, to_iso
from engramdb.store import derivation
from engramdb.store.derivation import Validity, revalidated
from engramdb.store.sqlite.rows import chunks

if TYPE_CHECKING:
    from engramdb.store.sqlite.database import Database

__all__ = ["Timelines", "after_erasure", "dangling", "repair_pending"]

_SELECT = (
    "SELECT e.id, f.valid_from, f.valid_to, f.status, f.superseded_by, f.invalidated_at, "
    "f.recorded_at, f.engram_rowid FROM facts f JOIN engrams e ON e.rowid = f.engram_rowid"
)

_DERIVED = (
    "SELECT DISTINCT e.id, f.valid_from, f.valid_to, f.status, f.superseded_by, "
    "f.invalidated_at, f.recorded_at, f.engram_rowid FROM engrams s "
    "JOIN provenance p ON p.source_rowid = s.rowid "
    "JOIN facts f ON f.engram_rowid = p.derived_rowid "
    "JOIN engrams e ON e.rowid = f.engram_rowid WHERE +f.namespace = ? AND s.id IN ({marks})"
)


def _validity(row: Sequence[object], sources: tuple[str, ...] = ()) -> Validity:
    eid, start, end, status, by, invalidated, recorded = tuple(row)[:7]
    return Validity(
        engram_id=str(eid),
        valid_from=from_iso(str(start)),
        valid_to=None if end is None else from_iso(str(end)),
        status=str(status),
        superseded_by=None if by is None else str(by),
        invalidated_at=None if invalidated is None else from_iso(str(invalidated)),
        recorded_at=from_iso(str(recorded)),
        sources=sources,
    )


class Timelines:
    """``store.derivation.FactTimelines`` over one namespace's facts, in ``conn``'s
    transaction."""

    def __init__(self, conn: sqlite3.Connection, namespace: str) -> None:
        self._conn = conn
        self._namespace = namespace

    def _where(self, condition: str, values: Collection[str]) -> list[tuple[object, ...]]:
        found: list[tuple[object, ...]] = []
        for chunk in chunks(list(values)):
            marks = ",".join("?" * len(chunk))
            found += map(
                tuple,
                self._conn.execute(
                    f"{_SELECT} WHERE f.namespace = ? AND {condition.format(marks=marks)}",
                    (self._namespace, *chunk),
                ),
            )
        return found

    def by_id(self, ids: Collection[str]) -> list[Validity]:
        return [_validity(r) for r in self._where("e.id IN ({marks})", ids)]

    def superseded_by(self, ids: Collection[str]) -> list[Validity]:
        return [_validity(r) for r in self._where("f.superseded_by IN ({marks})", ids)]

    def derived_from(self, ids: Collection[str]) -> list[Validity]:
        found: list[tuple[object, ...]] = []
        for chunk in chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            # from the sources' ids by provenance's source index, not the namespace's facts
            found += map(
                tuple, self._conn.execute(_DERIVED.format(marks=marks), (self._namespace, *chunk))
            )
        return [_validity(r, self._sources(int(str(r[7])))) for r in found]

    def _sources(self, rowid: int) -> tuple[str, ...]:
        """The facts a derived fact came from."""
        return tuple(
            str(r[0])
            for r in self._conn.execute(
                "SELECT s.id FROM provenance p JOIN engrams s ON s.rowid = p.source_rowid "
                "WHERE p.derived_rowid = ? AND s.kind = 'fact' ORDER BY p.source_rowid",
                (rowid,),
            )
        )

    def later(self, fact: Validity) -> list[Validity]:
        found = self._conn.execute(
            f"{_SELECT} JOIN facts o ON o.namespace = f.namespace AND o.lookup = f.lookup "
            "JOIN engrams oe ON oe.rowid = o.engram_rowid "
            "WHERE oe.id = ? AND f.valid_from > o.valid_from ORDER BY f.valid_from, e.id",
            (fact.engram_id,),
        )
        return [_validity(r) for r in found]


def after_erasure(conn: sqlite3.Connection, namespace: str, gone: Sequence[str]) -> int:
    """Write the new validity of the namespace's remaining facts that the erasure of
    ``gone`` (ids, still in the database) reopens or moves; how many changed."""
    changed = revalidated(set(gone), Timelines(conn, namespace))
    conn.executemany(
        "UPDATE facts SET valid_to = ?, status = ?, superseded_by = ?, invalidated_at = ? "
        "WHERE engram_rowid = (SELECT rowid FROM engrams WHERE id = ?)",
        [
            (
                None if f.valid_to is None else to_iso(f.valid_to),
                f.status,
                f.superseded_by,
                None if f.invalidated_at is None else to_iso(f.invalidated_at),
                f.engram_id,
            )
            for f in changed
        ],
    )
    return len(changed)


def dangling(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """By namespace, the ids that facts are superseded by and that are no fact of it."""
    return derivation.dangling(conn.execute(derivation.DANGLING))


def repair_pending(db: Database) -> None:
    """Once, at the first writable open after migration 24: the facts an erasure made
    before ``revalidated`` left superseded by a fact that no longer exists are reopened
    as an erasure now does, in one transaction (their checksums follow: ``watch``)."""
    with db.read() as conn:
        if conn.execute("SELECT 1 FROM validity_pending").fetchone() is None:
            return
    with db.transaction() as conn:
        for namespace, gone in dangling(conn).items():
            after_erasure(conn, namespace, gone)
        conn.execute("DELETE FROM validity_pending")
