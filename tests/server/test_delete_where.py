"""POST .../delete-where, the Client's delete_where and the MCP delete_where tool:
the same report, access levels, refusals as 4xx, and an audit entry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import mcp
import pytest
from fastapi.testclient import TestClient

from audited import audit_entries, audited_server
from engramdb import Client, Deletion, InvalidInputError, Memory
from engramdb.server.mcp import build_mcp
from engramdb.testing.fakes import HashEmbedder
from in_process import InProcess

from .conftest import AppKeys, bearer

App = Callable[..., tuple[TestClient, Memory, AppKeys]]
ALICE = "/v1/namespaces/alice"
ITEMS = [
    {"text": "Maya: I moved to Lisbon.", "speaker": "Maya", "metadata": {"topic": "home"}},
    {"text": "Tom: I like chess.", "speaker": "Tom", "metadata": {"topic": "play"}},
    {"text": "Maya: my sister is Ana.", "speaker": "Maya", "metadata": {"topic": "family"}},
]


def test_the_route_and_the_client_dry_run_then_delete(make_app: App) -> None:
    client, memory, keys = make_app()
    added = memory.add_many(ITEMS, namespace="alice")
    memory.add_many(ITEMS, namespace="bob")
    body = {"where": {"speaker": "Maya"}, "dry_run": True}
    planned = client.post(f"{ALICE}/delete-where", json=body, headers=bearer(keys.alice))
    assert planned.status_code == 200, planned.text
    assert planned.json() == {
        "namespace": "alice",
        "ids": [added[0].id, added[2].id],
        "derived": [],
        "dry_run": True,
    }
    assert memory.stats(namespace="alice").engrams == 3
    with Client("http://testserver", api_key=keys.alice, transport=InProcess(client)) as remote:
        done = remote.delete_where(namespace="alice", where={"speaker": "Maya"}, kinds="episode")
        assert done == Deletion("alice", (added[0].id, added[2].id))
        with pytest.raises(InvalidInputError, match="at least one condition"):
            remote.delete_where(namespace="alice")
    assert [e.text for e in memory.store.iter_engrams("alice")] == ["Tom: I like chess."]
    assert memory.stats(namespace="bob").engrams == 3


def test_bad_filters_are_422_and_other_namespaces_403(make_app: App) -> None:
    client, memory, keys = make_app()
    memory.add_many(ITEMS, namespace="alice")
    refused = [
        ({}, "invalid_request"),  # the schema says: at least one condition
        ({"where": {}}, "invalid_request"),
        ({"where": None, "occurred_after": None}, "invalid_request"),
        ({"where": {"colour": "red"}}, "invalid_input"),
        ({"kinds": ["memo"]}, "invalid_request"),
        ({"kinds": []}, "invalid_request"),
        ({"occurred_before": "2024-01-01T00:00:00"}, "invalid_request"),
        ({"kinds": ["episode"], "dry_run": "yes"}, "invalid_request"),
        ({"kinds": ["episode"], "limit": 3}, "invalid_request"),
    ]
    for body, code in refused:
        response = client.post(f"{ALICE}/delete-where", json=body, headers=bearer(keys.alice))
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == code, body
    some = {"kinds": ["episode"]}
    assert (
        client.post(f"{ALICE}/delete-where", json=some, headers=bearer(keys.reader)).status_code
        == 403
    )
    bob = client.post("/v1/namespaces/bob/delete-where", json=some, headers=bearer(keys.alice))
    assert bob.status_code == 403
    assert memory.stats(namespace="alice").engrams == 3


def test_delete_where_is_audited(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with audited_server(store) as served:
        http, memory, key = served.http, served.memory, served.key
        memory.add_many(ITEMS, namespace="alice")
        body = {"where": {"metadata.topic": "play"}}
        assert http.post(f"{ALICE}/delete-where", json=body, headers=bearer(key.token)).is_success
    entries = audit_entries(store)
    assert [(e.actor, e.action, e.namespace, e.status) for e in entries] == [
        (key.key.id, "delete_where", "alice", 200)
    ]


def test_the_mcp_tool_reports_and_deletes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with Memory(str(store), embedder=HashEmbedder()) as memory:
        added = memory.add_many(ITEMS, namespace="n")
        server = build_mcp(memory, namespace="n")

        async def scenario() -> tuple[dict[str, Any], dict[str, Any], bool]:
            async with mcp.Client(server) as client:
                dry = await client.call_tool(
                    "delete_where", {"where": {"speaker": "Tom"}, "dry_run": True}
                )
                done = await client.call_tool("delete_where", {"where": {"speaker": "Tom"}})
                empty = await client.call_tool("delete_where", {})
                assert dry.structured_content is not None
                assert done.structured_content is not None
                return dry.structured_content, done.structured_content, empty.is_error

        dry, done, refused = anyio.run(scenario)
        assert dry == {"namespace": "n", "ids": [added[1].id], "derived": [], "dry_run": True}
        assert done == {**dry, "dry_run": False}
        assert refused
        assert memory.stats(namespace="n").engrams == 2
    entries = audit_entries(store)
    # the dry run changed nothing: one entry, for the delete
    assert [(e.action, e.namespace, e.count) for e in entries] == [("delete_where", "n", 1)]
