"""The relevance floor on the served surfaces (docs/recall.md, "Relevance"): every hit
of the REST routes, ``Client`` and the MCP tools carries its relevance, and
``min_relevance`` answers an unrelated question with nothing, as ``Memory`` does; a
floor outside 0 to 1 is refused. The real packaged model, since relevance is
calibrated on it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import anyio
import httpx
import mcp
import pytest
from fastapi.testclient import TestClient

from engramdb import Client, InvalidInputError, Memory
from engramdb.server.mcp import build_mcp
from in_process import InProcess

from .conftest import AppKeys, bearer

NOW = "2024-05-01T00:00:00Z"
UNRELATED = "When is the tax deadline?"
RELATED = "What is Maya's dog called?"


@pytest.fixture
def pets(
    make_app: Callable[..., tuple[TestClient, Memory, AppKeys]],
) -> tuple[TestClient, Memory, AppKeys]:
    client, memory, keys = make_app()
    memory.add("I adopted a rescue dog called Pastel.", namespace="alice", speaker="Maya",
               session="s1", occurred_at=datetime(2024, 3, 23, tzinfo=timezone.utc))  # fmt: skip
    return client, memory, keys


def _search(client: TestClient, token: str, **body: Any) -> httpx.Response:
    body = {"now": NOW, "reinforce": False} | body
    return client.post("/v1/namespaces/alice/search", json=body, headers=bearer(token))


def test_http_hits_carry_their_relevance_and_the_floor_leaves_nothing_unrelated(
    pets: tuple[TestClient, Memory, AppKeys],
) -> None:
    client, _memory, keys = pets
    (hit,) = _search(client, keys.alice, query=UNRELATED).json()["hits"]
    assert hit["score"] == pytest.approx(1.0)
    assert 0.0 <= hit["relevance"] < 0.5
    assert _search(client, keys.alice, query=UNRELATED, min_relevance=0.5).json()["hits"] == []
    (kept,) = _search(client, keys.alice, query=RELATED, min_relevance=0.5).json()["hits"]
    assert kept["relevance"] >= 0.5
    body = {"query": UNRELATED, "now": NOW, "min_relevance": 0.5}
    bundle = client.post("/v1/namespaces/alice/context", json=body, headers=bearer(keys.alice))
    assert bundle.status_code == 200, bundle.text
    assert [i for i in bundle.json()["items"] if i["kind"] == "episode"] == []


@pytest.mark.parametrize("bad", [1.5, -0.5, "0.5", True])
def test_http_refuses_a_floor_outside_zero_to_one(
    pets: tuple[TestClient, Memory, AppKeys], bad: object
) -> None:
    client, _memory, keys = pets
    answer = _search(client, keys.alice, query=RELATED, min_relevance=bad)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"
    assert "min_relevance" in answer.json()["error"]["message"]


def test_the_openapi_document_bounds_the_floor(pets: tuple[TestClient, Memory, AppKeys]) -> None:
    client, _memory, _keys = pets
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("SearchIn", "ContextIn"):
        floor = schemas[name]["properties"]["min_relevance"]
        assert (floor["type"], floor["minimum"], floor["maximum"]) == ("number", 0, 1), name
    assert "relevance" in schemas["HitOut"]["required"]


def test_the_client_reads_relevance_and_takes_the_floor_as_memory_does(
    pets: tuple[TestClient, Memory, AppKeys],
) -> None:
    client, memory, keys = pets
    now = datetime(2024, 5, 1, tzinfo=timezone.utc)
    local = memory.search(RELATED, namespace="alice", now=now, reinforce=False)
    with Client("http://testserver", api_key=keys.alice, transport=InProcess(client)) as remote:
        hits = remote.search(RELATED, namespace="alice", now=now, reinforce=False)
        assert [h.relevance for h in hits] == [h.relevance for h in local]
        assert remote.search(UNRELATED, namespace="alice", now=now, min_relevance=0.5) == []
        bundle = remote.context(UNRELATED, namespace="alice", now=now, min_relevance=0.5)
        assert not [i for i in bundle.items if i.kind == "episode"]
        with pytest.raises(InvalidInputError, match="min_relevance"):
            remote.search(RELATED, namespace="alice", min_relevance=2.0)


def _tool(memory: Memory, tool: str, **arguments: Any) -> Any:
    async def call() -> Any:
        async with mcp.Client(build_mcp(memory, namespace="alice")) as client:
            result = await client.call_tool(tool, arguments)
            if result.is_error:
                return str(result.content[0].text)  # type: ignore[union-attr]
            return result.structured_content

    return anyio.run(call)


def test_the_mcp_tools_take_the_floor(pets: tuple[TestClient, Memory, AppKeys]) -> None:
    _client, memory, _keys = pets
    (hit,) = _tool(memory, "recall", query=RELATED, now=NOW, reinforce=False)["hits"]
    assert hit["relevance"] >= 0.5
    found = _tool(memory, "recall", query=UNRELATED, now=NOW, reinforce=False, min_relevance=0.5)
    assert found["hits"] == []
    bundle = _tool(memory, "context", query=UNRELATED, now=NOW, min_relevance=0.5)
    assert [i for i in bundle["items"] if i["kind"] == "episode"] == []
    refused = _tool(memory, "recall", query=RELATED, min_relevance=1.5)
    assert "min_relevance" in refused
