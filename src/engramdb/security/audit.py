"""The audit log's place and vocabulary; its rows live in ``store.sqlite.auditfile``.

``audit.db`` sits beside the store like ``keys.db``. Who writes it
(docs/security.md): the HTTP server, one entry per mutating request and one per
request refused for want of a valid key (``server.http.trail``); the MCP tools,
one per memory-changing tool call (``server.mcp.tools``); the CLI, one per
local write command it runs, one per namespace for a batch (actor ``"local"``);
the server's background consolidation, one per run that consumed episodes
(actor ``"scheduler"``, ``server.schedule``). ``engram audit`` reads them. An
entry never holds memory content.

Library calls (``Memory.add`` from Python) are not audited: the log belongs to
the edges, which know who is asking.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from engramdb.store import audit_table, is_postgres
from engramdb.store.side import AuditRecord
from engramdb.store.sqlite.auditfile import SqliteAuditLog

__all__ = [
    "AUDIT_FILENAME",
    "LOCAL_ACTOR",
    "MCP_STDIO_ACTOR",
    "UNKNOWN_ACTOR",
    "AuditLog",
    "AuditRecord",
    "SqliteAuditLog",
    "append_beside",
    "audit_path",
    "audit_table",
    "id_or_none",
    "namespace_or_none",
    "record",
]

AUDIT_FILENAME = "audit.db"
#: The person at the keyboard: CLI commands.
LOCAL_ACTOR = "local"
#: The client of ``engram mcp``, a process the local user started.
MCP_STDIO_ACTOR = "mcp-stdio"
#: A request refused with 401 whose header named no well-formed key.
UNKNOWN_ACTOR = "unknown"

# The library's shapes of a memory id and a namespace (engramdb.validation). An edge
# that records what a caller sent, before the library checked it, keeps only values
# of these shapes: text sent where an id or a namespace belongs never reaches the log.
_ID = re.compile(r"[0-9a-f]{32}")
_NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")


class AuditLog(Protocol):
    """An audit log, a file beside a SQLite store or a table of a PostgreSQL store."""

    def append(self, record: AuditRecord) -> None: ...

    def entries(
        self,
        *,
        namespace: str | None = None,
        since: datetime | None = None,
        last: int | None = None,
    ) -> list[AuditRecord]: ...

    def problems(self) -> list[str]: ...

    def close(self) -> None: ...


def id_or_none(value: str | None) -> str | None:
    """``value`` when it has the shape of a memory id, else None."""
    return value if value is not None and _ID.fullmatch(value) else None


def namespace_or_none(value: str | None) -> str | None:
    """``value`` when it has the shape of a namespace, else None."""
    return value if value is not None and _NAMESPACE.fullmatch(value) else None


def audit_path(store_path: str) -> str | None:
    """Where a store's audit log lives, or None where there is no place beside it; a
    PostgreSQL store's in its own schema (its URL: docs/scaling.md)."""
    if is_postgres(store_path):
        return store_path
    if store_path == ":memory:" or "://" in store_path:
        return None
    path = Path(store_path)
    if path.suffix in {".db", ".sqlite", ".sqlite3"} or path.is_file():
        return str(path.with_name(path.stem + ".audit.db"))
    return str(path / AUDIT_FILENAME)


def append_beside(store_path: str, entry: AuditRecord) -> None:
    """Append one entry to the store's audit log, opened for it (nothing for ``:memory:``)."""
    where = audit_path(store_path)
    if where is None:
        return
    log = audit_table(where)
    try:
        log.append(entry)
    finally:
        log.close()


def record(
    store_path: str,
    action: str,
    namespace: str | None,
    *,
    actor: str = LOCAL_ACTOR,
    target: str | None = None,
    count: int | None = None,
) -> None:
    """Append one local entry, stamped now, to the store's audit log."""
    append_beside(
        store_path,
        AuditRecord(
            at=datetime.now(timezone.utc),
            actor=actor,
            action=action,
            namespace=namespace,
            target=target,
            count=count,
        ),
    )
