"""Feedback and weights over HTTP, through ``Client`` and as MCP tools (docs/learning.md):
the same judgements, the same weights, access levels and errors as the REST API says."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import mcp
import pytest
from fastapi.testclient import TestClient

from engramdb import Client, InvalidInputError, Memory, NotFoundError
from engramdb.server.mcp import build_mcp
from in_process import InProcess

from .conftest import AppKeys, bearer

App = Callable[..., tuple[TestClient, Memory, AppKeys]]
ALICE = "/v1/namespaces/alice"
TURNS = [
    "I adopted a grey cat called Miso last week.",
    "I started a new job as a nurse at the city hospital.",
    "My sister Lena is moving to Berlin in May.",
    "The cat sleeps on my keyboard every morning.",
]


def _searched(client: TestClient, token: str) -> list[dict[str, Any]]:
    items = [{"text": t, "speaker": "Maya"} for t in TURNS]
    client.post(f"{ALICE}/engrams/batch", json={"items": items}, headers=bearer(token))
    found = client.post(
        f"{ALICE}/search",
        json={"query": "what pet does Maya have", "reinforce": False},
        headers=bearer(token),
    )
    hits: list[dict[str, Any]] = found.json()["hits"]
    assert len({h["search_id"] for h in hits}) == 1
    return hits


def test_feedback_over_http_learns_and_weights_and_reset_answer(make_app: App) -> None:
    client, memory, keys = make_app()
    hits = _searched(client, keys.alice)
    judged = [
        client.post(
            f"{ALICE}/feedback",
            json={"search_id": h["search_id"], "engram_id": h["engram"]["id"], "reward": r},
            headers=bearer(keys.alice),
        )
        for h, r in ((hits[2], 1.0), (hits[0], -1.0))
    ]
    assert [j.status_code for j in judged] == [200, 200]
    assert judged[1].json()["engram_id"] == hits[0]["engram"]["id"]
    weights = client.get(f"{ALICE}/weights", headers=bearer(keys.reader))
    assert weights.status_code == 200
    assert weights.json()["learned"] is True
    assert weights.json()["feedback"] == 2
    assert memory.weights(namespace="alice").learned  # the library reads the same rows
    shifts = {s["signal"]: s["shift"] for s in weights.json()["signals"]}
    assert any(abs(v) > 1e-6 for v in shifts.values())
    reset = client.delete(f"{ALICE}/weights", headers=bearer(keys.alice))
    assert reset.status_code == 200
    assert reset.json()["learned"] is False
    assert all(s["shift"] == 0.0 for s in reset.json()["signals"])


def test_feedback_needs_write_access_and_refuses_bad_input_with_a_message(make_app: App) -> None:
    client, _memory, keys = make_app()
    hits = _searched(client, keys.alice)
    body = {"search_id": hits[0]["search_id"], "engram_id": hits[0]["engram"]["id"], "reward": 1}
    assert (
        client.post(f"{ALICE}/feedback", json=body, headers=bearer(keys.reader)).status_code == 403
    )
    assert client.delete(f"{ALICE}/weights", headers=bearer(keys.reader)).status_code == 403
    too_much = client.post(
        f"{ALICE}/feedback", json=body | {"reward": 2}, headers=bearer(keys.alice)
    )
    assert too_much.status_code == 422
    unknown = client.post(
        f"{ALICE}/feedback", json=body | {"search_id": "0" * 32}, headers=bearer(keys.alice)
    )
    assert unknown.status_code == 404
    assert "no recent search" in unknown.json()["error"]["message"]
    malformed = client.post(
        f"{ALICE}/feedback", json=body | {"search_id": "x"}, headers=bearer(keys.alice)
    )
    assert malformed.status_code == 422


def test_the_client_gives_feedback_on_a_hit_as_memory_does(make_app: App) -> None:
    client, memory, keys = make_app()
    _searched(client, keys.alice)
    with Client("http://testserver", api_key=keys.alice, transport=InProcess(client)) as remote:
        hits = remote.search("where does Maya work", namespace="alice", reinforce=False)
        assert hits[0].search_id
        remote.feedback(hits[1], 1.0, namespace="alice")
        told = remote.feedback(
            hits[0].engram.id, -1.0, namespace="alice", search_id=hits[0].search_id
        )
        assert told.reward == -1.0
        assert remote.weights(namespace="alice") == memory.weights(namespace="alice")
        assert remote.weights(namespace="alice").feedback == 2
        with pytest.raises(InvalidInputError, match="reward"):
            remote.feedback(hits[0], 3.0, namespace="alice")
        with pytest.raises(NotFoundError):
            remote.feedback(hits[0].engram.id, 1.0, namespace="alice", search_id="1" * 32)
        assert not remote.reset_weights(namespace="alice").learned


def test_the_mcp_tools_judge_show_and_reset(embedder: Any) -> None:
    with Memory(":memory:", embedder=embedder) as memory:
        memory.add_many([{"text": t, "speaker": "Maya"} for t in TURNS], namespace="alice")

        async def scenario() -> list[Any]:
            async with mcp.Client(build_mcp(memory, namespace="alice", audit=lambda _: None)) as c:
                found = (await c.call_tool("recall", {"query": "Maya's pet"})).structured_content
                assert found is not None
                hits = found["hits"]
                out = []
                for hit, reward in ((hits[1], 1.0), (hits[0], -1.0)):
                    args = {
                        "search_id": hit["search_id"],
                        "memory_id": hit["engram"]["id"],
                        "reward": reward,
                    }
                    out.append((await c.call_tool("feedback", args)).structured_content)
                out.append((await c.call_tool("weights", {})).structured_content)
                out.append((await c.call_tool("reset_weights", {})).structured_content)
                bad = await c.call_tool(
                    "feedback", {"search_id": "0" * 32, "memory_id": "0" * 32, "reward": 1}
                )
                out.append(bad.content[0].text)  # type: ignore[union-attr]
                return out

        first, second, weights, reset, bad = anyio.run(scenario)
    assert first["reward"] == 1.0
    assert second["reward"] == -1.0
    assert weights["learned"] is True
    assert weights["feedback"] == 2
    assert reset["learned"] is False
    assert "not_found" in bad
