"""The same verbs on every surface: CLI, HTTP, MCP and Client (docs/context.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import mcp
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from engramdb import Client, Memory, Settings
from engramdb.cli import app as cli_app
from engramdb.cli.state import State
from engramdb.embed import Embedder
from engramdb.security.keys import KeyRing
from engramdb.server.http import ServerOptions, create_app
from engramdb.server.mcp import build_mcp
from in_process import InProcess

from .conftest import T0, TURNS

NOW = T0.isoformat()


def _seed(memory: Memory) -> None:
    memory.add_many(
        [
            {"text": t, "speaker": w, "session": "s1", "occurred_at": T0 + timedelta(minutes=i)}
            for i, (w, t) in enumerate(TURNS)
        ],
        namespace="n",
    )


@pytest.fixture
def cli(tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(
        State, "memory", lambda self: Memory(settings=self.settings, embedder=embedder)
    )
    store = tmp_path / "store"
    with Memory(settings=Settings(path=str(store)), embedder=embedder) as memory:
        _seed(memory)
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        result = runner.invoke(cli_app, ["--store", str(store), *args])
        assert result.exit_code == 0, result.output
        return result

    return invoke


def test_cli_context_working_mood_and_search_context(cli: Any) -> None:
    out = cli("context", "what did she paint?", "-n", "n", "--session", "s1",
              "--budget-tokens", "120", "--now", NOW).output  # fmt: skip
    assert "[working" in out
    doc = json.loads(cli("--json", "context", "painting", "-n", "n", "--now", NOW).output)
    assert doc["tokens"] <= doc["budget_tokens"] == 1000
    assert doc["items"]
    turns = json.loads(cli("--json", "working", "s1", "-n", "n", "--max-turns", "2").output)
    assert [t["text"] for t in turns["turns"]] == [t for _, t in TURNS[-2:]]
    later = (T0 + timedelta(hours=1)).isoformat()
    mood = json.loads(cli("--json", "mood", "-n", "n", "--now", later, "--window-days", "2").output)
    assert mood["memories"] == len(TURNS)
    hits = json.loads(cli("--json", "search", "what is she researching?", "-n", "n", "--limit", "1",
                          "--now", NOW, "--context", "Tell me about Caroline.").output)  # fmt: skip
    assert hits["hits"][0]["engram"]["text"] == "I am researching adoption agencies."
    cli("search", "her sister", "-n", "n", "--context-session", "s1", "--now", NOW)


@pytest.fixture
def http(embedder: Embedder) -> Iterator[tuple[TestClient, str]]:
    with Memory(":memory:", embedder=embedder) as memory, KeyRing(":memory:") as ring:
        _seed(memory)
        token = ring.create(name="admin", namespaces=[], access="admin").token
        application = create_app(
            Settings(path=":memory:"),
            memory=memory,
            keys=ring,
            options=ServerOptions(mcp=False, rate_per_s=0.0),
        )
        with TestClient(application) as client:
            yield client, token


def test_http_context_working_mood_and_search_context(http: tuple[TestClient, str]) -> None:
    client, token = http
    auth = {"Authorization": f"Bearer {token}"}
    body = {"query": "what did she paint?", "session": "s1", "budget_tokens": 100, "now": NOW}
    found = client.post("/v1/namespaces/n/context", json=body, headers=auth).json()
    assert found["tokens"] <= 100
    assert found["items"][-1]["kind"] == "working"
    assert found["text"].splitlines()[-1].startswith("[working")
    working = client.get("/v1/namespaces/n/sessions/s1/working?max_turns=2", headers=auth).json()
    assert len(working["turns"]) == 2
    mood = client.get("/v1/namespaces/n/mood", params={"now": NOW}, headers=auth)
    assert mood.status_code == 200
    assert mood.json()["memories"] >= 1
    search = {"query": "what is she researching?", "limit": 1, "now": NOW,
              "context": ["Tell me about Caroline."]}  # fmt: skip
    hits = client.post("/v1/namespaces/n/search", json=search, headers=auth).json()["hits"]
    assert hits[0]["engram"]["text"] == "I am researching adoption agencies."
    bad = client.post("/v1/namespaces/n/context", json={**body, "budget_tokens": 0}, headers=auth)
    assert bad.status_code == 422

    # the Client over the same app: same methods, same answers
    with Client("http://testserver", api_key=token, transport=InProcess(client)) as remote:
        bundle = remote.context("what did she paint?", namespace="n", session="s1",
                                budget_tokens=100, now=T0)  # fmt: skip
        assert bundle.render() == found["text"]
        assert [t.text for t in remote.working(namespace="n", session="s1", max_turns=2)] == [
            t for _, t in TURNS[-2:]
        ]
        assert remote.mood(namespace="n", now=T0).memories == mood.json()["memories"]
        got = remote.search("what is she researching?", namespace="n", limit=1, now=T0,
                            context=["Tell me about Caroline."])  # fmt: skip
        assert got[0].engram.text == "I am researching adoption agencies."


def test_mcp_context_tool(embedder: Embedder) -> None:
    with Memory(":memory:", embedder=embedder) as memory:
        _seed(memory)
        server = build_mcp(memory, namespace="n")

        async def scenario() -> dict[str, Any]:
            async with mcp.Client(server) as client:
                result = await client.call_tool(
                    "context",
                    {
                        "query": "what did she paint?",
                        "session": "s1",
                        "budget_tokens": 80,
                        "now": NOW,
                    },
                )
                assert not result.is_error, result.content
                recall = await client.call_tool(
                    "recall",
                    {"query": "what is she researching?", "limit": 1, "now": NOW,
                     "context": ["Tell me about Caroline."]},
                )  # fmt: skip
                assert recall.structured_content is not None
                assert recall.structured_content["hits"][0]["engram"]["text"].startswith("I am")
                assert result.structured_content is not None
                return result.structured_content

        found = anyio.run(scenario)
    assert found["tokens"] <= 80
    assert found["items"][-1]["kind"] == "working"
