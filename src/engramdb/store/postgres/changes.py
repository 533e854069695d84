"""Each namespace's change mark, and the catalogs a process keeps until it moves.

Several processes write one PostgreSQL store (docs/scaling.md). Statement triggers
on ``engrams`` (migrations 3 and 7 of ``store.postgres.schema``) give every
namespace a transaction touches a new value of one sequence in
``namespace_changes``, at the transaction's first statement on the namespace (a
later one finds the value its transaction took, by ``xact``, and writes nothing:
a batch of many INSERTs moves the mark once), and delete the values before it
that no other writer holds. The mark of a namespace is the set of its values a read sees: every
committed write adds a value never seen before, so the mark after it differs
from any mark read before it, whatever order writers commit in (a single
counter bumped in place would make writers of a namespace wait on each other,
and a value taken from the sequence before another writer's commit can be
committed after it). A read of it is one index range, of one or a few rows.
``CatalogCache`` keeps a namespace's catalog (what a ranking reads: ids,
vectors, dynamics) with the mark it was read at, and hands it back while the
mark stays; the search after another process's write reads it anew. Handing
back the same object is what lets the recaller keep its indexes of the
namespace (``recall.engine.Recaller.view``).

Why a mark read at each search and not LISTEN/NOTIFY: a notice reaches a process only while it
listens on a connection of its own, and one missed while that connection was
down leaves a cache stale with nothing to tell; the mark is read where it
is needed, costs one indexed read per search (BENCHMARKS.md, "Several servers
on one database"), and cannot be missed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg

from engramdb.bounded import Bounded
from engramdb.store.base import Catalog

__all__ = ["CatalogCache", "changes_of", "forget"]

#: Namespaces whose catalogs a process keeps (the recaller keeps as many views).
CACHED_NAMESPACES = 64

Connection = psycopg.Connection[tuple[Any, ...]]


def changes_of(conn: Connection, namespace: str) -> tuple[int, ...] | None:
    """The namespace's mark; None before its first write (or after its erasure)."""
    found = conn.execute(
        "SELECT changes FROM namespace_changes WHERE namespace = %s ORDER BY changes",
        (namespace,),
    ).fetchall()
    return tuple(int(value) for (value,) in found) or None


def forget(conn: Connection, namespace: str) -> None:
    """Drop the namespace's mark (its erasure); the sequence never gives a value again."""
    conn.execute("DELETE FROM namespace_changes WHERE namespace = %s", (namespace,))


class CatalogCache:
    """Catalogs by namespace, each valid while its mark has not moved; thread-safe."""

    def __init__(self, max_namespaces: int = CACHED_NAMESPACES) -> None:
        self._held: Bounded[str, tuple[tuple[int, ...], Catalog]] = Bounded(max_namespaces)
        self._lock = threading.Lock()

    def catalog(
        self, conn: Connection, namespace: str, read: Callable[[Connection], Catalog]
    ) -> Catalog:
        """The namespace's catalog: the one held when its mark has not moved since,
        else ``read(conn)``, held from now on. The mark is read first: a write that
        commits between the two reads leaves a newer catalog held under the older
        mark, read again at the next call, never an older one under a newer."""
        changes = changes_of(conn, namespace)
        with self._lock:
            held = self._held.get(namespace)
        if held is not None and changes is not None and held[0] == changes:
            return held[1]
        catalog = read(conn)
        with self._lock:
            if changes is None:
                self._held.pop(namespace, None)
            else:
                self._held[namespace] = (changes, catalog)
        return catalog

    def drop(self, namespace: str) -> None:
        with self._lock:
            self._held.pop(namespace, None)
