"""The audit log: every mutating request leaves who/what/where/when, never content.

Each surface is driven for real (the CLI, the FastAPI app, ``engram mcp`` over
stdio with the MCP SDK client; MCP over HTTP is in tests/server/test_mcp.py),
then every byte of ``audit.db`` and its -wal/-shm is scanned for the canary.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio
import mcp
import pytest
from typer.testing import CliRunner, Result

from audited import audit_entries, audited_server
from engramdb import Memory
from engramdb.cli import app as cli_app
from engramdb.cli.state import State
from engramdb.embed import Embedder
from engramdb.errors import StoreError
from engramdb.security.audit import AuditRecord, SqliteAuditLog, audit_path
from engramdb.testing.fakes import HashEmbedder

CANARY = "Vorpalquince lives at 12 Grimwald Lane"
SECRET_META = "grimwald-meta-canary"
Invoke = Callable[..., Result]


def assert_no_content(store: Path, *needles: str) -> None:
    """No needle (ASCII case ignored) in any byte of the audit log's files."""
    where = audit_path(str(store))
    assert where is not None
    files = list(Path(where).parent.glob(Path(where).name + "*"))
    assert files
    for file in files:
        data = file.read_bytes().lower()
        for needle in (CANARY, SECRET_META, *needles):
            assert needle.lower().encode() not in data, (needle, file)


def rows(entries: list[AuditRecord]) -> list[tuple[Any, ...]]:
    return [(e.actor, e.action, e.namespace, e.target, e.status, e.count) for e in entries]


