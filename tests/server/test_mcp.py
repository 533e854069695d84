"""MCP with the official SDK client: over stdio (``engram mcp``) and over streamable HTTP
(``/mcp`` of the live server, with the same API keys as the REST API)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp
import pytest
from mcp.client.streamable_http import streamable_http_client

from engramdb import Memory, NotFoundError
from engramdb.security.audit import AuditRecord, SqliteAuditLog, audit_path
from engramdb.server.mcp import build_mcp

from .conftest import LiveServer

TOOLS = sorted(
    ["consolidate", "context", "delete", "facts", "forget", "history", "recall", "remember",
     "feedback", "weights", "reset_weights",
     "record_experience", "recall_experiences", "teach", "concepts", "retag",
     "delete_where", "list_memories", "pin", "unpin", "profile", "profile_proposals",
     "purge"]
)  # fmt: skip


@asynccontextmanager
async def http_session(server: LiveServer, token: str | None) -> AsyncIterator[mcp.Client]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        mcp.Client(streamable_http_client(f"{server.url}/mcp", http_client=http)) as client,
    ):
        yield client


async def _call(client: mcp.Client, tool: str, **arguments: Any) -> Any:
    result = await client.call_tool(tool, arguments)
    if result.is_error:
        return str(result.content[0].text)  # type: ignore[union-attr]
    return result.structured_content


def test_the_stdio_server_remembers_recalls_and_forgets(tmp_path: Path) -> None:
    params = mcp.StdioServerParameters(
        command=sys.executable,
        args=["-m", "engramdb", "--store", str(tmp_path / "store"), "mcp", "-n", "chat"],
    )

    async def scenario() -> None:
        async with mcp.Client(params) as client:
            tools = await client.list_tools()
            assert sorted(t.name for t in tools.tools) == TOOLS
            remember = next(t for t in tools.tools if t.name == "remember")
            assert list(remember.input_schema["properties"]) == [
                "text",
                "namespace",
                "session",
                "speaker",
                "occurred_at",
                "metadata",
                "importance",
                "emotion",
                "idempotency_key",
                "embed",
                "expires_at",
            ]
            stored = await _call(
                client,
                "remember",
                text="Maya adopted a terrier called Pastel",
                speaker="Maya",
                occurred_at="2024-03-23T10:15:00Z",
                metadata={"dia_id": "D1:3"},
            )
            assert stored["namespace"] == "chat"  # the configured namespace
            found = await _call(
                client, "recall", query="what is the dog called?", now="2024-04-01T00:00:00Z"
            )
            assert found["hits"][0]["engram"]["id"] == stored["id"]
            versions = await _call(client, "history", id=stored["id"])
            assert [v["version"] for v in versions["versions"]] == [1]
            naive = await _call(client, "remember", text="x", occurred_at="2024-03-23T10:15:00")
            assert "timezone" in naive
            assert (await _call(client, "forget", id=stored["id"]))["deleted"] == stored["id"]
            missing = await _call(client, "history", id=stored["id"])
            assert "not_found" in missing

    anyio.run(scenario)


def test_mcp_over_http_uses_the_api_keys(live_server: LiveServer) -> None:
    async def scenario() -> None:
        async with http_session(live_server, live_server.alice) as alice:
            assert sorted(t.name for t in (await alice.list_tools()).tools) == TOOLS
            # no namespace given: the key's own namespace
            stored = await _call(alice, "remember", text="alice keeps her diary under the bed")
            assert stored["namespace"] == "alice"
            found = await _call(alice, "recall", query="where is the diary?")
            assert found["hits"][0]["engram"]["id"] == stored["id"]
            refused = await _call(alice, "recall", query="diary", namespace="bob")
            assert refused.endswith("forbidden: this API key may not read namespace 'bob'")
        async with http_session(live_server, live_server.bob) as bob:
            for tool in ("history", "forget"):
                result = await _call(bob, tool, id=stored["id"], namespace="alice")
                assert "forbidden" in result
                assert "not_found" in await _call(bob, tool, id=stored["id"])
        async with http_session(live_server, live_server.alice) as alice:
            kept = await _call(alice, "history", id=stored["id"])
            assert kept["versions"][0]["text"] == "alice keeps her diary under the bed"

    anyio.run(scenario)


def test_mcp_over_http_without_a_key_is_401(live_server: LiveServer) -> None:
    response = httpx2.post(
        f"{live_server.url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Accept": "application/json, text/event-stream"},
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_mcp_over_http_audits_each_write_as_its_key_without_content(
    live_server: LiveServer,
) -> None:
    canary = "Quillowmarsh keeps the spare key under the heron statue"
    alice_id, bob_id = (token.split("_")[1] for token in (live_server.alice, live_server.bob))

    async def scenario() -> tuple[str, int]:
        async with http_session(live_server, live_server.alice) as alice:
            stored = await _call(alice, "remember", text=canary, metadata={"m": canary})
            await _call(alice, "recall", query=canary)  # a read: not audited
            report = await _call(alice, "consolidate")
        async with http_session(live_server, live_server.bob) as bob:
            assert "forbidden" in await _call(bob, "forget", id=stored["id"], namespace="alice")
        async with http_session(live_server, live_server.alice) as alice:
            await _call(alice, "forget", id=stored["id"])
            assert "not_found" in await _call(alice, "forget", id=stored["id"])
            assert "invalid" in await _call(alice, "forget", id=canary)
        return stored["id"], report["facts"] + report["summaries"]

    engram_id, written = anyio.run(scenario)
    where = audit_path(str(live_server.store))
    assert where is not None
    log = SqliteAuditLog(where)
    entries = log.entries()
    log.close()
    start = next(i for i, e in enumerate(entries) if e.target == engram_id)
    entries = entries[: start + 6]
    assert [
        (e.actor, e.action, e.namespace, e.target, e.status, e.count) for e in entries[start:]
    ] == [
        (alice_id, "add", "alice", engram_id, 201, None),
        (alice_id, "consolidate", "alice", None, 200, written),
        (bob_id, "delete", "alice", engram_id, 403, None),
        (alice_id, "delete", "alice", engram_id, 200, None),
        (alice_id, "delete", "alice", engram_id, 404, None),
        (alice_id, "delete", "alice", None, 422, None),  # text where an id belongs: left out
    ]
    for file in Path(where).parent.glob(Path(where).name + "*"):
        assert b"quillowmarsh" not in file.read_bytes().lower()


def test_remember_takes_importance_and_emotion_as_the_library_does(embedder: Any) -> None:
    with Memory(":memory:", embedder=embedder) as memory:

        async def scenario() -> tuple[Any, Any]:
            async with mcp.Client(build_mcp(memory)) as client:
                chosen = await _call(
                    client, "remember", text="We moved house today", importance=0.9, emotion="joy"
                )
                refused = await _call(client, "remember", text="x", emotion="glee")
                return chosen, refused

        chosen, refused = anyio.run(scenario)
        stored = memory.get(chosen["id"])
    assert (chosen["importance"], chosen["emotion"]) == (0.9, "joy")
    assert (stored.importance, stored.emotion) == (0.9, "joy")
    assert "invalid_input: emotion must be one of" in refused


def test_forget_is_a_deprecated_alias_of_delete(embedder: Any) -> None:
    # docs/server.md: the MCP tool that deletes one memory is ``delete``; its old name
    # ``forget`` answers, checks and is audited the same way for one release.
    entries: list[AuditRecord] = []
    with Memory(":memory:", embedder=embedder) as memory:

        async def scenario() -> tuple[dict[str, Any], list[Any]]:
            async with mcp.Client(build_mcp(memory, namespace="chat", audit=entries.append)) as c:
                tools = {t.name: t for t in (await c.list_tools()).tools}
                first = await _call(c, "remember", text="Maya's locker code is 4512")
                second = await _call(c, "remember", text="Maya parks on level 3")
                answers = [
                    await _call(c, "delete", id=first["id"]),
                    await _call(c, "forget", id=second["id"]),
                    await _call(c, "delete", id=second["id"]),
                    await _call(c, "forget", id=first["id"]),
                    await _call(c, "forget", id="not an id"),
                ]
                return tools, [first["id"], second["id"], *answers]

        tools, (first, second, *answers) = anyio.run(scenario)
        for gone in (first, second):
            with pytest.raises(NotFoundError):
                memory.get(gone, namespace="chat")
    delete, forget = tools["delete"], tools["forget"]
    assert forget.input_schema["properties"] == delete.input_schema["properties"]
    assert forget.output_schema == delete.output_schema
    assert str(forget.description).startswith("Deprecated: the old name of `delete`")
    assert answers[:2] == [
        {"deleted": first, "namespace": "chat"},
        {"deleted": second, "namespace": "chat"},
    ]
    assert answers[2].endswith(f": not_found: no memory {second!r} in namespace 'chat'")
    assert answers[3].endswith(f": not_found: no memory {first!r} in namespace 'chat'")
    assert "invalid_input: " in answers[4]
    assert [(e.action, e.target) for e in entries] == [
        ("add", first),
        ("add", second),
        ("delete", first),
        ("delete", second),
    ]
