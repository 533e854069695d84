"""GET/PUT .../budget and POST .../fade: status codes, access levels, errors, audit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from audited import audit_entries, audited_server
from engramdb import Memory

from .conftest import AppKeys, bearer

App = Callable[..., tuple[TestClient, Memory, AppKeys]]
ALICE = "/v1/namespaces/alice"


def test_put_stores_the_budget_and_get_reads_it_back(make_app: App) -> None:
    client, memory, keys = make_app()
    empty = client.get(f"{ALICE}/budget", headers=bearer(keys.alice))
    assert empty.status_code == 200
    assert empty.json() == {"namespace": "alice", "max_memories": None, "max_bytes": None}
    stored = client.put(
        f"{ALICE}/budget", json={"max_memories": 2, "max_bytes": None}, headers=bearer(keys.alice)
    )
    assert stored.status_code == 200
    assert stored.json() == {"namespace": "alice", "max_memories": 2, "max_bytes": None}
    assert client.get(f"{ALICE}/budget", headers=bearer(keys.reader)).json() == stored.json()
    assert memory.budget(namespace="alice") is not None  # the library sees the same row
    cleared = client.put(f"{ALICE}/budget", json={}, headers=bearer(keys.alice))
    assert cleared.json()["max_memories"] is None
    assert memory.budget(namespace="alice") is None


def test_fade_puts_aside_what_exceeds_the_budget(make_app: App) -> None:
    client, _memory, keys = make_app()
    items = [{"text": f"note {i}", "occurred_at": f"2024-01-0{i + 1}T00:00:00Z"} for i in range(4)]
    batch = client.post(f"{ALICE}/engrams/batch", json={"items": items}, headers=bearer(keys.alice))
    assert batch.status_code == 201
    assert client.post(f"{ALICE}/fade", headers=bearer(keys.alice)).json() == {
        "namespace": "alice",
        "dormant": 0,
    }
    client.put(f"{ALICE}/budget", json={"max_memories": 1}, headers=bearer(keys.alice))
    faded = client.post(
        f"{ALICE}/fade", json={"now": "2024-01-05T00:00:00Z"}, headers=bearer(keys.alice)
    )
    assert faded.status_code == 200
    assert faded.json() == {"namespace": "alice", "dormant": 3}


def test_a_read_key_reads_the_budget_but_cannot_set_it_or_fade(make_app: App) -> None:
    client, _memory, keys = make_app()
    assert client.get(f"{ALICE}/budget", headers=bearer(keys.reader)).status_code == 200
    put = client.put(f"{ALICE}/budget", json={"max_memories": 1}, headers=bearer(keys.reader))
    assert put.status_code == 403
    assert put.json()["error"]["code"] == "forbidden"
    assert client.post(f"{ALICE}/fade", headers=bearer(keys.reader)).status_code == 403
    assert client.get(f"{ALICE}/budget").status_code == 401
    for path in ("/v1/namespaces/bob/budget", "/v1/namespaces/bob/fade"):
        method = client.put if path.endswith("budget") else client.post
        assert method(path, json={}, headers=bearer(keys.alice)).status_code == 403
    assert client.get("/v1/namespaces/bob/budget", headers=bearer(keys.alice)).status_code == 403


def test_bad_bounds_are_422_with_the_error_table_codes(make_app: App) -> None:
    client, memory, keys = make_app()
    refused = [
        ({"max_memories": -1}, "invalid_request"),  # the schema says 0 to 2**53 too
        ({"max_bytes": 2**60}, "invalid_request"),
        ({"max_memories": "ten"}, "invalid_request"),
        ({"max_memories": 1.5}, "invalid_request"),
        ({"max_memories": True}, "invalid_request"),
        ({"max_files": 3}, "invalid_request"),
    ]
    for body, code in refused:
        response = client.put(f"{ALICE}/budget", json=body, headers=bearer(keys.alice))
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == code, body
    naive = client.post(
        f"{ALICE}/fade", json={"now": "2024-01-01T00:00:00"}, headers=bearer(keys.alice)
    )
    assert naive.status_code == 422
    assert memory.budget(namespace="alice") is None


def test_setting_a_budget_and_fading_are_audited(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with audited_server(store) as served:
        http, auth, key = served.http, served.auth, served.key
        assert http.get(f"{ALICE}/budget", headers=auth).is_success  # a read: not audited
        assert http.put(f"{ALICE}/budget", json={"max_bytes": 9}, headers=auth).is_success
        assert http.post(f"{ALICE}/fade", headers=auth).is_success
        assert http.post("/v1/namespaces/bob/fade", headers=auth).status_code == 403
    entries = audit_entries(store)
    assert [(e.actor, e.action, e.namespace, e.status) for e in entries] == [
        (key.key.id, "set_budget", "alice", 200),
        (key.key.id, "fade", "alice", 200),
        (key.key.id, "fade", "bob", 403),
    ]
