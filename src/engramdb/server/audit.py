"""The audit log's place and vocabulary; its rows live in ``store.sqlite.audit``.

``audit.db`` sits beside the store like ``keys.db``. The HTTP server appends
one entry per mutating request (``server.http.audit``), the CLI one per local
mutating command it runs (actor ``"local"``); ``engram audit`` reads them.
An entry never holds memory content (issue 8, docs/security.md).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from engramdb.store.sqlite.audit import AuditRecord, SqliteAuditLog

__all__ = ["AUDIT_FILENAME", "LOCAL_ACTOR", "AuditRecord", "SqliteAuditLog", "audit_path", "record"]

AUDIT_FILENAME = "audit.db"
LOCAL_ACTOR = "local"


def audit_path(store_path: str) -> str | None:
    """Where a store's audit log lives, or None where there is no place beside it."""
    if store_path == ":memory:" or "://" in store_path:
        return None
    path = Path(store_path)
    if path.suffix in {".db", ".sqlite", ".sqlite3"} or path.is_file():
        return str(path.with_name(path.stem + ".audit.db"))
    return str(path / AUDIT_FILENAME)


def record(
    store_path: str,
    action: str,
    namespace: str | None,
    *,
    actor: str = LOCAL_ACTOR,
    target: str | None = None,
) -> None:
    """Append one local entry to the store's audit log (nothing for an in-memory store)."""
    where = audit_path(store_path)
    if where is None:
        return
    log = SqliteAuditLog(where)
    try:
        log.append(
            AuditRecord(
                at=datetime.now(timezone.utc),
                actor=actor,
                action=action,
                namespace=namespace,
                target=target,
            )
        )
    finally:
        log.close()
