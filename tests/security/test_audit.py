"""The audit log: every mutating request leaves who/what/where/when, never content (issue 8)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from engramdb import Memory, Settings
from engramdb.cli import app as cli_app
from engramdb.server.audit import AuditRecord, SqliteAuditLog, audit_path
from engramdb.server.http.app import create_app
from engramdb.server.keys import KeyRing
from engramdb.server.options import ServerOptions
from engramdb.testing.fakes import HashEmbedder

CANARY = "Vorpalquince lives at 12 Grimwald Lane"


def test_http_writes_are_audited_without_content(tmp_path: Path) -> None:
    store = tmp_path / "store"
    memory = Memory(str(store), embedder=HashEmbedder())
    ring = KeyRing(":memory:")
    key = ring.create(name="alice", namespaces=["alice"], access="write")
    app = create_app(
        Settings(path=str(store)),
        memory=memory,
        keys=ring,
        options=ServerOptions(mcp=False, rate_per_s=0.0),
    )
    auth = {"Authorization": f"Bearer {key.token}"}
    with TestClient(app) as http:
        added = http.post("/v1/namespaces/alice/engrams", json={"text": CANARY}, headers=auth)
        assert added.status_code == 201
        engram_id = added.json()["id"]
        assert http.post(
            "/v1/namespaces/alice/search", json={"query": CANARY}, headers=auth
        ).is_success
        assert http.delete(f"/v1/namespaces/alice/engrams/{engram_id}", headers=auth).is_success
        assert http.delete("/v1/namespaces/bob", headers=auth).status_code == 403
        assert http.delete("/v1/namespaces/alice", headers=auth).is_success
    memory.close()
    ring.close()
    where = audit_path(str(store))
    assert where is not None
    log = SqliteAuditLog(where)
    entries = log.entries()
    log.close()
    assert [(e.actor, e.action, e.namespace, e.target, e.status) for e in entries] == [
        (key.key.id, "add", "alice", None, 201),
        (key.key.id, "delete", "alice", engram_id, 200),
        (key.key.id, "forget_namespace", "bob", None, 403),
        (key.key.id, "forget_namespace", "alice", None, 200),
    ]
    for file in Path(where).parent.glob("audit.db*"):
        assert b"vorpalquince" not in file.read_bytes().lower()


def test_the_audit_log_is_append_only(tmp_path: Path) -> None:
    log = SqliteAuditLog(tmp_path / "audit.db")
    from datetime import datetime, timezone

    log.append(AuditRecord(datetime.now(timezone.utc), "local", "delete", "ns"))
    log.close()
    conn = sqlite3.connect(tmp_path / "audit.db")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit")
    conn.close()


def test_cli_records_local_erasures_and_reads_them_back(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with Memory(str(store), embedder=HashEmbedder()) as mem:
        engram = mem.add(CANARY, namespace="n1")
    runner = CliRunner()
    args = ["--store", str(store)]
    assert runner.invoke(cli_app, [*args, "delete", engram.id, "-n", "n1"]).exit_code == 0
    assert runner.invoke(cli_app, [*args, "forget-namespace", "n2", "--yes"]).exit_code == 0
    shown = runner.invoke(cli_app, [*args, "--json", "audit", "-n", "n1"])
    assert shown.exit_code == 0, shown.output
    assert '"action": "delete"' in shown.output
    assert '"actor": "local"' in shown.output
    assert "forget_namespace" not in shown.output
    later = runner.invoke(cli_app, [*args, "audit", "--since", "2999-01-01T00:00:00Z"])
    assert later.exit_code == 0
    assert later.output == ""
