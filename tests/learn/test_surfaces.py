"""Experiences and concepts on every surface: HTTP, Client, MCP and CLI (docs/learning.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import mcp
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from engramdb import Client, Memory, NotFoundError, Settings
from engramdb.cli import app as cli_app
from engramdb.cli.state import State
from engramdb.embed import Embedder
from engramdb.security.keys import KeyRing
from engramdb.server.http import ServerOptions, create_app
from engramdb.server.mcp import build_mcp
from in_process import InProcess

BUILD = "the build fails because a module is missing"
PETS = ["I took my dog to the vet for his vaccinations", "our cat sleeps on the sofa all day"]
TURNS = ["Max, my puppy, chewed the cat's toy again", "my manager moved the deadline to Friday"]


@pytest.fixture
def http(embedder: Embedder) -> Iterator[tuple[TestClient, dict[str, str], KeyRing]]:
    with Memory(":memory:", embedder=embedder) as memory, KeyRing(":memory:") as ring:
        memory.add_many([{"text": t} for t in TURNS], namespace="n")
        token = ring.create(name="admin", namespaces=[], access="admin").token
        application = create_app(
            Settings(path=":memory:"),
            memory=memory,
            keys=ring,
            options=ServerOptions(mcp=False, rate_per_s=0.0),
        )
        with TestClient(application) as client:
            yield client, {"Authorization": f"Bearer {token}"}, ring


def test_http_routes(http: tuple[TestClient, dict[str, str], KeyRing]) -> None:
    client, auth, _ = http
    body = {"situation": BUILD, "action": "install it", "outcome": "built", "reward": 0.9}
    made = client.post("/v1/namespaces/n/experiences", json=body, headers=auth)
    assert made.status_code == 201, made.text
    assert made.json()["action"] == "install it"
    recall = {"situation": "module not found when building", "limit": 3, "reinforce": False}
    found = client.post("/v1/namespaces/n/experiences/recall", json=recall, headers=auth).json()
    assert found["experiences"][0]["experience"]["reward"] == 0.9
    taught = client.post(
        "/v1/namespaces/n/concepts", json={"concept": "pets", "examples": PETS}, headers=auth
    )
    assert taught.status_code == 201, taught.text
    assert taught.json()["tagged"] == 1
    listed = client.get("/v1/namespaces/n/concepts", headers=auth).json()
    assert [c["name"] for c in listed["concepts"]] == ["pets"]
    retagged = client.post("/v1/namespaces/n/concepts/retag", headers=auth).json()
    assert retagged["concepts"] == listed["concepts"]
    search = {"query": "what happened", "concept": "pets"}
    hits = client.post("/v1/namespaces/n/search", json=search, headers=auth).json()["hits"]
    assert [h["engram"]["text"] for h in hits] == [TURNS[0]]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("experiences", {"situation": BUILD, "action": "x", "reward": 2}, 422),
        ("experiences", {"situation": "", "action": "x", "reward": 0}, 422),
        ("experiences", {"situation": BUILD, "action": "x", "reward": 0, "extra": 1}, 422),
        ("experiences/recall", {"situation": BUILD, "limit": 0}, 422),
        ("concepts", {"concept": "pets", "examples": []}, 422),
        ("concepts", {"concept": "two\nlines", "examples": ["a dog"]}, 422),
        ("search", {"query": "dog", "concept": "unknown"}, 404),
    ],
)
def test_http_refuses_bad_input_with_a_message(
    http: tuple[TestClient, dict[str, str], KeyRing], path: str, body: dict[str, Any], status: int
) -> None:
    client, auth, _ = http
    answer = client.post(f"/v1/namespaces/n/{path}", json=body, headers=auth)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["message"]


def test_a_read_key_cannot_teach_or_record(
    http: tuple[TestClient, dict[str, str], KeyRing],
) -> None:
    client, _, ring = http
    reader = {
        "Authorization": f"Bearer {ring.create(name='r', namespaces=['n'], access='read').token}"
    }
    body = {"situation": BUILD, "action": "x", "reward": 0.5}
    assert client.post("/v1/namespaces/n/experiences", json=body, headers=reader).status_code == 403
    teach = {"concept": "pets", "examples": PETS}
    assert client.post("/v1/namespaces/n/concepts", json=teach, headers=reader).status_code == 403
    assert client.get("/v1/namespaces/n/concepts", headers=reader).status_code == 200


def test_the_client_over_http(http: tuple[TestClient, dict[str, str], KeyRing]) -> None:
    client, auth, _ = http
    token = auth["Authorization"].split()[1]
    with Client("http://testserver", api_key=token, transport=InProcess(client)) as remote:
        remote.record_experience(BUILD, "reboot", "still failing", -0.8, namespace="n")
        remote.record_experience(BUILD, "install it", "built", 0.9, namespace="n")
        hits = remote.recall_experiences("module not found", namespace="n", reinforce=False)
        assert [h.experience.action for h in hits] == ["install it", "reboot"]
        concept = remote.teach("pets", PETS, namespace="n")
        assert (concept.name, concept.tagged, concept.examples) == ("pets", 1, tuple(PETS))
        assert remote.concepts(namespace="n") == [concept]
        assert remote.retag(namespace="n") == [concept]
        found = remote.search("what happened", namespace="n", concept="pets")
        assert [h.engram.text for h in found] == [TURNS[0]]
        with pytest.raises(NotFoundError):
            remote.search("dog", namespace="n", concept="unknown")


def test_mcp_tools(embedder: Embedder) -> None:
    with Memory(":memory:", embedder=embedder) as memory:
        memory.add_many([{"text": t} for t in TURNS], namespace="n")
        server = build_mcp(memory, namespace="n", audit=lambda entry: None)

        async def scenario() -> dict[str, Any]:
            async with mcp.Client(server) as client:
                made = await client.call_tool(
                    "record_experience",
                    {"situation": BUILD, "action": "install it", "reward": 0.9},
                )
                assert not made.is_error, made.content
                recall = await client.call_tool(
                    "recall_experiences", {"situation": "module not found", "reinforce": False}
                )
                taught = await client.call_tool("teach", {"concept": "pets", "examples": PETS})
                assert not taught.is_error, taught.content
                listed = await client.call_tool("concepts", {})
                retagged = await client.call_tool("retag", {})
                hits = await client.call_tool("recall", {"query": "what", "concept": "pets"})
                bad = await client.call_tool("recall", {"query": "what", "concept": "nope"})
                assert bad.is_error
                return {
                    "recall": recall.structured_content,
                    "listed": listed.structured_content,
                    "retagged": retagged.structured_content,
                    "hits": hits.structured_content,
                }

        found = anyio.run(scenario)
    assert found["recall"]["experiences"][0]["experience"]["action"] == "install it"
    assert [c["tagged"] for c in found["listed"]["concepts"]] == [1]
    assert found["retagged"] == found["listed"]
    assert [h["engram"]["text"] for h in found["hits"]["hits"]] == [TURNS[0]]


@pytest.fixture
def cli(tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(
        State, "memory", lambda self: Memory(settings=self.settings, embedder=embedder)
    )
    store = tmp_path / "store"
    with Memory(settings=Settings(path=str(store)), embedder=embedder) as memory:
        memory.add_many([{"text": t} for t in TURNS], namespace="n")
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(cli_app, ["--store", str(store), *args])
        assert result.exit_code == code, result.output
        return result

    return invoke


def test_cli_commands(cli: Any) -> None:
    out = cli("record-experience", BUILD, "install it", "--reward", "0.9", "-n", "n").output
    assert "recorded in 'n'" in out
    doc = json.loads(cli("--json", "recall-experiences", "module not found", "-n", "n").output)
    assert doc["experiences"][0]["experience"]["action"] == "install it"
    assert "install it" in cli("recall-experiences", "module not found", "-n", "n").output
    assert "pets: 2 examples, 1 memories tagged" in cli("teach", "pets", *PETS, "-n", "n").output
    listed = json.loads(cli("--json", "concepts", "-n", "n").output)
    assert [c["name"] for c in listed["concepts"]] == ["pets"]
    assert "pets: 2 examples" in cli("retag", "-n", "n").output
    found = json.loads(cli("--json", "search", "what", "-n", "n", "--concept", "pets").output)
    assert [h["engram"]["text"] for h in found["hits"]] == [TURNS[0]]
    # bad input: one line and the documented exit code
    bad = cli("record-experience", BUILD, "x", "--reward", "3", "-n", "n", code=2)
    assert "reward" in bad.output
    assert "no concept" in cli("search", "what", "-n", "n", "--concept", "nope", code=3).output
