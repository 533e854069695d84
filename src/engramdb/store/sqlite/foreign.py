"""Reading a table of another program's SQLite file (an importer's source), read-only.

The only place outside the store's own files where engramdb opens SQLite:
importers read other tools' databases (mem0's history, docs/integrations/importers.md)
through here, so sqlite3 stays inside ``store/sqlite``. The file is opened
with ``mode=ro``: nothing in it changes, and a file that is not a database, or
lacks the table or a required column, is an ``InvalidInputError`` naming it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engramdb.errors import InvalidInputError

__all__ = ["read_table"]


def read_table(
    path: Path, table: str, columns: Sequence[str], *, optional: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Every row of ``table`` in the SQLite file at ``path``: ``columns`` (each required)
    and those of ``optional`` the table has, by name, in rowid order."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise InvalidInputError(f"{path.name}: cannot open it as SQLite: {exc}") from None
    try:
        found = {row[1] for row in connection.execute(f"PRAGMA table_info({_name(table)})")}
        if not found:
            raise InvalidInputError(f"{path.name} has no table {table!r}")
        missing = [c for c in columns if c not in found]
        if missing:
            raise InvalidInputError(f"{path.name}: table {table!r} has no column {missing}")
        chosen = [*columns, *(c for c in optional if c in found)]
        listed = ", ".join(_name(c) for c in chosen)
        rows = connection.execute(f"SELECT {listed} FROM {_name(table)} ORDER BY rowid")
        return [dict(zip(chosen, row, strict=True)) for row in rows]
    except sqlite3.DatabaseError as exc:
        raise InvalidInputError(f"{path.name}: not a readable SQLite database: {exc}") from None
    finally:
        connection.close()


def _name(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
