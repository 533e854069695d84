"""Consolidation's rows in a PostgresStore (docs/consolidation.md): facts, provenance
links, consumed marks, and the new memories and versions a step writes.

``ConsolidationTables`` is ``PostgresStore``'s share of the ``Store`` methods of
consolidation, as ``ProfileTable`` is of the pinned profile: what a step writes
is decided above the store (``engramdb.consolidate``); here each step is one
transaction, its episodes locked first. In an encrypted store a fact's
subject, attribute and value are sealed and its lookup is a keyed tag
(``store.postgres.rows``), so a search of facts by subject or attribute opens
the namespace's facts and chooses among them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from engramdb.model import Engram, Fact
from engramdb.security.crypto import Cipher
from engramdb.store.base import ConsolidationBatch, DerivedUpdate, Link
from engramdb.store.codec import open_optional
from engramdb.store.postgres import macs, rows
from engramdb.store.postgres.database import Connection

if TYPE_CHECKING:
    from engramdb.store.postgres.database import Database
    from engramdb.store.postgres.sealed import DataKeys

__all__ = ["ConsolidationTables"]

_SELECT = f"SELECT {rows.ENGRAM_COLUMNS} FROM engrams"


class ConsolidationTables:
    """The ``Store`` methods of consolidation, for ``PostgresStore``."""

    _db: Database
    _keys: DataKeys

    def _ciphers(self, conn: Connection, *, create: bool = False) -> rows.CipherOf:
        return self._keys.ciphers(conn, create=create)

    def _cipher(self, conn: Connection, namespace: str, *, create: bool = False) -> Cipher:
        return self._keys.cipher(conn, namespace, create=create)

    def pending_episodes(self, namespace: str, limit: int) -> list[Engram]:
        if limit <= 0:
            return []
        with self._db.read() as conn:
            found = conn.execute(
                f"{_SELECT} WHERE namespace = %s AND kind = 'episode' "
                "AND (consumed IS NULL OR consumed < version) ORDER BY rowid LIMIT %s",
                (namespace, limit),
            )
            cipher_of = self._ciphers(conn)
            return [rows.engram(row, cipher_of) for row in found]

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
            cipher_of = self._ciphers(conn, create=True)
            if batch.inserts:
                firsts = [r.first_version() for r in batch.inserts]
                written = rows.insert(
                    conn, batch.inserts, firsts, cipher_of, seal_vectors=self._keys.vectors_sealed
                )
                rows.insert_version(
                    conn, zip(written, batch.inserts, firsts, strict=True), cipher_of
                )
            rowids = rows.all_of(
                conn, namespace, batch.named(), "consolidation names memories not in"
            )
            recorded = (f.recorded(namespace, batch.now) for f in batch.facts)
            rows.insert_facts(conn, rowids, recorded, cipher_of(namespace))
            changed = [rowids[c.engram_id] for c in batch.changes]
            macs.verify_owned(conn, cipher_of, macs.FACTS, changed)  # never reseal an altered row
            for c in batch.changes:
                conn.execute(
                    "UPDATE facts SET valid_to = %s, status = %s, superseded_by = %s, "
                    "invalidated_at = %s WHERE engram_rowid = %s",
                    (c.valid_to, c.status, c.superseded_by, batch.now, rowids[c.engram_id]),
                )
            macs.seal_owned(conn, cipher_of, macs.FACTS, changed)
            rows.insert_links(conn, rowids, batch.links, cipher_of(namespace))
            for update in batch.updates:
                self._refresh(conn, rowids[update.engram_id], update, batch.now, namespace)
            self._mark(conn, rowids, dict(batch.episodes))
        return True

    def _refresh(
        self, conn: Connection, rowid: int, update: DerivedUpdate, now: datetime, namespace: str
    ) -> None:
        """A new version of a derived memory (a summary refreshed); it keeps its speaker."""
        row = conn.execute(
            "SELECT version, speaker, valid_from FROM engrams WHERE rowid = %s", (rowid,)
        ).fetchone()
        assert row is not None
        version, speaker, valid_from = row
        cipher_of = self._ciphers(conn, create=True)
        speaker = open_optional(
            cipher_of(namespace), speaker, f"engrams.speaker:{update.engram_id}"
        )
        at = max(now, valid_from)  # versions never overlap
        rows.new_version(
            conn, rowid, update, speaker=speaker, version=int(version) + 1, at=at,
            namespace=namespace, cipher_of=cipher_of, seal_vectors=self._keys.vectors_sealed,
        )  # fmt: skip

    @staticmethod
    def _mark(conn: Connection, rowids: Mapping[str, int], marks: Mapping[str, int]) -> None:
        for engram_id, version in marks.items():
            conn.execute(
                "UPDATE engrams SET consumed = %s WHERE rowid = %s", (version, rowids[engram_id])
            )

    def facts(
        self, namespace: str, *, subject: str | None = None, attribute: str | None = None
    ) -> list[Fact]:
        with self._db.read() as conn:
            cipher = self._cipher(conn, namespace)
            if cipher.encrypted:  # sealed: chosen once opened
                return [
                    f
                    for f in rows.facts(conn, "f.namespace = %s", [namespace], cipher)
                    if (subject is None or f.subject == subject)
                    and (attribute is None or f.attribute == attribute)
                ]
            where, params = "f.namespace = %s", [namespace]
            if subject is not None:
                where, params = f"{where} AND f.subject = %s", [*params, subject]
            if attribute is not None:
                where, params = f"{where} AND f.attribute = %s", [*params, attribute]
            return rows.facts(conn, where, params, cipher)

    def facts_of(
        self, namespace: str, ids: Sequence[str] = (), keys: Sequence[tuple[str, str]] = ()
    ) -> list[Fact]:
        with self._db.read() as conn:
            cipher = self._cipher(conn, namespace)
            found = conn.execute(
                "SELECT f.lookup FROM facts f JOIN engrams e ON e.rowid = f.engram_rowid "
                "WHERE e.id = ANY(%s) AND e.namespace = %s",
                (list(ids), namespace),
            )
            wanted = {str(lookup) for (lookup,) in found}
            wanted.update(cipher.tag(rows.fact_key(s, a)) for s, a in keys)
            if not wanted:
                return []
            return rows.facts(
                conn,
                "f.namespace = %s AND f.lookup = ANY(%s)",
                (namespace, sorted(wanted)),
                cipher,
            )

    def links(self, namespace: str) -> list[Link]:
        with self._db.read() as conn:
            cipher = self._cipher(conn, namespace)
            found = conn.execute(
                "SELECT d.id, s.id, p.derived_rowid, p.source_rowid, p.relation, p.mac "
                "FROM provenance p JOIN engrams d ON d.rowid = p.derived_rowid "
                "JOIN engrams s ON s.rowid = p.source_rowid "
                "WHERE d.namespace = %s ORDER BY p.derived_rowid, p.source_rowid",
                (namespace,),
            )
            links = []
            for d, s, *values, mac in found:
                macs.verify_owned_row(cipher, macs.LINKS, values, mac)
                links.append(Link(str(d), str(s), str(values[-1])))
            return links

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
            rowids = rows.all_of(
                conn, namespace, named, "cannot restore consolidation: memories not in"
            )
            cipher = self._cipher(conn, namespace, create=True)
            rows.insert_facts(conn, rowids, facts, cipher)
            rows.insert_links(conn, rowids, links, cipher)
            self._mark(conn, rowids, consumed)
