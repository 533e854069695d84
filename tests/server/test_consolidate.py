"""Consolidation and its facts on every surface: REST routes, MCP tools, Client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import mcp

from engramdb import Client, Fact, Memory
from engramdb.clock import from_iso
from engramdb.server.mcp import build_mcp

from .conftest import LiveServer, bearer

TURNS = [
    {"text": "I live in Boston.", "speaker": "Maya", "occurred_at": "2023-01-02T09:00:00Z"},
    {"text": "I just moved to Denver!", "speaker": "Maya", "occurred_at": "2023-06-02T09:00:00Z"},
]


def test_the_consolidate_route_needs_write_access_and_reports(make_app: Callable[..., Any]) -> None:
    client, _, keys = make_app()
    added = client.post("/v1/namespaces/alice/engrams/batch", json={"items": TURNS},
                        headers=bearer(keys.alice))  # fmt: skip
    assert added.status_code == 201
    refused = client.post("/v1/namespaces/alice/consolidate", headers=bearer(keys.reader))
    assert refused.status_code == 403
    done = client.post("/v1/namespaces/alice/consolidate", json={"now": "2024-01-01T00:00:00Z"},
                       headers=bearer(keys.alice))  # fmt: skip
    assert done.status_code == 200, done.text
    assert done.json()["episodes"] == 2
    assert done.json()["superseded"] == 1
    again = client.post("/v1/namespaces/alice/consolidate", headers=bearer(keys.alice))
    assert again.json()["episodes"] == 0
    found = client.post("/v1/namespaces/alice/search", headers=bearer(keys.alice),
                        json={"query": "Where does Maya live?", "kinds": ["fact"],
                              "as_of": "2023-03-01T00:00:00Z", "limit": 1})  # fmt: skip
    assert found.status_code == 200, found.text
    assert found.json()["hits"][0]["engram"]["text"] == "Maya lives in Boston"


def test_the_client_consolidates_like_memory(live_server: LiveServer) -> None:
    with Client(live_server.url, api_key=live_server.admin) as client:
        client.add_many(TURNS, namespace="consolidate-client")
        report = client.consolidate(namespace="consolidate-client")
        assert (report.episodes, report.pending) == (2, 0)
        hits = client.search("Where does Maya live?", namespace="consolidate-client", kinds="fact")
        assert hits[0].engram.kind == "fact"


def test_the_mcp_consolidate_tool(embedder: Any) -> None:
    with Memory(":memory:", embedder=embedder) as memory:
        memory.add("I live in Boston.", namespace="default", speaker="Maya")

        async def scenario() -> dict[str, Any]:
            async with mcp.Client(build_mcp(memory)) as client:
                result = await client.call_tool("consolidate", {})
                assert not result.is_error
                return dict(result.structured_content or {})

        report = anyio.run(scenario)
    assert report["episodes"] == 1
    assert report["facts"] == 1


def test_the_facts_route_lists_current_and_past_values_to_a_reader(
    make_app: Callable[..., Any],
) -> None:
    client, _, keys = make_app()
    client.post("/v1/namespaces/alice/engrams/batch", json={"items": TURNS},
                headers=bearer(keys.alice))  # fmt: skip
    facts = "/v1/namespaces/alice/facts"
    assert client.get(facts, headers=bearer(keys.reader)).json() == {
        "namespace": "alice",
        "as_of": None,
        "facts": [],
    }
    client.post("/v1/namespaces/alice/consolidate", headers=bearer(keys.alice))
    listed = client.get(facts, headers=bearer(keys.reader))
    assert listed.status_code == 200, listed.text
    assert [(f["value"], f["status"], f["valid_to"]) for f in listed.json()["facts"]] == [
        ("Boston", "superseded", "2023-06-02T09:00:00Z"),
        ("Denver", "current", None),
    ]
    then = client.get(facts, params={"subject": "Maya", "attribute": "residence",
                                     "as_of": "2023-03-01T00:00:00Z"},
                      headers=bearer(keys.reader))  # fmt: skip
    assert then.json()["as_of"] == "2023-03-01T00:00:00Z"
    assert [f["text"] for f in then.json()["facts"]] == ["Maya lives in Boston"]
    naive = client.get(facts, params={"as_of": "2023-03-01"}, headers=bearer(keys.reader))
    assert (naive.status_code, naive.json()["error"]["code"]) == (422, "invalid_request")
    assert client.get("/v1/namespaces/bob/facts", headers=bearer(keys.reader)).status_code == 403


def test_the_client_and_the_mcp_tool_list_facts_as_memory_does(
    live_server: LiveServer, embedder: Any
) -> None:
    ns = "facts-client"
    with Client(live_server.url, api_key=live_server.admin) as client:
        client.add_many(TURNS, namespace=ns)
        client.consolidate(namespace=ns)
        served = client.facts(namespace=ns, subject="Maya")
    with Memory(":memory:", embedder=embedder) as memory:
        memory.add_many(
            [{**t, "occurred_at": from_iso(str(t["occurred_at"]))} for t in TURNS], namespace=ns
        )
        memory.consolidate(namespace=ns)
        embedded = memory.facts(namespace=ns, subject="Maya")

        async def scenario() -> dict[str, Any]:
            async with mcp.Client(build_mcp(memory, namespace=ns)) as tool:
                result = await tool.call_tool("facts", {"as_of": "2023-07-01T00:00:00Z"})
                assert not result.is_error
                return dict(result.structured_content or {})

        through_mcp = anyio.run(scenario)

    def comparable(fact: Fact) -> tuple[Any, ...]:
        return (fact.subject, fact.attribute, fact.value, fact.valid_from, fact.valid_to,
                fact.status, len(fact.sources))  # fmt: skip

    assert [comparable(f) for f in served] == [comparable(f) for f in embedded]
    assert [type(f) for f in served] == [Fact, Fact]
    assert [f["value"] for f in through_mcp["facts"]] == ["Denver"]
