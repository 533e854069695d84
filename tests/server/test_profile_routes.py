"""The pinned profile over HTTP, through ``Client`` and as MCP tools (docs/profile.md):
the same verbs and answers as ``Memory``, 4xx with a message on bad input, access
levels, and pins audited without their text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import mcp
import pytest
from fastapi.testclient import TestClient

from audited import audit_entries, audited_server
from engramdb import Client, LimitExceededError, Memory, NotFoundError, ProfileEntry
from engramdb.security.audit import audit_path
from engramdb.server.mcp import build_mcp
from engramdb.testing.fakes import HashEmbedder
from in_process import InProcess

from .conftest import AppKeys, bearer

App = Callable[..., tuple[TestClient, Memory, AppKeys]]
ALICE = "/v1/namespaces/alice"


def test_pin_read_and_unpin_over_http(make_app: App) -> None:
    client, memory, keys = make_app()
    auth = bearer(keys.alice)
    pinned = client.put(f"{ALICE}/profile/diet", json={"text": "vegetarian"}, headers=auth)
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["key"] == "diet"
    assert pinned.json()["version"] == 1
    again = client.put(f"{ALICE}/profile/diet", json={"text": "vegan"}, headers=auth).json()
    assert again["version"] == 2
    now = client.get(f"{ALICE}/profile", headers=bearer(keys.reader)).json()
    assert [(e["key"], e["text"]) for e in now["entries"]] == [("diet", "vegan")]
    every = client.get(f"{ALICE}/profile", params={"history": "true"}, headers=auth).json()
    assert [e["version"] for e in every["entries"]] == [1, 2]
    assert every["entries"][0]["valid_to"] == again["valid_from"]
    then = client.get(f"{ALICE}/profile", params={"as_of": pinned.json()["valid_from"]},
                      headers=auth).json()  # fmt: skip
    assert [e["text"] for e in then["entries"]] == ["vegetarian"]
    closed = client.delete(f"{ALICE}/profile/diet", headers=auth)
    assert closed.status_code == 200
    assert closed.json()["valid_to"] is not None
    assert memory.profile(namespace="alice") == []
    context = client.post(f"{ALICE}/context", json={"query": "dinner?"}, headers=auth).json()
    assert context["profile_left_out"] == []


def test_bad_input_is_4xx_with_a_message_never_a_500(make_app: App) -> None:
    client, memory, keys = make_app()
    auth = bearer(keys.alice)
    cases = [
        ("put", f"{ALICE}/profile/a%20b", {"text": "x"}, 422, "invalid_request"),
        ("put", f"{ALICE}/profile/{'k' * 65}", {"text": "x"}, 422, "invalid_request"),
        ("put", f"{ALICE}/profile/diet", {"text": ""}, 422, "invalid_input"),
        ("put", f"{ALICE}/profile/diet", {"text": "x" * 501}, 413, "limit_exceeded"),
        ("put", f"{ALICE}/profile/diet", {"text": 3}, 422, "invalid_request"),
        ("put", f"{ALICE}/profile/diet", {"text": "x", "extra": 1}, 422, "invalid_request"),
        ("put", f"{ALICE}/profile/diet", {"text": "x", "source_id": "no"}, 422, "invalid_request"),
        ("put", f"{ALICE}/profile/diet", {"text": "x", "source_id": "0" * 32}, 404, "not_found"),
        ("delete", f"{ALICE}/profile/diet", None, 404, "not_found"),
        ("get", f"{ALICE}/profile?as_of=2024-01-01T00:00:00", None, 422, "invalid_request"),
        ("get", f"{ALICE}/profile?as_of=2024-01-01T00:00:00Z&history=true", None, 422,
         "invalid_input"),
    ]  # fmt: skip
    for method, path, body, status, code in cases:
        kwargs: dict[str, Any] = {"headers": auth} | ({"json": body} if body is not None else {})
        answer = client.request(method.upper(), path, **kwargs)
        assert answer.status_code == status, (path, body, answer.text)
        assert answer.json()["error"]["code"] == code, (path, body)
        assert answer.json()["error"]["message"]
    assert memory.profile(namespace="alice", history=True) == []


def test_a_read_key_reads_the_profile_but_cannot_pin(make_app: App) -> None:
    client, _memory, keys = make_app()
    put = client.put(f"{ALICE}/profile/diet", json={"text": "x"}, headers=bearer(keys.reader))
    assert put.status_code == 403
    assert client.get(f"{ALICE}/profile", headers=bearer(keys.reader)).status_code == 200
    assert client.get("/v1/namespaces/bob/profile", headers=bearer(keys.alice)).status_code == 403
    assert client.get(f"{ALICE}/profile-proposals", headers=bearer(keys.reader)).status_code == 200


def test_the_client_is_memory_over_http(make_app: App) -> None:
    client, memory, keys = make_app()
    with Client("http://testserver", api_key=keys.alice, transport=InProcess(client)) as remote:
        entry = remote.pin("name", "Alice", namespace="alice")
        assert isinstance(entry, ProfileEntry)
        assert remote.profile(namespace="alice") == memory.profile(namespace="alice") == [entry]
        remote.pin("name", "Alice B.", namespace="alice")
        assert remote.profile(namespace="alice", history=True) == memory.profile(
            namespace="alice", history=True
        )
        assert remote.profile(namespace="alice", as_of=entry.valid_from) == [
            memory.profile(namespace="alice", history=True)[0]
        ]
        assert remote.unpin("name", namespace="alice").valid_to is not None
        with pytest.raises(NotFoundError, match="no profile entry 'name'"):
            remote.unpin("name", namespace="alice")
        with pytest.raises(LimitExceededError, match="limit is 500"):
            remote.pin("long", "x" * 501, namespace="alice")
        assert remote.profile_proposals(namespace="alice") == []
        bundle = remote.context("who is she?", namespace="alice")
        assert bundle.profile_left_out == ()


def test_mcp_tools_pin_read_and_unpin() -> None:
    entries: list[Any] = []
    with Memory(":memory:", embedder=HashEmbedder()) as memory:
        server = build_mcp(memory, namespace="chat", audit=entries.append)

        async def scenario() -> tuple[Any, Any, Any, Any, Any]:
            async with mcp.Client(server) as client:
                pinned = await client.call_tool("pin", {"key": "name", "text": "Maya"})
                listed = await client.call_tool("profile", {"history": True})
                proposals = await client.call_tool("profile_proposals", {})
                unpinned = await client.call_tool("unpin", {"key": "name"})
                refused = await client.call_tool("unpin", {"key": "name"})
                return pinned, listed, proposals, unpinned, refused

        pinned, listed, proposals, unpinned, refused = anyio.run(scenario)
        assert memory.profile(namespace="chat") == []
    assert not pinned.is_error, pinned.content
    assert pinned.structured_content["text"] == "Maya"
    assert [e["key"] for e in listed.structured_content["entries"]] == ["name"]
    assert proposals.structured_content == {"namespace": "chat", "proposals": []}
    assert unpinned.structured_content["valid_to"] is not None
    assert refused.is_error
    assert "not_found: no profile entry 'name'" in refused.content[0].text
    assert [(e.action, e.namespace) for e in entries] == [("pin", "chat"), ("unpin", "chat")]


def test_pins_are_audited_without_their_key_or_text(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with audited_server(store) as served:
        http, auth = served.http, served.auth
        assert http.put(
            f"{ALICE}/profile/secret", json={"text": "Zorbaxqy"}, headers=auth
        ).is_success
        assert http.get(f"{ALICE}/profile", headers=auth).is_success  # a read: not audited
        assert http.delete(f"{ALICE}/profile/secret", headers=auth).is_success
    entries = audit_entries(store)
    assert [(e.action, e.namespace, e.target, e.status) for e in entries] == [
        ("pin", "alice", None, 200),
        ("unpin", "alice", None, 200),
    ]
    where = audit_path(str(store))
    assert where is not None
    assert b"Zorbaxqy" not in Path(where).read_bytes()
    assert b"secret" not in Path(where).read_bytes()
