"""The SQL of a store's keys that reads the same in every SQL backend (docs/security.md).

``SqlKeyTable`` is most of a ``security.datakeys.KeyTable``: the ``crypto`` row and
the ``namespace_keys`` table, written with ``?`` and sent with the backend's
placeholder. A backend adds how it stores a time and ``add_key``, where two
writers of a new namespace meet in their own way (``store/sqlite/sealing.py``,
``store/postgres/sealed.py``). The key hierarchy itself is ``security.datakeys``'.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

from engramdb.security.datakeys import Recorded, parsed

__all__ = ["Executes", "SqlKeyTable"]


class Executes(Protocol):
    """A database connection as ``SqlKeyTable`` uses it (sqlite3's, psycopg's)."""

    def execute(self, statement: str, params: Any = ..., /) -> Any: ...


class SqlKeyTable:
    """The ``KeyTable`` statements that read the same in every SQL backend, written with
    ``?`` and sent with the backend's ``mark``; a backend adds ``add_key`` (how two
    writers of a new namespace meet is its own) and how it stores a time (``stamp``)."""

    mark = "?"
    #: Every namespace's data key, as ``all_keys`` reads it (a backend may add a lock).
    every_key = "SELECT namespace, key_id, wrapped FROM namespace_keys ORDER BY namespace"

    def __init__(self, conn: Executes) -> None:
        self.conn = conn

    def _run(self, statement: str, params: tuple[Any, ...]) -> Any:
        return self.conn.execute(statement.replace("?", self.mark), params)

    def stamp(self, now: datetime) -> object:
        """``now`` as the backend stores a time."""
        return now

    def recorded(self) -> Recorded | None:
        statement = "SELECT params, verifier, vectors_sealed FROM crypto WHERE id = 1"
        row = self._run(statement, ()).fetchone()
        if row is None:
            return None
        return Recorded(parsed(row[0]), bytes(row[1]), bool(row[2]))

    def record(self, scheme: str, recorded: Recorded, now: datetime) -> None:
        self._run(
            "INSERT INTO crypto (id, scheme, params, verifier, vectors_sealed, created_at) "
            "VALUES (1, ?, ?, ?, ?, ?)",
            (
                scheme,
                json.dumps(recorded.params),
                recorded.verifier,
                recorded.vectors_sealed,
                self.stamp(now),
            ),
        )

    def rerecord(self, params: dict[str, Any], verifier: bytes, now: datetime) -> None:
        self._run(
            "UPDATE crypto SET params = ?, verifier = ?, rotated_at = ? WHERE id = 1",
            (json.dumps(params), verifier, self.stamp(now)),
        )

    def key_of(self, namespace: str) -> tuple[bytes, bytes] | None:
        row = self._run(
            "SELECT key_id, wrapped FROM namespace_keys WHERE namespace = ?", (namespace,)
        ).fetchone()
        return None if row is None else (bytes(row[0]), bytes(row[1]))

    def rewrap(self, namespace: str, wrapped: bytes) -> None:
        self._run("UPDATE namespace_keys SET wrapped = ? WHERE namespace = ?", (wrapped, namespace))

    def all_keys(self) -> list[tuple[str, bytes, bytes]]:
        found = self._run(self.every_key, ())
        return [(str(ns), bytes(key_id), bytes(wrapped)) for ns, key_id, wrapped in found]

    def drop_key(self, namespace: str) -> None:
        self._run("DELETE FROM namespace_keys WHERE namespace = ?", (namespace,))
