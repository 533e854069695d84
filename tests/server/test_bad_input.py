"""Bad input gets a 4xx with a message, never a 500, and writes nothing (in-process app)."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from engramdb import Memory, wire

from .conftest import AppKeys, LiveServer, bearer

NS = "/v1/namespaces/alice"
MISSING = "0" * 32
SQL = "x'; DROP TABLE engrams; --"
FTS = ['"unterminated', "NEAR(a b)", "a AND OR NOT", "*", "text:foo", "{text keys} : x", "^x"]

# (method, path, json body, expected status, expected code)
CASES: list[tuple[str, str, Any, int, str]] = [
    ("POST", f"{NS}/engrams", {}, 422, "invalid_request"),
    ("POST", f"{NS}/engrams", {"text": 42}, 422, "invalid_request"),
    ("POST", f"{NS}/engrams", {"text": ["a"]}, 422, "invalid_request"),
    ("POST", f"{NS}/engrams", {"text": "a", "colour": "red"}, 422, "invalid_request"),
    ("POST", f"{NS}/engrams", {"text": "   "}, 422, "invalid_input"),
    ("POST", f"{NS}/engrams", {"text": ""}, 422, "invalid_request"),
    ("POST", f"{NS}/engrams", {"text": "a\x00b"}, 422, "invalid_input"),
    ("POST", f"{NS}/engrams", {"text": "a", "metadata": [1]}, 422, "invalid_request"),
    ("POST", f"{NS}/engrams", {"text": "a", "speaker": "two\nlines"}, 422, "invalid_input"),
    (
        "POST",
        f"{NS}/engrams",
        {"text": "a", "occurred_at": "2024-05-01T10:00:00"},
        422,
        "invalid_request",
    ),
    ("POST", f"{NS}/engrams", {"text": "a", "occurred_at": "2024-05-01"}, 422, "invalid_request"),
    ("POST", f"{NS}/engrams", {"text": "a", "occurred_at": "yesterday"}, 422, "invalid_request"),
    (
        "POST",
        f"{NS}/engrams",
        {"text": "a", "occurred_at": "2024-13-45T00:00:00Z"},
        422,
        "invalid_request",
    ),
    (
        "POST",
        f"{NS}/engrams",
        {"text": "a", "occurred_at": "0001-01-01T00:00:00+02:00"},
        422,
        "invalid_input",
    ),
    ("POST", f"{NS}/engrams", {"text": "a", "occurred_at": 1714557600}, 422, "invalid_request"),
    ("POST", f"{NS}/engrams", {"text": "x" * 32_001}, 413, "limit_exceeded"),
    (
        "POST",
        f"{NS}/engrams",
        {"text": "a", "metadata": {"k": "v" * 70_000}},
        413,
        "limit_exceeded",
    ),
    ("POST", f"{NS}/engrams", {"text": "a", "metadata": {}}, 201, ""),  # the control case
    ("POST", f"{NS}/engrams/batch", {"items": {"text": "a"}}, 422, "invalid_request"),
    (
        "POST",
        f"{NS}/engrams/batch",
        {"items": [{"text": "a"}, {"text": ""}]},
        422,
        "invalid_request",
    ),
    ("POST", f"{NS}/engrams/batch", {"items": [{"text": "a"}] * 10_001}, 413, "limit_exceeded"),
    ("POST", f"{NS}/engrams/batch", [{"text": "a"}], 422, "invalid_request"),
    ("POST", f"{NS}/search", {"query": ""}, 422, "invalid_request"),
    ("POST", f"{NS}/search", {"query": "  "}, 422, "invalid_input"),
    ("POST", f"{NS}/search", {"query": "a", "limit": "5"}, 422, "invalid_request"),
    ("POST", f"{NS}/search", {"query": "a", "limit": 2.5}, 422, "invalid_request"),
    ("POST", f"{NS}/search", {"query": "a", "limit": True}, 422, "invalid_request"),
    ("POST", f"{NS}/search", {"query": "a", "limit": 0}, 422, "invalid_request"),
    ("POST", f"{NS}/search", {"query": "a", "limit": 10**6}, 413, "limit_exceeded"),
    ("POST", f"{NS}/search", {"query": "a", "limit": 10**30}, 413, "limit_exceeded"),
    ("POST", f"{NS}/search", {"query": "a", "neighbours": 21}, 422, "invalid_request"),
    ("POST", f"{NS}/search", {"query": "a", "now": "2024-01-01T00:00:00"}, 422, "invalid_request"),
    ("POST", f"{NS}/search", {"query": "q" * 4001}, 413, "limit_exceeded"),
    ("GET", f"{NS}/engrams/{MISSING}", None, 404, "not_found"),
    ("GET", f"{NS}/engrams/{MISSING}/history", None, 404, "not_found"),
    ("PATCH", f"{NS}/engrams/{MISSING}", {"text": "b"}, 404, "not_found"),
    ("DELETE", f"{NS}/engrams/{MISSING}", None, 404, "not_found"),
    ("GET", f"{NS}/engrams/not-an-id", None, 422, "invalid_request"),
    ("GET", f"{NS}/engrams/{'A' * 32}", None, 422, "invalid_request"),
    ("PUT", f"{NS}/engrams/{MISSING}", {"text": "b"}, 405, "method_not_allowed"),
    ("GET", "/v1/nothing", None, 404, "route_not_found"),
    ("GET", "/v1/namespaces/alice/engrams", None, 405, "method_not_allowed"),
]


@pytest.fixture
def app(make_app: Callable[..., tuple[TestClient, Memory, AppKeys]]) -> tuple[TestClient, AppKeys]:
    client, _memory, keys = make_app()
    return client, keys


def _stats(client: TestClient, keys: AppKeys) -> Any:
    return client.get("/v1/stats", headers=bearer(keys.admin)).json()


def _case_id(case: tuple[str, str, Any, int, str]) -> str:
    method, path, body, _, _ = case
    return f"{method} {path.removeprefix(NS)} {json.dumps(body)[:40]}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_bad_input_is_a_4xx_with_a_message_and_writes_nothing(
    app: tuple[TestClient, AppKeys], case: tuple[str, str, Any, int, str]
) -> None:
    client, keys = app
    method, path, body, status, code = case
    before = _stats(client, keys)
    response = client.request(method, path, json=body, headers=bearer(keys.alice))
    assert response.status_code == status, response.text
    if status >= 400:
        error = response.json()["error"]
        assert error["code"] == code
        assert error["message"]
        assert _stats(client, keys) == before


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"",
        b"null",
        b'"text"',
        b'{"text": NaN}',
        b'{"text": "a", "metadata": {"x": NaN}}',
    ],
)
def test_bodies_that_are_not_an_object_are_refused(
    app: tuple[TestClient, AppKeys], content: bytes
) -> None:
    client, keys = app
    response = client.post(
        f"{NS}/engrams",
        content=content,
        headers={**bearer(keys.alice), "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422), response.text
    assert response.json()["error"]["message"]
    assert _stats(client, keys) == {"namespaces": []}


def test_deeply_nested_metadata_is_refused(app: tuple[TestClient, AppKeys]) -> None:
    client, keys = app
    nested: Any = "leaf"
    for _ in range(40):
        nested = {"k": nested}
    response = client.post(
        f"{NS}/engrams", json={"text": "a", "metadata": nested}, headers=bearer(keys.alice)
    )
    assert response.status_code == 422
    assert "nested too deeply" in response.json()["error"]["message"]


@pytest.mark.parametrize("query", [SQL, *FTS, "\x00", "' OR 1=1 --", "ns : x"])
def test_sql_and_fts_syntax_in_queries_is_plain_text(
    app: tuple[TestClient, AppKeys], query: str
) -> None:
    client, keys = app
    client.post(
        f"{NS}/engrams", json={"text": "the cat sat on the mat"}, headers=bearer(keys.alice)
    )
    response = client.post(f"{NS}/search", json={"query": query}, headers=bearer(keys.alice))
    assert response.status_code == 200, response.text
    assert _stats(client, keys)["namespaces"][0]["engrams"] == 1


@pytest.mark.parametrize(
    "namespace", ["x'; DROP TABLE engrams; --", "a b", "-x", "%00", "x" * 200, "é"]
)
def test_malformed_namespaces_are_refused(app: tuple[TestClient, AppKeys], namespace: str) -> None:
    client, keys = app
    response = client.post(
        f"/v1/namespaces/{namespace}/engrams", json={"text": "a"}, headers=bearer(keys.admin)
    )
    assert response.status_code in (404, 413, 422), response.text
    assert response.json()["error"]["message"]
    assert _stats(client, keys) == {"namespaces": []}


def test_an_id_from_another_namespace_is_not_found_there(app: tuple[TestClient, AppKeys]) -> None:
    client, keys = app
    theirs = client.post(
        "/v1/namespaces/bob/engrams", json={"text": "bob's secret"}, headers=bearer(keys.bob)
    ).json()["id"]
    # an admin asking in the wrong namespace: 404, as the library says
    for method in ("GET", "PATCH", "DELETE"):
        response = client.request(
            method, f"{NS}/engrams/{theirs}", json={"text": "x"}, headers=bearer(keys.admin)
        )
        assert response.status_code == 404, (method, response.text)
    assert (
        client.get(f"/v1/namespaces/bob/engrams/{theirs}", headers=bearer(keys.bob)).json()["text"]
        == "bob's secret"
    )


def test_a_lying_content_length_is_refused(
    make_app: Callable[..., tuple[TestClient, Memory, AppKeys]],
) -> None:
    client, _memory, keys = make_app(max_body_bytes=1000)
    headers = {**bearer(keys.alice), "Content-Type": "application/json"}
    big = json.dumps({"text": "x" * 2000}).encode()
    assert client.post(f"{NS}/engrams", content=big, headers=headers).status_code == 413
    response = client.post(
        f"{NS}/engrams", content=b"{}", headers={**headers, "Content-Length": "abc"}
    )
    assert response.status_code == 400


def test_the_rate_limit_answers_429_with_retry_after(
    make_app: Callable[..., tuple[TestClient, Memory, AppKeys]],
) -> None:
    # a token every 100 s: the seconds these requests take on a loaded machine (they
    # refill the bucket a little) cannot bring Retry-After far below 100
    client, _memory, keys = make_app(rate_per_s=0.01, burst=2)
    statuses = [
        client.get("/v1/namespaces/alice/stats", headers=bearer(keys.alice)).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    refused = client.get("/v1/namespaces/alice/stats", headers=bearer(keys.alice))
    assert 90 <= int(refused.headers["retry-after"]) <= 100
    assert refused.json()["error"]["code"] == "rate_limited"
    # another key has its own bucket
    assert client.get("/v1/namespaces/bob/stats", headers=bearer(keys.bob)).status_code == 200


@pytest.mark.parametrize(
    "header", ["Basic abc", "Bearer", "Bearer ", "bearer eng_x_y", "Token eng_0_0"]
)
def test_malformed_authorization_headers_get_401(
    app: tuple[TestClient, AppKeys], header: str
) -> None:
    client, _keys = app
    response = client.get("/v1/namespaces", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_a_read_key_cannot_write(app: tuple[TestClient, AppKeys]) -> None:
    client, keys = app
    response = client.post(f"{NS}/engrams", json={"text": "a"}, headers=bearer(keys.reader))
    assert response.status_code == 403
    assert "may not write" in response.json()["error"]["message"]
    assert client.get("/v1/namespaces/alice/stats", headers=bearer(keys.reader)).status_code == 200


def test_a_prefix_key_covers_its_prefix_only(app: tuple[TestClient, AppKeys]) -> None:
    client, keys = app
    ok = client.post(
        "/v1/namespaces/team-red/engrams", json={"text": "a"}, headers=bearer(keys.team)
    )
    assert ok.status_code == 201
    no = client.post("/v1/namespaces/teams/engrams", json={"text": "a"}, headers=bearer(keys.team))
    assert no.status_code == 403


def _post_raw(client: TestClient, path: str, body: Any, token: str) -> Any:
    # json.dumps escapes a lone surrogate as \udfff: valid JSON, not valid Unicode text
    headers = {**bearer(token), "Content-Type": "application/json"}
    return client.post(path, content=json.dumps(body).encode("ascii"), headers=headers)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/engrams", {"text": "ok", "speaker": "\udfff"}),
        ("/engrams", {"text": "ok", "session": "\udfff"}),
        ("/engrams", {"text": "ok \udfff"}),
        ("/engrams", {"text": "ok", "metadata": {"\udfff": 1}}),
        ("/engrams", {"text": "ok", "metadata": {"k": ["\ud800"]}}),
        ("/engrams/batch", {"items": [{"text": "ok"}, {"text": "ok", "speaker": "\udfff"}]}),
        ("/search", {"query": "ok \udfff"}),
        ("/context", {"query": "ok", "session": "\udfff"}),
    ],
)
def test_a_lone_surrogate_is_invalid_input_not_a_server_error(
    app: tuple[TestClient, AppKeys], path: str, body: Any
) -> None:
    client, keys = app
    before = _stats(client, keys)
    response = _post_raw(client, f"{NS}{path}", body, keys.alice)
    assert response.status_code == 422, response.text
    # the schema refuses some (a constrained string field), the library the rest
    assert response.json()["error"]["code"] in {"invalid_input", "invalid_request"}
    assert _stats(client, keys) == before


@pytest.mark.parametrize("label", ["speaker", "session"])
@pytest.mark.parametrize("char", ["\t", "\x85", "\u2028"])
def test_a_label_with_a_control_character_is_named_in_the_refusal(
    app: tuple[TestClient, AppKeys], label: str, char: str
) -> None:
    client, keys = app
    response = _post_raw(client, f"{NS}/engrams", {"text": "ok", label: f"a{char}b"}, keys.alice)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert f"U+{ord(char):04X}" in error["message"]
    assert "empty" not in error["message"]


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/mood", "now=0001-01-01T00:00:00Z"),
        ("/mood", "now=9999-12-31T23:59:59Z"),
        ("/facts", "as_of=0001-01-01T00:00:00Z"),
    ],
)
def test_a_time_outside_the_range_in_a_query_is_invalid_input(
    app: tuple[TestClient, AppKeys], path: str, query: str
) -> None:
    client, keys = app
    response = client.get(f"{NS}{path}?{query}", headers=bearer(keys.alice))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"


@pytest.mark.parametrize("when", ["1700000000", "1700000000.5", "-1", "0"])
def test_a_unix_number_is_refused_in_every_datetime_query_parameter(
    app: tuple[TestClient, AppKeys], when: str
) -> None:
    client, keys = app
    added = client.post(f"{NS}/engrams", json={"text": "ok"}, headers=bearer(keys.alice)).json()
    for path, name in (
        ("/mood", "now"),
        ("/facts", "as_of"),
        (f"/engrams/{added['id']}/retention", "now"),
    ):
        response = client.get(f"{NS}{path}", params={name: when}, headers=bearer(keys.alice))
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["code"] == "invalid_request"
        good = client.get(
            f"{NS}{path}", params={name: "2024-05-01T10:00:00Z"}, headers=bearer(keys.alice)
        )
        assert good.status_code == 200, (path, good.text)


def test_the_now_of_a_write_may_not_run_far_ahead_of_the_server_clock(
    app: tuple[TestClient, AppKeys],
) -> None:
    client, keys = app
    headers = bearer(keys.alice)
    added = client.post(f"{NS}/engrams", json={"text": "a plan"}, headers=headers).json()
    soon = wire.time_to_json(datetime.now(timezone.utc) + timedelta(hours=1))
    later = wire.time_to_json(datetime.now(timezone.utc) + timedelta(days=2))
    for far in (later, "9999-12-31T23:59:59Z"):
        for method, path, body in (
            ("PATCH", f"/engrams/{added['id']}", {"text": "a new plan", "now": far}),
            ("POST", "/consolidate", {"now": far}),
            ("POST", "/fade", {"now": far}),
            ("POST", "/search", {"query": "plan", "now": far}),
        ):
            response = client.request(method, f"{NS}{path}", json=body, headers=headers)
            assert response.status_code == 422, (path, response.text)
            assert response.json()["error"]["code"] in {"invalid_request", "invalid_input"}
    # a search that writes nothing may look ahead; a write a little ahead is taken
    looking = {"query": "plan", "now": later, "reinforce": False}
    assert client.post(f"{NS}/search", json=looking, headers=headers).status_code == 200
    patch = {"text": "a new plan", "now": soon}
    assert (
        client.patch(f"{NS}/engrams/{added['id']}", json=patch, headers=headers).status_code == 200
    )


def test_a_trailing_slash_is_no_route_and_never_a_redirect_from_the_host_header(
    app: tuple[TestClient, AppKeys],
) -> None:
    client, keys = app
    headers = {**bearer(keys.admin), "Host": "evil.example"}
    response = client.get("/v1/namespaces/", headers=headers, follow_redirects=False)
    assert response.status_code == 404
    assert "location" not in response.headers
    assert response.json()["error"]["code"] == "route_not_found"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"text": "\xff\xfe"}', "bad_request"),  # not UTF-8
        (b'{"text": "a", "importance": ' + b"9" * 5000 + b"}", "bad_request"),  # past 4300 digits
    ],
)
def test_bodies_python_cannot_decode_get_a_documented_code(
    app: tuple[TestClient, AppKeys], body: bytes, code: str
) -> None:
    client, keys = app
    headers = {**bearer(keys.alice), "Content-Type": "application/json"}
    response = client.post(f"{NS}/engrams", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_the_schema_refuses_what_the_library_refuses(app: tuple[TestClient, AppKeys]) -> None:
    client, keys = app
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    kinds = next(s for s in schemas["SearchIn"]["properties"]["kinds"]["anyOf"] if "items" in s)
    assert kinds["minItems"] == 1
    bound = next(s for s in schemas["BudgetIn"]["properties"]["max_memories"]["anyOf"] if s)
    assert bound["minimum"] == 0
    headers = bearer(keys.alice)
    search = client.post(f"{NS}/search", json={"query": "a", "kinds": []}, headers=headers)
    assert search.status_code == 422
    budget = client.put(f"{NS}/budget", json={"max_memories": -1}, headers=headers)
    assert budget.status_code == 422
    assert budget.json()["error"]["code"] == "invalid_request"


def test_every_operation_documents_its_401(app: tuple[TestClient, AppKeys]) -> None:
    client, _keys = app
    paths = client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if path != "/healthz":
                assert "401" in operation["responses"], (method, path)


def test_a_405_lists_the_methods_the_route_has(app: tuple[TestClient, AppKeys]) -> None:
    client, keys = app
    paths = client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        concrete = path.replace("{namespace}", "alice").replace("{id}", MISSING)
        concrete = concrete.replace("{session}", "s1")
        documented = {m.upper() for m in operations}
        unused = next(m for m in ("PUT", "PATCH", "DELETE", "POST", "GET") if m not in documented)
        response = client.request(unused, concrete, headers=bearer(keys.admin))
        assert response.status_code == 405, (unused, path)
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert allowed - {"HEAD"} == documented, (path, allowed)


def test_an_unknown_query_parameter_is_refused_like_an_unknown_field(
    app: tuple[TestClient, AppKeys],
) -> None:
    client, keys = app
    response = client.get(
        f"{NS}/mood", params={"nwo": "2024-05-01T10:00:00Z"}, headers=bearer(keys.alice)
    )
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "invalid_request",
        "message": "unknown query parameter 'nwo'",
    }
    assert (
        client.get(
            f"{NS}/mood", params={"now": "2024-05-01T10:00:00Z"}, headers=bearer(keys.alice)
        ).status_code
        == 200
    )


def test_an_integer_with_a_zero_fraction_is_an_integer_as_json_schema_says(
    app: tuple[TestClient, AppKeys],
) -> None:
    client, keys = app
    headers = bearer(keys.alice)
    assert (
        client.post(f"{NS}/search", json={"query": "a", "limit": 5.0}, headers=headers).status_code
        == 200
    )
    for bad in (5.5, True, "5"):
        response = client.post(f"{NS}/search", json={"query": "a", "limit": bad}, headers=headers)
        assert response.status_code == 422, bad


def test_the_schema_states_the_library_rules_on_labels_texts_emotions_and_times(
    app: tuple[TestClient, AppKeys],
) -> None:
    client, _keys = app
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    engram = schemas["EngramIn"]["properties"]
    assert engram["speaker"]["maxLength"] == 128
    assert re.fullmatch(engram["speaker"]["pattern"], "Ada Lovelace")
    for bad in ("a\tb", "a\x85b", "a\u2028b", "   "):
        assert not re.search(engram["speaker"]["pattern"], bad)
    assert not re.search(engram["text"]["pattern"], "a\x00b")
    assert engram["importance"]["minimum"] == 0
    assert engram["importance"]["maximum"] == 1
    assert "joy" in engram["emotion"]["enum"]
    when = next(s for s in engram["occurred_at"]["anyOf"] if s.get("type") == "string")
    assert re.match(when["pattern"], "2024-05-01T10:00:00Z")
    assert not re.match(when["pattern"], "0001-01-01T00:00:00Z")
    assert not re.match(when["pattern"], "9999-12-31T23:59:59Z")
    assert schemas["SearchIn"]["properties"]["limit"]["maximum"] == 1000


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1e3"])
def test_a_content_length_uvicorn_cannot_parse_gets_the_json_error_body(
    live_server: LiveServer, length: bytes
) -> None:
    url = urlsplit(live_server.url)
    request = (
        b"POST /v1/namespaces/alice/engrams HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer " + live_server.alice.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: " + length + b"\r\n\r\n{}"
    )
    with socket.create_connection((url.hostname, url.port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(4096):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body)["error"]["code"] == "bad_request"
