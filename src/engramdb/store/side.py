"""What a store keeps beside its memories, in the same shape on every backend: API
keys and audit entries.

It owns the rows (``KeyRecord``, ``AuditRecord``) and the audit log's hash chain
(``audit_link``). Where they live is the backend's: files beside a SQLite store
(``store.sqlite.keyfile``, ``store.sqlite.auditfile``), tables in the schema of a
PostgreSQL store, shared by every server on the database
(``store.postgres.sidetables``, docs/scaling.md). Minting and checking keys and
what an audit entry says live in ``engramdb.security``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

__all__ = ["AuditRecord", "KeyRecord", "audit_link"]


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One stored key: its id, label, salted digest and scope."""

    id: str
    name: str
    salt: bytes
    digest: bytes
    namespaces: tuple[str, ...]
    access: str
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audited action.

    ``status`` is the HTTP status (0 for a local command); ``count`` is how many
    memories a batch action wrote (None for a single-memory action).
    """

    at: datetime
    actor: str
    action: str
    namespace: str | None
    target: str | None = None
    status: int = 0
    count: int | None = None


def audit_link(previous: bytes, values: tuple[object, ...]) -> bytes:
    """The chain's link of an entry: SHA-256 over the link before it and the entry."""
    entry = json.dumps(list(values), ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(previous + entry).digest()
