"""Scopes on the served surfaces (docs/scopes.md): ``POST /v1/search`` and ``Client``
search several namespaces within the key's scope (a named namespace outside it is a
403; a prefix reads only what the key covers), ``GET .../engrams`` lists a namespace
page by page, and the MCP tools and the CLI do the same."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anyio
import mcp
import pytest
from fastapi.testclient import TestClient

from engramdb import AccessDeniedError, Client, InvalidInputError, Memory, Settings
from engramdb.embed import Embedder
from engramdb.security.keys import KeyRing
from engramdb.server.http import ServerOptions, create_app
from engramdb.server.mcp import build_mcp
from in_process import InProcess

from .conftest import LiveServer, bearer
from .test_mcp import _call, http_session

T0 = datetime(2024, 1, 1, 9, tzinfo=timezone.utc)
NOW = (T0 + timedelta(days=30)).isoformat()
NAMESPACES = ("org-1:user-1", "org-1:user-2", "org-1:team", "org-2:user-3")
QUERY = "what is the dog called?"


def _seed(memory: Memory) -> None:
    for n, namespace in enumerate(NAMESPACES):
        memory.add_many(
            [
                {
                    "text": f"The dog of {namespace} is called Pet{n}; walk number {i}.",
                    "speaker": "Maya" if i % 2 else "Tom",
                    "occurred_at": T0 + timedelta(days=i),
                    "metadata": {"day": i},
                }
                for i in range(5)
            ],
            namespace=namespace,
        )


class Served:
    def __init__(self, client: TestClient, memory: Memory, tokens: dict[str, str]) -> None:
        self.client = client
        self.memory = memory
        self.tokens = tokens

    def search(self, key: str, **body: Any) -> Any:
        body = {"query": QUERY, "now": NOW, "reinforce": False, "limit": 50, **body}
        return self.client.post("/v1/search", json=body, headers=bearer(self.tokens[key]))

    def list(self, key: str, namespace: str, **body: Any) -> Any:
        return self.client.post(
            f"/v1/namespaces/{namespace}/list", json=body, headers=bearer(self.tokens[key])
        )


@pytest.fixture
def served(embedder: Embedder) -> Iterator[Served]:
    with Memory(":memory:", embedder=embedder) as memory, KeyRing(":memory:") as ring:
        _seed(memory)
        tokens = {
            name: ring.create(name=name, namespaces=scope, access=access).token
            for name, scope, access in (
                ("admin", [], "admin"),
                ("org1", ["org-1:*"], "read"),
                ("users", ["org-1:user-*"], "read"),
                ("one", ["org-1:user-1"], "write"),
            )
        }
        app = create_app(
            Settings(path=":memory:"),
            memory=memory,
            keys=ring,
            options=ServerOptions(mcp=False, rate_per_s=0.0),
        )
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Served(client, memory, tokens)


def _namespaces(answer: Any) -> set[str]:
    assert answer.status_code == 200, answer.text
    return {h["engram"]["namespace"] for h in answer.json()["hits"]}


def test_a_prefix_search_reads_only_what_the_key_covers(served: Served) -> None:
    assert _namespaces(served.search("admin", namespace_prefix="org-")) == set(NAMESPACES)
    assert _namespaces(served.search("org1", namespace_prefix="org-")) == set(NAMESPACES[:3])
    users = served.search("users", namespace_prefix="org-1:")
    assert _namespaces(users) == {"org-1:user-1", "org-1:user-2"}
    assert users.json()["namespaces"] == ["org-1:user-1", "org-1:user-2"]
    assert _namespaces(served.search("one", namespace_prefix="org-")) == {"org-1:user-1"}
    assert served.search("one", namespace_prefix="org-2:").json()["hits"] == []


def test_a_named_namespace_outside_the_key_is_a_403(served: Served) -> None:
    answer = served.search("users", namespaces=["org-1:user-2", "org-1:team"])
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"
    assert "'org-1:team'" in answer.json()["error"]["message"]
    assert "Pet" not in answer.text
    named = served.search("users", namespaces=["org-1:user-2", "org-1:user-1"])
    assert _namespaces(named) == {"org-1:user-1", "org-1:user-2"}


def test_the_merged_hits_rank_by_relevance(served: Served) -> None:
    hits = served.search("admin", namespace_prefix="org-", limit=6).json()["hits"]
    assert [h["rank"] for h in hits] == list(range(1, 7))
    keys = [(-h["relevance"], h["engram"]["namespace"]) for h in hits]
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"namespaces": ["org-1:user-1"], "namespace_prefix": "org-"},
        {"namespaces": ["org 1"]},
        {"namespace_prefix": "org/1"},
        {"namespaces": "org-1:user-1"},
        {"namespaces": [f"n{i}" for i in range(1_001)]},
        {"namespaces": None, "namespace_prefix": "org-"},
    ],
)
def test_a_malformed_scope_is_a_422(served: Served, body: dict[str, Any]) -> None:
    answer = served.search("admin", **body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"


def test_the_list_route_pages_through_a_namespace(served: Served) -> None:
    first = served.list("one", "org-1:user-1", limit=2, descending=True)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [e["metadata"]["day"] for e in page["engrams"]] == [4, 3]
    rest = served.list("one", "org-1:user-1", limit=9, descending=True,
                       cursor=page["next_cursor"]).json()  # fmt: skip
    assert [e["metadata"]["day"] for e in rest["engrams"]] == [2, 1, 0]
    assert rest["next_cursor"] is None
    maya = served.list("org1", "org-1:team", where={"speaker": "Maya"}, order="recorded_at").json()
    assert [e["metadata"]["day"] for e in maya["engrams"]] == [1, 3]
    kinds = served.list("org1", "org-1:team", kinds=["fact", "summary"]).json()
    assert kinds["engrams"] == []


@pytest.mark.parametrize(
    ("key", "namespace", "params", "status", "code"),
    [
        ("users", "org-1:team", {}, 403, "forbidden"),
        ("one", "org-1:user-2", {}, 403, "forbidden"),
        ("org1", "org-1:team", {"where": "{speaker"}, 422, "invalid_request"),
        ("org1", "org-1:team", {"where": [1]}, 422, "invalid_request"),
        ("org1", "org-1:team", {"where": {"text": "x"}}, 422, "invalid_input"),
        ("org1", "org-1:team", {"where": {"speaker": "Tom"}, "wher": 1}, 422, "invalid_request"),
        ("org1", "org-1:team", {"descending": "yes"}, 422, "invalid_request"),
        ("org1", "org-1:team", {"cursor": "a b"}, 422, "invalid_request"),
        ("org1", "org-1:team", {"order": "text"}, 422, "invalid_request"),
        ("org1", "org-1:team", {"limit": 0}, 422, "invalid_request"),
        ("org1", "org-1:team", {"limit": 5000}, 413, "limit_exceeded"),
        ("org1", "org-1:team", {"cursor": "nope"}, 422, "invalid_input"),
        ("org1", "org-1:team", {"kinds": ["memo"]}, 422, "invalid_request"),
    ],
)
def test_a_bad_listing_is_refused_with_a_message(
    served: Served, key: str, namespace: str, params: dict[str, Any], status: int, code: str
) -> None:
    answer = served.list(key, namespace, **params)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert "Pet" not in answer.text


def test_a_cursor_of_another_namespace_is_refused(served: Served) -> None:
    cursor = served.list("org1", "org-1:team", limit=1).json()["next_cursor"]
    answer = served.list("org1", "org-1:user-1", cursor=cursor)
    assert answer.status_code == 422
    assert "another listing" in answer.json()["error"]["message"]


def test_the_client_searches_and_lists_as_memory_does(served: Served) -> None:
    transport = InProcess(served.client)
    local = served.memory
    now = T0 + timedelta(days=30)
    with Client("http://testserver", api_key=served.tokens["org1"], transport=transport) as remote:
        hits = remote.search(QUERY, namespace_prefix="org-", now=now, reinforce=False, limit=9)
        alike = local.search(
            QUERY, namespaces=list(NAMESPACES[:3]), now=now, reinforce=False, limit=9
        )
        assert [(h.engram.id, h.rank) for h in hits] == [(h.engram.id, h.rank) for h in alike]
        named = remote.search(QUERY, namespaces=["org-1:team"], now=now, reinforce=False)
        assert {h.engram.namespace for h in named} == {"org-1:team"}
        with pytest.raises(AccessDeniedError, match="org-2:user-3"):
            remote.search(QUERY, namespaces=["org-2:user-3"])
        with pytest.raises(InvalidInputError, match="not both"):
            remote.search(QUERY, namespace="org-1:team", namespaces=["org-1:team"])
        page = remote.list(namespace="org-1:team", limit=3, where={"metadata.day": {"$gte": 1}})
        assert page == local.list(namespace="org-1:team", limit=3,
                                  where={"metadata.day": {"$gte": 1}})  # fmt: skip
        assert page.next_cursor is not None
        rest = remote.list(namespace="org-1:team", limit=3, cursor=page.next_cursor,
                           where={"metadata.day": {"$gte": 1}})  # fmt: skip
        assert [e.metadata["day"] for e in page.engrams + rest.engrams] == [1, 2, 3, 4]
        latest = remote.list(namespace="org-1:team", descending=True, kinds="episode",
                             occurred_before=T0 + timedelta(days=2))  # fmt: skip
        assert [e.metadata["day"] for e in latest.engrams] == [1, 0]
        with pytest.raises(InvalidInputError, match="another listing"):
            remote.list(namespace="org-1:user-1", cursor=page.next_cursor)


def _tool(memory: Memory, tool: str, **arguments: Any) -> Any:
    async def call() -> Any:
        async with mcp.Client(build_mcp(memory)) as client:
            result = await client.call_tool(tool, arguments)
            return str(result.content[0].text) if result.is_error else result.structured_content  # type: ignore[union-attr]

    return anyio.run(call)


def test_the_mcp_tools_search_several_and_list(served: Served) -> None:
    found = _tool(served.memory, "recall", query=QUERY, namespace_prefix="org-1:", now=NOW,
                  reinforce=False, limit=30)  # fmt: skip
    assert found["namespaces"] == sorted(NAMESPACES[:3])
    assert found["namespace"] is None
    assert {h["engram"]["namespace"] for h in found["hits"]} == set(NAMESPACES[:3])
    refused = _tool(served.memory, "recall", query=QUERY, namespace="x", namespaces=["y"])
    assert "invalid_input: give namespace" in refused
    page = _tool(served.memory, "list_memories", namespace="org-2:user-3", limit=3)
    assert [e["metadata"]["day"] for e in page["engrams"]] == [0, 1, 2]
    rest = _tool(served.memory, "list_memories", namespace="org-2:user-3",
                 cursor=page["next_cursor"])  # fmt: skip
    assert [e["metadata"]["day"] for e in rest["engrams"]] == [3, 4]
    assert rest["next_cursor"] is None


def test_mcp_over_http_searches_only_what_the_key_covers(live_server: LiveServer) -> None:
    """The live server's "alice" key writes "alice" only (tests/server/conftest.py)."""

    async def scenario() -> None:
        async with http_session(live_server, live_server.admin) as admin:
            for namespace in ("alice", "bob"):
                await _call(admin, "remember", text=f"{namespace} keeps a parrot called Kiwi",
                            namespace=namespace)  # fmt: skip
        async with http_session(live_server, live_server.alice) as alice:
            found = await _call(alice, "recall", query="parrot", namespace_prefix="a")
            assert found["namespaces"] == ["alice"]
            assert {h["engram"]["namespace"] for h in found["hits"]} == {"alice"}
            wide = await _call(alice, "recall", query="parrot", namespace_prefix="b")
            assert wide["hits"] == []
            refused = await _call(alice, "recall", query="parrot", namespaces=["alice", "bob"])
            assert "forbidden" in refused
            assert "'bob'" in refused
            listed = await _call(alice, "list_memories", namespace="bob")
            assert "forbidden" in listed

    anyio.run(scenario)


