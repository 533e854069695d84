"""What an erasure changes of the facts that remain in a PostgresStore: the validity
of those the erased evidence closed (``store.derivation.revalidated``: a fact
superseded by an erased fact takes over its end, or is current again; a fact gone
stale with it is judged again from its sources), written in the erasure's
transaction before the erased rows go (docs/consolidation.md, "Provenance and
erasure"). The SQLite store's twin is ``store.sqlite.validity``.

Owns the lookups the rule reads (``Timelines``, by the id index, the partial index of
``superseded_by`` (migration 13), provenance's source index and ``lookup``) and the
update, which checks the facts' rows against their MACs first and writes them again
after (``macs.FACTS``). Nothing here opens a sealed value: validity, supersession and
provenance are clear.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from engramdb.errors import DecryptionError
from engramdb.store import derivation
from engramdb.store.derivation import Validity, revalidated
from engramdb.store.postgres import macs
from engramdb.store.postgres.database import Connection
from engramdb.store.postgres.macs import CipherOf

__all__ = ["Timelines", "after_erasure", "dangling", "repair_pending", "revalidate"]

_SELECT = (
    "SELECT e.id, f.valid_from, f.valid_to, f.status, f.superseded_by, f.invalidated_at, "
    "f.recorded_at, f.engram_rowid FROM facts f JOIN engrams e ON e.rowid = f.engram_rowid"
)


def _validity(row: Sequence[Any], sources: tuple[str, ...] = ()) -> Validity:
    eid, start, end, status, by, invalidated, recorded = row[:7]
    return Validity(
        engram_id=str(eid),
        valid_from=start,
        valid_to=end,
        status=str(status),
        superseded_by=None if by is None else str(by),
        invalidated_at=invalidated,
        recorded_at=recorded,
        sources=sources,
    )


class Timelines:
    """``store.derivation.FactTimelines`` over one namespace's facts, in ``conn``'s
    transaction."""

    def __init__(self, conn: Connection, namespace: str) -> None:
        self._conn = conn
        self._namespace = namespace

    def _where(self, condition: str, ids: Collection[str]) -> list[Any]:
        return self._conn.execute(
            f"{_SELECT} WHERE f.namespace = %s AND {condition}", (self._namespace, list(ids))
        ).fetchall()

    def by_id(self, ids: Collection[str]) -> list[Validity]:
        return [_validity(r) for r in self._where("e.id = ANY(%s)", ids)]

    def superseded_by(self, ids: Collection[str]) -> list[Validity]:
        return [_validity(r) for r in self._where("f.superseded_by = ANY(%s)", ids)]

    def derived_from(self, ids: Collection[str]) -> list[Validity]:
        found = self._conn.execute(  # by provenance's source index
            "SELECT DISTINCT e.id, f.valid_from, f.valid_to, f.status, f.superseded_by, "
            "f.invalidated_at, f.recorded_at, f.engram_rowid FROM engrams s "
            "JOIN provenance p ON p.source_rowid = s.rowid "
            "JOIN facts f ON f.engram_rowid = p.derived_rowid "
            "JOIN engrams e ON e.rowid = f.engram_rowid WHERE f.namespace = %s AND s.id = ANY(%s)",
            (self._namespace, list(ids)),
        ).fetchall()
        sources: dict[int, list[str]] = {}
        for derived, source in self._conn.execute(
            "SELECT p.derived_rowid, s.id FROM provenance p "
            "JOIN engrams s ON s.rowid = p.source_rowid "
            "WHERE p.derived_rowid = ANY(%s) AND s.kind = 'fact' "
            "ORDER BY p.derived_rowid, p.source_rowid",
            ([int(r[7]) for r in found],),
        ):
            sources.setdefault(int(derived), []).append(str(source))
        return [_validity(r, tuple(sources.get(int(r[7]), ()))) for r in found]

    def later(self, fact: Validity) -> list[Validity]:
        found = self._conn.execute(
            f"{_SELECT} JOIN facts o ON o.namespace = f.namespace AND o.lookup = f.lookup "
            "JOIN engrams oe ON oe.rowid = o.engram_rowid "
            "WHERE oe.id = %s AND f.valid_from > o.valid_from ORDER BY f.valid_from, e.id",
            (fact.engram_id,),
        )
        return [_validity(r) for r in found]


def after_erasure(conn: Connection, doomed: Sequence[int], cipher_of: CipherOf) -> list[int]:
    """Write the new validity of the remaining facts that the erasure of the memories
    ``doomed`` (rows of one namespace, still in the database) reopens or moves; the
    rows of the facts changed."""
    found = conn.execute(
        "SELECT id, namespace FROM engrams WHERE rowid = ANY(%s) AND kind = 'fact'",
        (list(doomed),),
    ).fetchall()
    if not found:
        return []
    return revalidate(conn, str(found[0][1]), {str(i) for i, _ in found}, cipher_of)


def revalidate(
    conn: Connection, namespace: str, gone: Collection[str], cipher_of: CipherOf
) -> list[int]:
    """Write the new validity of the namespace's facts that the erasure of ``gone``
    (ids) reopens or moves; the rows of the facts changed. In an encrypted store their
    rows are checked against their MACs first and get new ones after (``macs.FACTS``)."""
    changed = revalidated(set(gone), Timelines(conn, namespace))
    if not changed:
        return []
    rowid_of = {
        str(i): int(r)
        for r, i in conn.execute(
            "SELECT rowid, id FROM engrams WHERE id = ANY(%s)", ([f.engram_id for f in changed],)
        )
    }
    rowids = [rowid_of[f.engram_id] for f in changed]
    macs.verify_owned(conn, cipher_of, macs.FACTS, rowids)  # never reseal an altered row
    with conn.cursor() as cur:
        cur.executemany(
            "UPDATE facts SET valid_to = %s, status = %s, superseded_by = %s, "
            "invalidated_at = %s WHERE engram_rowid = %s",
            [
                (f.valid_to, f.status, f.superseded_by, f.invalidated_at, rowid_of[f.engram_id])
                for f in changed
            ],
        )
    macs.seal_owned(conn, cipher_of, macs.FACTS, rowids)
    return rowids


def dangling(conn: Connection) -> dict[str, list[str]]:
    """By namespace, the ids that facts are superseded by and that are no fact of it."""
    return derivation.dangling(conn.execute(derivation.DANGLING))


def repair_pending(conn: Connection, cipher_of: CipherOf) -> None:
    """Once, at the first writable open after migration 15: the facts an erasure made
    before ``revalidated`` left superseded by a fact that no longer exists are reopened
    as an erasure now does. A fact whose row does not authenticate stops it: the mark
    stays for the next open, and ``check()`` names the row meanwhile."""
    if conn.execute("SELECT 1 FROM validity_pending FOR UPDATE").fetchone() is None:
        return
    try:
        with conn.transaction():  # a savepoint: an altered row undoes the repair alone
            for namespace, gone in dangling(conn).items():
                revalidate(conn, namespace, gone, cipher_of)
    except DecryptionError:
        return
    conn.execute("DELETE FROM validity_pending")
