"""Repetition, not duplication, over HTTP, the Client and MCP (docs/repetition.md): 201
for a memory stored, 200 with the memory held for a repetition or a replayed
``Idempotency-Key``, 409 for a key reused with other content."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import mcp
import pytest
from fastapi.testclient import TestClient

from engramdb import Client, ConflictError, Memory
from engramdb.server.mcp import build_mcp
from in_process import InProcess

from .conftest import AppKeys, bearer

App = Callable[..., tuple[TestClient, Memory, AppKeys]]
TURN = {"text": "I adopted a dog.", "speaker": "Maya", "occurred_at": "2024-03-23T18:00:00Z"}
URL = "/v1/namespaces/alice/engrams"


def test_a_repeated_add_is_200_with_the_memory_held(make_app: App) -> None:
    client, memory, keys = make_app()
    first = client.post(URL, json=TURN, headers=bearer(keys.alice))
    again = client.post(URL, json=TURN, headers=bearer(keys.alice))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert (first.json()["repeated"], again.json()["repeated"]) == (False, True)
    assert set(again.json()) == set(first.json())  # the same shape
    assert memory.stats(namespace="alice").engrams == 1


def test_the_idempotency_key_header_replays_and_conflicts(make_app: App) -> None:
    client, memory, keys = make_app()
    headers = {**bearer(keys.alice), "Idempotency-Key": "req-7"}
    first = client.post(URL, json={"text": "Booked Lisbon."}, headers=headers)
    replay = client.post(URL, json={"text": "Booked Lisbon."}, headers=headers)
    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.json() == {**first.json(), "repeated": True}
    body = {"text": "Booked Lisbon.", "idempotency_key": "req-7"}  # the same key in the body
    assert client.post(URL, json=body, headers=bearer(keys.alice)).status_code == 200
    conflict = client.post(URL, json={"text": "Booked Rome."}, headers=headers)
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "conflict"
    differ = client.post(URL, json={**body, "idempotency_key": "other"}, headers=headers)
    assert differ.status_code == 409
    assert "differ" in differ.json()["error"]["message"]
    assert memory.stats(namespace="alice").engrams == 1


def test_a_batch_is_201_when_any_item_is_new_and_200_when_none_is(make_app: App) -> None:
    client, memory, keys = make_app()
    items = [TURN, TURN, {"text": "Keyed.", "idempotency_key": "k"}]
    first = client.post(f"{URL}/batch", json={"items": items}, headers=bearer(keys.alice))
    assert first.status_code == 201
    engrams = first.json()["engrams"]
    assert [e["repeated"] for e in engrams] == [False, True, False]
    again = client.post(f"{URL}/batch", json={"items": items}, headers=bearer(keys.alice))
    assert again.status_code == 200
    assert [e["id"] for e in again.json()["engrams"]] == [e["id"] for e in engrams]
    assert memory.stats(namespace="alice").engrams == 2


def test_a_batch_header_keys_each_item_by_its_position(make_app: App) -> None:
    client, memory, keys = make_app()
    headers = {**bearer(keys.alice), "Idempotency-Key": "batch-1"}
    items = [{"text": "one"}, {"text": "two"}]
    first = client.post(f"{URL}/batch", json={"items": items}, headers=headers)
    replay = client.post(f"{URL}/batch", json={"items": items}, headers=headers)
    assert (first.status_code, replay.status_code) == (201, 200)
    assert memory.add("two", namespace="alice", idempotency_key="batch-1/1").repeated
    swapped = client.post(f"{URL}/batch", json={"items": items[::-1]}, headers=headers)
    assert swapped.status_code == 409
    assert memory.stats(namespace="alice").engrams == 2


def test_the_client_says_repeated_and_raises_the_conflict(make_app: App) -> None:
    client, memory, keys = make_app()
    with Client("http://testserver", api_key=keys.alice, transport=InProcess(client)) as remote:
        first = remote.add("Booked Lisbon.", namespace="alice", idempotency_key="c-1")
        replay = remote.add("Booked Lisbon.", namespace="alice", idempotency_key="c-1")
        assert replay.repeated
        assert replay.id == first.id
        with pytest.raises(ConflictError):
            remote.add("Booked Rome.", namespace="alice", idempotency_key="c-1")
        many = remote.add_many(
            [{"text": "Booked Lisbon.", "idempotency_key": "c-1"}, {"text": "Booked Lisbon."}],
            namespace="alice",
        )
        assert [e.repeated for e in many] == [True, True]  # both "now": one experience
        assert many[1].id == first.id
        with pytest.raises(ConflictError):
            remote.add_many([{"text": "x", "idempotency_key": "c-1"}], namespace="alice")
    assert memory.stats(namespace="alice").engrams == 1


def _remember(memory: Memory, **arguments: Any) -> Any:
    async def call() -> Any:
        async with mcp.Client(build_mcp(memory, namespace="alice")) as client:
            result = await client.call_tool("remember", arguments)
            if result.is_error:
                return str(result.content[0].text)  # type: ignore[union-attr]
            return result.structured_content

    return anyio.run(call)


def test_the_remember_tool_says_repeated_and_refuses_a_conflict(make_app: App) -> None:
    _client, memory, _keys = make_app()
    first = _remember(memory, **TURN)
    again = _remember(memory, **TURN)
    assert (first["repeated"], again["repeated"]) == (False, True)
    assert again["id"] == first["id"]
    keyed = _remember(memory, text="Booked Lisbon.", idempotency_key="m-1")
    assert _remember(memory, text="Booked Lisbon.", idempotency_key="m-1")["id"] == keyed["id"]
    refused = _remember(memory, text="Booked Rome.", idempotency_key="m-1")
    assert "conflict: idempotency key 'm-1'" in refused