def test_http_writes_are_audited_without_content(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with audited_server(store) as served:
        http, auth, key = served.http, served.auth, served.key
        added = http.post("/v1/namespaces/alice/engrams", json={"text": CANARY}, headers=auth)
        assert added.status_code == 201
        engram_id = added.json()["id"]
        assert http.post(
            "/v1/namespaces/alice/search", json={"query": CANARY}, headers=auth
        ).is_success
        assert http.delete(f"/v1/namespaces/alice/engrams/{engram_id}", headers=auth).is_success
        assert http.delete("/v1/namespaces/bob", headers=auth).status_code == 403
        assert http.delete("/v1/namespaces/alice", headers=auth).is_success
    entries = audit_entries(store)
    assert [(e.actor, e.action, e.namespace, e.target, e.status) for e in entries] == [
        (key.key.id, "add", "alice", None, 201),
        (key.key.id, "delete", "alice", engram_id, 200),
        (key.key.id, "forget_namespace", "bob", None, 403),
        (key.key.id, "forget_namespace", "alice", None, 200),
    ]
    for file in Path(str(audit_path(str(store)))).parent.glob("audit.db*"):
        assert b"vorpalquince" not in file.read_bytes().lower()


def test_the_audit_log_is_append_only(tmp_path: Path) -> None:
    log = SqliteAuditLog(tmp_path / "audit.db")
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


@pytest.fixture
def cli(tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Run ``engram --store <tmp>/store ...`` with the session's embedder."""

    def memory(self: State) -> Memory:
        return Memory(settings=self.settings, embedder=embedder)

    monkeypatch.setattr(State, "memory", memory)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        result = runner.invoke(cli_app, ["--store", str(tmp_path / "store"), *args])
        assert result.exit_code == 0, result.output
        return result

    return invoke


def test_every_cli_write_command_is_audited_once_without_content(
    tmp_path: Path, cli: Invoke
) -> None:
    store = tmp_path / "store"
    meta = json.dumps({"note": SECRET_META})
    added = json.loads(cli("--json", "add", CANARY, "-n", "n1", "--metadata", meta).stdout)
    cli("update", added["id"], "-n", "n1", "--text", CANARY + " now", "--metadata", meta)
    items = tmp_path / "items.jsonl"
    items.write_text(
        "".join(
            json.dumps({"text": f"{CANARY} #{i}", "namespace": ns, "metadata": {"m": SECRET_META}})
            + "\n"
            for i, ns in enumerate(["n1", "n1", "n1", "n2"])
        ),
        encoding="utf-8",
    )
    cli("import", str(items))
    consolidated = json.loads(cli("--json", "consolidate", "-n", "n1", "--no-progress").stdout)
    (report,) = consolidated["reports"]
    backup = tmp_path / "backup.db"
    cli("backup", str(backup))
    cli("restore", str(backup), "--force")
    cli("search", CANARY, "-n", "n1")  # a read: not audited
    cli("delete", added["id"], "-n", "n1")
    cli("forget-namespace", "n2", "--yes")

    assert rows(audit_entries(store)) == [
        ("local", "add", "n1", added["id"], 0, None),
        ("local", "update", "n1", added["id"], 0, None),
        ("local", "import", "n1", None, 0, 3),
        ("local", "import", "n2", None, 0, 1),
        ("local", "consolidate", "n1", None, 0, report["facts"] + report["summaries"]),
        ("local", "restore", None, None, 0, 5),
        ("local", "delete", "n1", added["id"], 0, None),
        ("local", "forget_namespace", "n2", None, 0, None),
    ]
    shown = json.loads(cli("--json", "audit", "-n", "n1").stdout)["entries"]
    assert [(e["action"], e["count"]) for e in shown][2] == ("import", 3)
    assert "restore - (5 memories)" in cli("audit").stdout
    assert_no_content(store)


def test_a_failed_cli_write_leaves_no_entry(tmp_path: Path, cli: Invoke) -> None:
    runner = CliRunner()
    store = tmp_path / "store"
    cli("add", "something", "-n", "n1")
    refused = runner.invoke(
        cli_app, ["--store", str(store), "update", "0" * 32, "-n", "n1", "--text", CANARY]
    )
    assert refused.exit_code != 0
    assert [e.action for e in audit_entries(store)] == ["add"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_requests_refused_for_a_bad_key_are_audited_without_the_token(tmp_path: Path) -> None:
    store = tmp_path / "store"
    forged = "eng_0123456789ab_" + "f" * 48
    body = {"text": CANARY, "metadata": {"m": SECRET_META}}
    with audited_server(store, name="old", mcp=True) as served:
        http, revoked = served.http, served.key
        served.ring.revoke(revoked.key.id)
        for headers in ({}, _bearer(forged), _bearer(revoked.token), {"Authorization": "x y"}):
            answer = http.post("/v1/namespaces/alice/engrams", json=body, headers=headers)
            assert answer.status_code == 401
        assert http.post("/v1/namespaces/alice/search", json={"query": CANARY}).status_code == 401
        refused = http.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Accept": "application/json, text/event-stream", **_bearer(forged)},
        )
        assert refused.status_code == 401
    # one entry per refused write or /mcp request; the refused read is not one
    assert rows(audit_entries(store)) == [
        ("unknown", "add", "alice", None, 401, None),
        ("0123456789ab", "add", "alice", None, 401, None),
        (revoked.key.id, "add", "alice", None, 401, None),
        ("unknown", "add", "alice", None, 401, None),
        ("0123456789ab", "mcp", None, None, 401, None),
    ]
    assert_no_content(store, "f" * 48, revoked.token)


def test_mcp_stdio_tool_calls_are_audited_without_content(tmp_path: Path) -> None:
    store = tmp_path / "store"
    params = mcp.StdioServerParameters(
        command=sys.executable,
        args=["-m", "engramdb", "--store", str(store), "mcp", "-n", "chat"],
    )

    async def scenario() -> tuple[str, int]:
        async with mcp.Client(params) as client:
            stored = await client.call_tool(
                "remember", {"text": CANARY, "metadata": {"m": SECRET_META}}
            )
            assert stored.structured_content is not None
            engram_id = str(stored.structured_content["id"])
            recalled = await client.call_tool("recall", {"query": CANARY})
            assert not recalled.is_error
            report = await client.call_tool("consolidate", {})
            content = report.structured_content
            assert content is not None
            assert not (await client.call_tool("forget", {"id": engram_id})).is_error
            missing = await client.call_tool("forget", {"id": engram_id})
            assert missing.is_error  # a failed local call: no entry, as with the CLI
            return engram_id, content["facts"] + content["summaries"]

    engram_id, written = anyio.run(scenario)
    assert rows(audit_entries(store)) == [
        ("mcp-stdio", "add", "chat", engram_id, 0, None),
        ("mcp-stdio", "consolidate", "chat", None, 0, written),
        ("mcp-stdio", "delete", "chat", engram_id, 0, None),
    ]
    assert_no_content(store)


_SCHEMA_1 = """
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    namespace TEXT,
    target    TEXT,
    status    INTEGER NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
INSERT INTO audit (at, actor, action, namespace, target, status)
VALUES ('2024-01-01T00:00:00.000000+00:00', 'k1', 'delete', 'ns', 'abc', 200);
PRAGMA user_version = 1;
"""


def test_an_audit_log_of_schema_1_gains_the_count_and_keeps_its_entries(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    conn = sqlite3.connect(path)
    conn.executescript(_SCHEMA_1)
    conn.close()
    at = datetime(2024, 2, 1, tzinfo=timezone.utc)
    for _ in range(2):  # the second open finds the step done
        log = SqliteAuditLog(path)
        log.append(AuditRecord(at, "local", "import", "ns", count=7))
        log.close()
    log = SqliteAuditLog(path)
    found = log.entries()
    log.close()
    assert [(e.actor, e.action, e.target, e.status, e.count) for e in found] == [
        ("k1", "delete", "abc", 200, None),
        ("local", "import", None, 0, 7),
        ("local", "import", None, 0, 7),
    ]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit SET count = 0")
    conn.close()


def test_an_audit_log_newer_than_this_engramdb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 4")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        SqliteAuditLog(path)


def test_text_sent_where_an_id_or_namespace_belongs_never_reaches_the_log(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    with audited_server(store, name="admin", namespaces=(), access="admin") as served:
        http, key = served.http, served.key
        wrong_id = http.delete(f"/v1/namespaces/alice/engrams/{CANARY}", headers=_bearer(key.token))
        wrong_ns = http.post(
            f"/v1/namespaces/{CANARY}/engrams", json={"text": "x"}, headers=_bearer(key.token)
        )
        assert wrong_id.status_code == wrong_ns.status_code == 422
    assert rows(audit_entries(store)) == [
        (key.key.id, "delete", "alice", None, 422, None),
        (key.key.id, "add", None, None, 422, None),
    ]
    assert_no_content(store)
