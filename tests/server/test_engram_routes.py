"""One memory's session neighbours, retention and forgetting curve over HTTP, and
``POST /v1/flush``: answers as ``Memory`` gives them, scopes, errors, audit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from fastapi.testclient import TestClient

from audited import audit_entries, audited_server
from engramdb import Memory

from .conftest import AppKeys, bearer

App = Callable[..., tuple[TestClient, Memory, AppKeys]]
ALICE = "/v1/namespaces/alice"
NOW = datetime(2024, 3, 1, tzinfo=timezone.utc)


def _turns(client: TestClient, keys: AppKeys) -> list[str]:
    items = [
        {"text": f"turn {i}", "session": "s1", "occurred_at": f"2024-01-0{i + 1}T00:00:00Z"}
        for i in range(4)
    ]
    added = client.post(f"{ALICE}/engrams/batch", json={"items": items}, headers=bearer(keys.alice))
    assert added.status_code == 201, added.text
    return [e["id"] for e in added.json()["engrams"]]


def test_neighbours_retention_and_curve_answer_as_memory_does(make_app: App) -> None:
    client, memory, keys = make_app()
    ids = _turns(client, keys)
    read = bearer(keys.reader)
    around = client.get(f"{ALICE}/engrams/{ids[2]}/neighbours", params={"before": 2, "after": 1},
                        headers=read)  # fmt: skip
    assert around.status_code == 200, around.text
    assert [e["id"] for e in around.json()["neighbours"]] == [ids[0], ids[1], ids[3]]
    held = client.get(f"{ALICE}/engrams/{ids[0]}/retention", params={"now": NOW.isoformat()},
                      headers=read)  # fmt: skip
    assert held.json() == {
        "id": ids[0],
        "namespace": "alice",
        "now": "2024-03-01T00:00:00Z",
        "retention": memory.retention(ids[0], namespace="alice", now=NOW),
    }
    drawn = client.get(f"{ALICE}/engrams/{ids[0]}/curve", params={"days": 10, "points": 3},
                       headers=read)  # fmt: skip
    times, values = memory.curve(ids[0], namespace="alice", days=10, points=3)
    assert drawn.json()["retention"] == values
    assert drawn.json()["times"] == [t.isoformat().replace("+00:00", "Z") for t in times]


def test_the_memory_routes_refuse_as_the_library_does(make_app: App) -> None:
    client, _memory, keys = make_app()
    ids = _turns(client, keys)
    read = bearer(keys.reader)
    cases = [
        (f"{ALICE}/engrams/{ids[0]}/neighbours", {"before": 101}, 422, "invalid_input"),
        (f"{ALICE}/engrams/{ids[0]}/neighbours", {"after": "x"}, 422, "invalid_request"),
        (f"{ALICE}/engrams/{ids[0]}/curve", {"points": 1}, 422, "invalid_input"),
        (f"{ALICE}/engrams/{ids[0]}/retention", {"now": "2024-03-01"}, 422, "invalid_request"),
        (f"{ALICE}/engrams/{'0' * 32}/retention", {}, 404, "not_found"),
        (f"/v1/namespaces/bob/engrams/{ids[0]}/curve", {}, 403, "forbidden"),
    ]
    for path, params, status, code in cases:
        response = client.get(path, params=params, headers=read)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), path


def test_flush_writes_the_queued_recalls_and_needs_an_admin_key(make_app: App) -> None:
    client, _memory, keys = make_app()
    ids = _turns(client, keys)
    found = client.post(f"{ALICE}/search", json={"query": "turn", "limit": 2},
                        headers=bearer(keys.alice))  # fmt: skip
    assert found.status_code == 200, found.text
    assert client.post("/v1/flush", headers=bearer(keys.alice)).status_code == 403
    flushed = client.post("/v1/flush", headers=bearer(keys.admin))
    assert flushed.json() == {"flushed": 2}
    recalled = [client.get(f"{ALICE}/engrams/{i}", headers=bearer(keys.reader)).json() for i in ids]
    assert sorted(e["recalls"] for e in recalled) == [0, 0, 1, 1]
    assert client.post("/v1/flush", headers=bearer(keys.admin)).json() == {"flushed": 0}


def test_flush_is_audited(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with audited_server(store, name="admin", namespaces=(), access="admin") as served:
        http, admin = served.http, served.key
        assert http.post("/v1/flush", headers=bearer(admin.token)).is_success
    entries = audit_entries(store)
    assert [(e.actor, e.action, e.namespace, e.status) for e in entries] == [
        (admin.key.id, "flush", None, 200)
    ]
