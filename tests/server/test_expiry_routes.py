"""Expiry over HTTP, MCP and the Client (docs/expiry.md): add's expires_at, a memory's
expiry, the namespace's TTL, the purge of one namespace or of every one the key may
write, their refusals as 4xx, their audit entries, and the server's own purge."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anyio
import mcp
import pytest
from fastapi.testclient import TestClient

from audited import audit_entries
from engramdb import (
    AsyncClient,
    Client,
    Deletion,
    InvalidInputError,
    Memory,
    NotFoundError,
    Settings,
)
from engramdb.clock import FixedClock
from engramdb.security.keys import KeyRing
from engramdb.server.http import ServerOptions, create_app
from engramdb.server.mcp import build_mcp
from engramdb.server.purging import PurgeSchedule
from engramdb.testing.fakes import HashEmbedder
from in_process import InProcess

from .conftest import bearer

T0 = datetime(2026, 5, 1, 12, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
ALICE = "/v1/namespaces/alice"


class _Served:
    def __init__(self, store: Path, clock: FixedClock, **settings: Any) -> None:
        self.memory = Memory(str(store), embedder=HashEmbedder(), clock=clock)
        self.ring = KeyRing(":memory:")
        self.alice = self.ring.create(name="alice", namespaces=["alice"], access="write")
        self.reader = self.ring.create(name="reader", namespaces=["alice"], access="read")
        self.admin = self.ring.create(name="admin", namespaces=[], access="admin")
        app = create_app(
            Settings(path=str(store), **settings),
            memory=self.memory,
            keys=self.ring,
            options=ServerOptions(mcp=False, rate_per_s=0.0),
        )
        self.http = TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def served(tmp_path: Path, clock: FixedClock) -> Iterator[_Served]:
    served = _Served(tmp_path / "store", clock, purge_every_s=0.0)
    with served.http:
        yield served
    served.memory.close()
    served.ring.close()


def _audit(store: Path) -> list[tuple[str, str | None, int | None]]:
    entries = audit_entries(store)
    return [(e.action, e.namespace, e.count) for e in entries]  # newest first


def test_the_routes_set_expiry_ttl_and_purge(served: _Served, clock: FixedClock) -> None:
    http, key = served.http, bearer(served.alice.token)
    until = (T0 + HOUR).isoformat()
    added = http.post(
        f"{ALICE}/engrams", json={"text": "door code 4711", "expires_at": until}, headers=key
    )
    assert added.status_code == 201, added.text
    assert added.json()["expires_at"] == "2026-05-01T13:00:00Z"
    kept = http.post(f"{ALICE}/engrams", json={"text": "Maya lives in Lisbon"}, headers=key).json()
    assert kept["expires_at"] is None
    assert http.get(f"{ALICE}/ttl", headers=key).json() == {"namespace": "alice", "ttl_s": None}
    stored = http.put(f"{ALICE}/ttl", json={"ttl_s": 7200}, headers=key)
    assert stored.json() == {"namespace": "alice", "ttl_s": 7200.0}
    later = http.post(f"{ALICE}/engrams", json={"text": "a note for two hours"}, headers=key).json()
    assert later["expires_at"] == "2026-05-01T14:00:00Z"
    moved = http.put(
        f"{ALICE}/engrams/{kept['id']}/expiry", json={"expires_at": until}, headers=key
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["expires_at"] == "2026-05-01T13:00:00Z"
    assert moved.json()["version"] == 1
    clock.advance(90 * timedelta(minutes=1))
    assert http.get(f"{ALICE}/engrams/{kept['id']}", headers=key).status_code == 404
    found = http.post(f"{ALICE}/search", json={"query": "door code Lisbon"}, headers=key).json()
    assert [h["engram"]["id"] for h in found["hits"]] == [later["id"]]
    purged = http.post(f"{ALICE}/purge", headers=key)
    assert purged.status_code == 200, purged.text
    assert purged.json() == {
        "deletions": [
            {
                "namespace": "alice",
                "ids": [added.json()["id"], kept["id"]],
                "derived": [],
                "dry_run": False,
            }
        ]
    }
    assert http.post(f"{ALICE}/purge", headers=key).json() == {"deletions": []}
    assert served.memory.check() == []


def test_bad_input_is_422_and_other_access_403(served: _Served) -> None:
    http, key = served.http, bearer(served.alice.token)
    engram = served.memory.add("a memory", namespace="alice")
    past = (T0 - HOUR).isoformat()
    refused = [
        ("POST", f"{ALICE}/engrams", {"text": "x", "expires_at": past}, "invalid_input"),
        (
            "POST",
            f"{ALICE}/engrams",
            {"text": "x", "expires_at": "2030-01-01T00:00"},
            "invalid_request",
        ),
        ("PUT", f"{ALICE}/engrams/{engram.id}/expiry", {"expires_at": past}, "invalid_input"),
        ("PUT", f"{ALICE}/engrams/{engram.id}/expiry", {}, "invalid_request"),
        ("PUT", f"{ALICE}/ttl", {"ttl_s": 0}, "invalid_request"),
        ("PUT", f"{ALICE}/ttl", {"ttl_s": "1d"}, "invalid_request"),
        ("PUT", f"{ALICE}/ttl", {"ttl_s": True}, "invalid_request"),
        ("PUT", f"{ALICE}/ttl", {"ttl_s": 1e12}, "invalid_request"),
    ]
    for method, path, body, code in refused:
        answer = http.request(method, path, json=body, headers=key)
        assert answer.status_code == 422, (path, body, answer.text)
        assert answer.json()["error"]["code"] == code, body
    unknown = http.put(f"{ALICE}/engrams/{'0' * 32}/expiry", json={"expires_at": None}, headers=key)
    assert unknown.status_code == 404
    reader = bearer(served.reader.token)
    assert http.post(f"{ALICE}/purge", headers=reader).status_code == 403
    assert http.put(f"{ALICE}/ttl", json={"ttl_s": 60}, headers=reader).status_code == 403
    assert http.get(f"{ALICE}/ttl", headers=reader).status_code == 200
    assert http.post("/v1/namespaces/bob/purge", headers=key).status_code == 403


def test_purge_of_every_namespace_reaches_only_those_the_key_may_write(
    served: _Served, clock: FixedClock
) -> None:
    mine = served.memory.add("mine", namespace="alice", expires_at=T0 + HOUR)
    theirs = served.memory.add("theirs", namespace="bob", expires_at=T0 + HOUR)
    clock.advance(2 * HOUR)
    answer = served.http.post("/v1/purge", headers=bearer(served.alice.token))
    assert answer.json()["deletions"] == [
        {"namespace": "alice", "ids": [mine.id], "derived": [], "dry_run": False}
    ]
    assert served.memory.store.get("bob", theirs.id) is not None


def test_the_clients_offer_the_same_methods(served: _Served, clock: FixedClock) -> None:
    transport = InProcess(served.http)
    with Client("http://testserver", api_key=served.alice.token, transport=transport) as remote:
        engram = remote.add("a short note", namespace="alice", expires_at=T0 + HOUR)
        assert engram.expires_at == T0 + HOUR
        assert remote.set_expiry(engram.id, namespace="alice", expires_at=None).expires_at is None
        remote.set_ttl(timedelta(days=1), namespace="alice")
        assert remote.ttl(namespace="alice") == timedelta(days=1)
        with pytest.raises(InvalidInputError):
            remote.set_ttl(timedelta(0), namespace="alice")
        remote.set_expiry(engram.id, namespace="alice", expires_at=T0 + HOUR)
        clock.advance(2 * HOUR)
        with pytest.raises(NotFoundError):
            remote.get(engram.id, namespace="alice")
        assert remote.purge(namespace="alice") == [Deletion("alice", (engram.id,))]
        assert remote.purge() == []
        remote.set_ttl(None, namespace="alice")
        assert remote.ttl(namespace="alice") is None


def test_the_mcp_purge_tool_and_remember_with_expiry(tmp_path: Path, clock: FixedClock) -> None:
    store = tmp_path / "store"
    with Memory(str(store), embedder=HashEmbedder(), clock=clock) as memory:
        server = build_mcp(memory, namespace="n")

        async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
            async with mcp.Client(server) as client:
                added = await client.call_tool(
                    "remember", {"text": "temporary", "expires_at": (T0 + HOUR).isoformat()}
                )
                assert added.structured_content is not None
                clock.advance(2 * HOUR)
                purged = await client.call_tool("purge", {})
                assert purged.structured_content is not None
                return added.structured_content, purged.structured_content

        added, purged = anyio.run(scenario)
        assert added["expires_at"] == "2026-05-01T13:00:00Z"
        assert purged == {
            "deletions": [{"namespace": "n", "ids": [added["id"]], "derived": [], "dry_run": False}]
        }
    assert sorted(_audit(store), key=str) == [("add", "n", None), ("purge", "n", 1)]


def test_the_scheduled_purge_erases_what_expired_and_is_audited(
    tmp_path: Path, clock: FixedClock
) -> None:
    store = tmp_path / "store"
    with Memory(str(store), embedder=HashEmbedder(), clock=clock) as memory:
        doomed = memory.add("temporary", namespace="a", expires_at=T0 + HOUR)
        memory.add("lasting", namespace="a")
        audited: list[Any] = []
        schedule = PurgeSchedule(memory, 60.0, audit=audited.append, clock=clock)
        assert schedule.run_once() == []  # nothing expired yet
        clock.advance(2 * HOUR)
        assert schedule.run_once() == [Deletion("a", (doomed.id,))]
        assert [(e.actor, e.action, e.namespace, e.count) for e in audited] == [
            ("scheduler", "purge", "a", 1)
        ]
        assert (schedule.passes, schedule.purged, schedule.failures) == (2, 1, 0)
        with pytest.raises(ValueError, match="above 0"):
            PurgeSchedule(memory, 0.0)


def test_the_server_purges_on_its_own_with_a_short_interval(
    tmp_path: Path, clock: FixedClock
) -> None:
    served = _Served(tmp_path / "store", clock, purge_every_s=0.01)
    doomed = served.memory.add("temporary", namespace="alice", expires_at=T0 + HOUR)
    clock.advance(2 * HOUR)
    gone = threading.Event()
    purging = served.http.app.state.purging  # type: ignore[attr-defined]
    with served.http:
        for _ in range(3_000):  # the thread's passes, not their speed, are what is checked
            if purging.purged:  # counted once the pass that erased it is done
                gone.set()
                break
            threading.Event().wait(0.01)
        assert served.memory.store.get("alice", doomed.id) is None
        metrics = served.http.get("/metrics", headers=bearer(served.admin.token)).text
    served.memory.close()
    served.ring.close()
    assert gone.is_set()
    assert ("purge", "alice", 1) in _audit(tmp_path / "store")
    assert "engramdb_purge_memories_total 1.0" in metrics
    assert "engramdb_purge_interval_seconds 0.01" in metrics


def test_a_bad_purge_interval_refuses_to_build_the_app(tmp_path: Path) -> None:
    with Memory(":memory:", embedder=HashEmbedder()) as memory, pytest.raises(ValueError):
        create_app(
            Settings(path=":memory:", purge_every_s=-1.0),
            memory=memory,
            keys=KeyRing(":memory:"),
        )


def test_the_async_client_purges_too(served: _Served, clock: FixedClock) -> None:
    import httpx

    class AsyncInProcess(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return InProcess(served.http).handle_request(request)

    engram = served.memory.add("temporary", namespace="alice", expires_at=T0 + HOUR)
    clock.advance(2 * HOUR)

    async def scenario() -> list[Deletion]:
        async with AsyncClient(
            "http://testserver", api_key=served.alice.token, transport=AsyncInProcess()
        ) as remote:
            return await remote.purge(namespace="alice")

    assert anyio.run(scenario) == [Deletion("alice", (engram.id,))]
