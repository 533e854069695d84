"""A server over a file store with one API key, and the audit log it leaves beside the
store, read back (docs/security.md, "Audit"): what the tests of each audited route share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from engramdb import Memory, Settings
from engramdb.security.audit import AuditRecord, SqliteAuditLog, audit_path
from engramdb.security.keys import Access, KeyRing, NewKey
from engramdb.server.http.app import create_app
from engramdb.server.options import ServerOptions
from engramdb.testing.fakes import HashEmbedder


@dataclass(frozen=True)
class Audited:
    """The app's client, its memory and its one key (with the ring, to make more)."""

    http: TestClient
    memory: Memory
    ring: KeyRing
    key: NewKey

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key.token}"}


@contextmanager
def audited_server(
    store: Path,
    *,
    name: str = "alice",
    namespaces: tuple[str, ...] = ("alice",),
    access: Access = "write",
    mcp: bool = False,
) -> Iterator[Audited]:
    """An app over the file store ``store`` (its audit log beside it), with one key of
    ``access`` to ``namespaces`` and no rate limit; the memory and the ring are closed
    after, so the log can be read whole (``audit_entries``)."""
    memory = Memory(str(store), embedder=HashEmbedder())
    ring = KeyRing(":memory:")
    try:
        key = ring.create(name=name, namespaces=list(namespaces), access=access)
        app = create_app(
            Settings(path=str(store)),
            memory=memory,
            keys=ring,
            options=ServerOptions(mcp=mcp, rate_per_s=0.0),
        )
        with TestClient(app) as http:
            yield Audited(http, memory, ring, key)
    finally:
        memory.close()
        ring.close()


def audit_entries(store: Path | str) -> list[AuditRecord]:
    """Every entry of the audit log of the file store ``store``, as the log lists them."""
    where = audit_path(str(store))
    assert where is not None
    log = SqliteAuditLog(where)
    try:
        return log.entries()
    finally:
        log.close()
