"""The REST API end to end: a real ``engram serve`` process on a loopback port."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from engramdb.testing.serve import ServeProcess

from .conftest import ENGRAM, LiveServer, engram, mint

WHEN = "2024-03-23T10:15:00Z"


def test_healthz_needs_no_key(live_server: LiveServer) -> None:
    with live_server.client(None) as http:
        assert http.get("/healthz").json()["status"] == "ok"


def test_openapi_and_docs_are_published(live_server: LiveServer) -> None:
    with live_server.client(None) as http:
        schema = http.get("/openapi.json").json()
        assert "/v1/namespaces/{namespace}/search" in schema["paths"]
        assert "apiKey" in schema["components"]["securitySchemes"]
        assert http.get("/docs").status_code == 200


def test_add_get_update_history_search_delete(live_server: LiveServer) -> None:
    with live_server.client(live_server.alice) as http:
        added = http.post(
            "/v1/namespaces/alice/engrams",
            json={
                "text": "I adopted a terrier called Pastel",
                "speaker": "Maya",
                "session": "s1",
                "occurred_at": WHEN,
                "metadata": {"dia_id": "D1:1"},
            },
        )
        assert added.status_code == 201, added.text
        engram = added.json()
        assert engram["occurred_at"] == "2024-03-23T10:15:00Z"
        path = f"/v1/namespaces/alice/engrams/{engram['id']}"
        assert http.get(path).json() == engram

        updated = http.patch(path, json={"text": "I adopted a terrier called Pastel Jr"})
        assert updated.status_code == 200
        assert updated.json()["version"] == 2
        versions = http.get(f"{path}/history").json()["versions"]
        assert [v["version"] for v in versions] == [1, 2]
        assert versions[0]["valid_to"] is not None
        assert versions[1]["valid_to"] is None

        found = http.post(
            "/v1/namespaces/alice/search",
            json={"query": "what is the dog called?", "limit": 3, "now": "2024-04-01T00:00:00Z"},
        ).json()
        assert found["now"] == "2024-04-01T00:00:00Z"
        assert found["hits"][0]["engram"]["id"] == engram["id"]
        assert found["hits"][0]["explain"]["contributions"]

        assert http.delete(path).json() == {"deleted": engram["id"], "namespace": "alice"}
        gone = http.get(path)
        assert gone.status_code == 404
        assert gone.json()["error"]["code"] == "not_found"


def test_batch_add_is_all_or_nothing(live_server: LiveServer) -> None:
    with live_server.client(live_server.bob) as http:
        before = http.get("/v1/namespaces/bob/stats").json()["engrams"]
        good = {"text": "turn one", "occurred_at": WHEN}
        refused = http.post(
            "/v1/namespaces/bob/engrams/batch", json={"items": [good, {"text": "   "}]}
        )
        assert refused.status_code == 422
        assert "item 1" in refused.json()["error"]["message"]
        assert http.get("/v1/namespaces/bob/stats").json()["engrams"] == before
        added = http.post("/v1/namespaces/bob/engrams/batch", json={"items": [good, good]})
        assert added.status_code == 201
        assert len(added.json()["engrams"]) == 2


def test_no_key_and_a_wrong_key_get_401(live_server: LiveServer) -> None:
    for headers in ({}, {"Authorization": "Bearer eng_000000000000_" + "0" * 48}):
        response = httpx.get(f"{live_server.url}/v1/namespaces", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"


def test_a_key_outside_its_scope_gets_403_with_a_message(live_server: LiveServer) -> None:
    with live_server.client(live_server.alice) as http:
        response = http.post("/v1/namespaces/bob/search", json={"query": "anything"})
        assert response.status_code == 403
        assert "may not read namespace 'bob'" in response.json()["error"]["message"]
        assert http.get("/metrics").status_code == 403  # metrics are for admin keys


def test_a_revoked_key_is_refused_from_its_next_request(live_server: LiveServer) -> None:
    token = mint(live_server.store, "short-lived", "read", "alice")
    with live_server.client(token) as http:
        assert http.get("/v1/namespaces/alice/stats").status_code == 200
        key_id = token.split("_")[1]
        engram(live_server.store, "keys", "revoke", key_id)
        assert http.get("/v1/namespaces/alice/stats").status_code == 401


def test_namespaces_and_stats_show_only_what_the_key_covers(live_server: LiveServer) -> None:
    with live_server.client(live_server.alice) as http:
        http.post("/v1/namespaces/alice/engrams", json={"text": "an alice memory"})
    with live_server.client(live_server.bob) as http:
        http.post("/v1/namespaces/bob/engrams", json={"text": "a bob memory"})
        assert http.get("/v1/namespaces").json()["namespaces"] == ["bob"]
        assert [s["namespace"] for s in http.get("/v1/stats").json()["namespaces"]] == ["bob"]
    with live_server.client(live_server.admin) as http:
        assert {"alice", "bob"} <= set(http.get("/v1/namespaces").json()["namespaces"])


def test_metrics_count_requests_by_route_and_memories_by_namespace(
    live_server: LiveServer,
) -> None:
    with live_server.client(live_server.admin) as http:
        http.post("/v1/namespaces/metered/engrams", json={"text": "counted"})
        text = http.get("/metrics").text
    assert 'engramdb_memories{namespace="metered"} 1.0' in text
    assert (
        'engramdb_http_requests_total{method="POST",route="/v1/namespaces/{namespace}/engrams",'
        'status="201"}' in text
    )
    assert "engramdb_http_request_duration_seconds_bucket" in text


def test_forget_namespace_needs_write_access_and_erases_it(live_server: LiveServer) -> None:
    reader = mint(live_server.store, "reader", "read", "doomed")
    with live_server.client(live_server.admin) as http:
        http.post("/v1/namespaces/doomed/engrams", json={"text": "soon gone"})
    with live_server.client(reader) as http:
        assert http.delete("/v1/namespaces/doomed").status_code == 403
    with live_server.client(live_server.admin) as http:
        assert http.delete("/v1/namespaces/doomed").json() == {
            "namespace": "doomed",
            "forgotten": 1,
        }
        assert "doomed" not in http.get("/v1/namespaces").json()["namespaces"]


def test_a_huge_body_is_refused_with_413_and_writes_nothing(live_server: LiveServer) -> None:
    with live_server.client(live_server.alice) as http:
        before = http.get("/v1/namespaces/alice/stats").json()["engrams"]
        huge = {"text": "x" * (9 * 1024 * 1024)}
        response = http.post("/v1/namespaces/alice/engrams", json=huge)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
    with live_server.client(live_server.alice) as http:
        assert http.get("/v1/namespaces/alice/stats").json()["engrams"] == before


def test_unknown_routes_are_404_json(live_server: LiveServer) -> None:
    with live_server.client(live_server.admin) as http:
        response = http.get("/v2/nothing")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "route_not_found"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--no-auth", "--host", "0.0.0.0", "--port", "0"], "--no-auth is refused"),
        (["serve", "--port", "0"], "no API keys"),
    ],
)
def test_serve_refuses_to_start_unsafely(tmp_path: object, args: list[str], message: str) -> None:
    done = subprocess.run(
        [*ENGRAM, "--store", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert message in done.stderr


def test_a_server_that_exits_before_serving_fails_the_wait_with_what_it_said(
    tmp_path: object,
) -> None:
    with ServeProcess.start(["--store", str(tmp_path), "serve", "--port", "0"]) as server:
        with pytest.raises(AssertionError, match=r"(?s)did not start:\n.*no API keys"):
            server.url()
        assert server.process.poll() is not None
