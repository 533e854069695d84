"""The key is checked before the body is read: 401, then 413, then 400/422 (docs/server.md).

A request without a valid key learns nothing from its body's fate: malformed
JSON, a body that is not JSON, wrong types and an oversized body all get the
same 401 as a well-formed one. With a valid key the same bodies get the
400/422/413 they always did, and the rate limit (per key) comes between the
two.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from audited import audit_entries, audited_server
from engramdb import Memory

from .conftest import AppKeys, LiveServer, bearer

NS = "/v1/namespaces/alice"
FORGED = "eng_0123456789ab_" + "f" * 48

# Every route that takes a body.
ROUTES = [
    ("POST", f"{NS}/engrams"),
    ("POST", f"{NS}/engrams/batch"),
    ("PATCH", f"{NS}/engrams/{'0' * 32}"),
    ("POST", f"{NS}/search"),
    ("POST", f"{NS}/context"),
    ("POST", f"{NS}/consolidate"),
    ("PUT", f"{NS}/budget"),
    ("POST", f"{NS}/fade"),
]
# (what it is, body, content type, (status, code) with a valid key)
BODIES = [
    ("malformed JSON", b"{not json", "application/json", (400, "bad_request")),
    ("truncated JSON", b'{"text": "a', "application/json", (400, "bad_request")),
    ("NaN", b'{"text": NaN, "query": NaN}', "application/json", (422, "invalid_request")),
    ("not UTF-8", b'{"text": "\xff\xfe"}', "application/json", (400, "bad_request")),
    ("plain text", b"remember this", "text/plain", (422, "invalid_request")),
    ("a form", b"text=a&query=a", "application/x-www-form-urlencoded", (422, "invalid_request")),
    (
        "wrong types",
        b'{"text": 1, "query": 1, "items": 1, "max_memories": "x", "now": 1}',
        "application/json",
        (422, "invalid_request"),
    ),
    ("a list", b"[1, 2]", "application/json", (422, "invalid_request")),
]
NO_KEY = {
    "no header": {},
    "an unknown key": bearer(FORGED),
    "a malformed header": {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
}


def _assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["code"] == "unauthorized"
    assert "API key" in error["message"] or "Bearer" in error["message"]


@pytest.fixture
def app(make_app: Callable[..., tuple[TestClient, Memory, AppKeys]]) -> tuple[TestClient, AppKeys]:
    client, _memory, keys = make_app(max_body_bytes=4096)
    return client, keys


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p[len(NS) :]}" for m, p in ROUTES])
@pytest.mark.parametrize(
    ("what", "body", "content_type", "with_key"), BODIES, ids=[b[0] for b in BODIES]
)
def test_a_bad_body_without_a_valid_key_is_401_and_with_one_400_or_422(
    app: tuple[TestClient, AppKeys],
    method: str,
    path: str,
    what: str,
    body: bytes,
    content_type: str,
    with_key: tuple[int, str],
) -> None:
    client, keys = app
    for credentials in NO_KEY.values():
        headers = {"Content-Type": content_type, **credentials}
        _assert_unauthorized(client.request(method, path, content=body, headers=headers))
    headers = {"Content-Type": content_type, **bearer(keys.admin)}
    response = client.request(method, path, content=body, headers=headers)
    status, code = with_key
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize("who", list(NO_KEY), ids=list(NO_KEY))
def test_an_oversized_body_without_a_valid_key_is_401_and_with_one_413(
    app: tuple[TestClient, AppKeys], who: str
) -> None:
    client, keys = app
    big = json.dumps({"text": "x" * 8000}).encode()
    headers = {"Content-Type": "application/json", **NO_KEY[who]}
    _assert_unauthorized(client.post(f"{NS}/engrams", content=big, headers=headers))
    # a Content-Length that is no number is no reason to tell an unknown caller more
    lying = {**headers, "Content-Length": "abc"}
    _assert_unauthorized(client.post(f"{NS}/engrams", content=b"{}", headers=lying))
    refused = client.post(f"{NS}/engrams", content=big, headers={**headers, **bearer(keys.alice)})
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "payload_too_large"


def test_the_rate_limit_comes_after_the_key_and_before_the_body(
    make_app: Callable[..., tuple[TestClient, Memory, AppKeys]],
) -> None:
    client, _memory, keys = make_app(rate_per_s=0.01, burst=2)
    malformed = {"Content-Type": "application/json"}
    # requests without a valid key take nothing from any bucket
    for credentials in NO_KEY.values():
        for _ in range(3):
            response = client.post(
                f"{NS}/search", content=b"{", headers={**malformed, **credentials}
            )
            _assert_unauthorized(response)
    statuses = [
        client.post(
            f"{NS}/search", content=b"{", headers={**malformed, **bearer(keys.alice)}
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [400, 400, 429]


def test_every_route_but_the_open_ones_needs_a_key(app: tuple[TestClient, AppKeys]) -> None:
    client, _keys = app
    schema = client.get("/openapi.json").json()
    checked = 0
    for template, operations in schema["paths"].items():
        path = template.replace("{namespace}", "alice").replace("{id}", "0" * 32)
        path = path.replace("{session}", "s1")
        for method in operations:
            response = client.request(method.upper(), path, content=b"{")
            if template == "/healthz":
                assert response.status_code == 200
            else:
                _assert_unauthorized(response)
                checked += 1
    assert checked >= 15
    # a path that names no route says nothing about which ones exist
    _assert_unauthorized(client.get("/v1/nothing"))
    _assert_unauthorized(client.put(f"{NS}/engrams/{'0' * 32}", content=b"{"))


def test_requests_refused_before_routing_are_counted_by_their_route(
    app: tuple[TestClient, AppKeys],
) -> None:
    client, keys = app
    client.post(f"{NS}/search", content=b"{")
    client.post(f"{NS}/engrams", content=b"x" * 8000, headers=bearer(keys.alice))
    client.get("/v1/nothing")
    text = client.get("/metrics", headers=bearer(keys.admin)).text
    for method, route, status in [
        ("POST", "/v1/namespaces/{namespace}/search", 401),
        ("POST", "/v1/namespaces/{namespace}/engrams", 413),
        ("GET", "unmatched", 401),
    ]:
        assert f'method="{method}",route="{route}",status="{status}"}} 1.0' in text


def test_mcp_without_a_key_is_401_whatever_its_body(
    make_app: Callable[..., tuple[TestClient, Memory, AppKeys]],
) -> None:
    client, _memory, _keys = make_app(mcp=True, max_body_bytes=4096)
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    for body in (b"{not json", b"x" * 8000):
        for credentials in NO_KEY.values():
            response = client.post("/mcp", content=body, headers={**headers, **credentials})
            _assert_unauthorized(response)


def test_a_refused_write_with_a_malformed_body_is_audited_as_a_401(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with audited_server(store) as served:
        http, key = served.http, served.key
        headers = {"Content-Type": "application/json"}
        for credentials in ({}, bearer(FORGED)):
            response = http.post(f"{NS}/engrams", content=b"{", headers={**headers, **credentials})
            assert response.status_code == 401
        # with a valid key: refused by the parser, before the route knows the key, as before
        response = http.post(
            f"{NS}/engrams", content=b"{", headers={**headers, **bearer(key.token)}
        )
        assert response.status_code == 400
    entries = [(e.actor, e.action, e.namespace, e.status) for e in audit_entries(store)]
    assert entries == [("unknown", "add", "alice", 401), ("0123456789ab", "add", "alice", 401)]


def test_a_served_write_with_an_oversized_body_and_no_key_is_401(live_server: LiveServer) -> None:
    huge = json.dumps({"text": "x" * (9 * 1024 * 1024)}).encode()
    with live_server.client(None) as http:
        response = http.post(
            "/v1/namespaces/alice/engrams",
            content=huge,
            headers={"Content-Type": "application/json"},
        )
        _assert_unauthorized(response)
        # the connection is still good for the next request
        assert http.get("/healthz").status_code == 200
        _assert_unauthorized(http.post("/v1/namespaces/alice/search", content=b"{not json"))