def test_the_cli_searches_several_and_lists(tmp_path: Path, embedder: Embedder) -> None:
    from typer.testing import CliRunner

    from engramdb.cli import app
    from engramdb.cli.state import State

    store = tmp_path / "store"
    with Memory(str(store), embedder=embedder) as memory:
        _seed(memory)
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(State, "memory", lambda self: Memory(settings=self.settings,
                                                           embedder=embedder))  # fmt: skip

        def engram(*args: str) -> Any:
            return runner.invoke(app, ["--store", str(store), *args])

        found = engram("--json", "search", QUERY, "--namespace-prefix", "org-1:", "--limit", "30")
        assert found.exit_code == 0, found.output
        document = json.loads(found.stdout)
        assert document["namespace_prefix"] == "org-1:"
        assert {h["engram"]["namespace"] for h in document["hits"]} == set(NAMESPACES[:3])
        text = engram("search", QUERY, "--namespaces", "org-2:user-3", "--namespaces", "org-1:team")
        assert text.exit_code == 0, text.output
        assert "org-2:user-3" in text.stdout
        assert "org-1:team" in text.stdout
        both = engram("search", QUERY, "-n", "org-1:team", "--namespaces", "org-1:team")
        assert both.exit_code == 2
        listed = engram("list", "-n", "org-1:team", "--limit", "2", "--descending")
        assert listed.exit_code == 0, listed.output
        assert "walk number 4" in listed.stdout.splitlines()[0]
        cursor = listed.stderr.strip().rsplit(" ", 1)[-1]
        rest = engram("--json", "list", "-n", "org-1:team", "--limit", "2", "--descending",
                      "--cursor", cursor)  # fmt: skip
        assert [e["metadata"]["day"] for e in json.loads(rest.stdout)["engrams"]] == [2, 1]
        stale = engram("list", "-n", "org-1:user-1", "--cursor", cursor)
        assert stale.exit_code == 2
        assert "another listing" in stale.output
