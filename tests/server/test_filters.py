"""Search filters on the served surfaces (docs/filters.md): the REST routes, ``Client``
over the same app and the MCP tools take ``where``, ``occurred_after`` and
``occurred_before`` as the library does, within the namespace asked, and refuse a
malformed filter with a message naming the problem."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import httpx
import jsonschema
import mcp
import pytest
from fastapi.testclient import TestClient

from engramdb import Client, EncryptionKey, InvalidInputError, Memory, Settings
from engramdb.filters import parse
from engramdb.security.crypto import generate_key
from engramdb.security.keys import KeyRing
from engramdb.server.http import ServerOptions, create_app
from engramdb.server.mcp import build_mcp
from engramdb.server.schemas import WHERE_RULE
from engramdb.testing import HashEmbedder
from in_process import InProcess

from .conftest import bearer

T0 = datetime(2024, 1, 1, 9, tzinfo=timezone.utc)
NOW = (T0 + timedelta(days=90)).isoformat()
QUERY = "what did they cook?"


def _seed(memory: Memory, namespace: str) -> None:
    memory.add_many(
        [
            {
                "text": f"{who} cooked {dish} on day {i}",
                "speaker": who,
                "session": f"s{i // 4}",
                "occurred_at": T0 + timedelta(days=i),
                "metadata": {"day": i, "dish": dish},
            }
            for i, (who, dish) in enumerate(
                [("Maya", "soup"), ("Tom", "rice"), ("Maya", "pie"), ("Tom", "soup")] * 3
            )
        ],
        namespace=namespace,
    )


@pytest.fixture
def served() -> Iterator[tuple[TestClient, str, Memory]]:
    """An app over a store holding the same turns in namespaces "alice" and "bob", its
    admin key and its Memory."""
    settings = Settings(path=":memory:")
    with Memory(":memory:", embedder=HashEmbedder()) as memory, KeyRing(":memory:") as ring:
        _seed(memory, "alice")
        _seed(memory, "bob")
        token = ring.create(name="admin", namespaces=[], access="admin").token
        app = create_app(
            settings, memory=memory, keys=ring, options=ServerOptions(mcp=False, rate_per_s=0.0)
        )
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, token, memory


def _post(client: TestClient, token: str, route: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(f"/v1/namespaces/alice/{route}", json=body, headers=bearer(token))


def test_http_search_and_context_filter_within_the_namespace(
    served: tuple[TestClient, str, Memory],
) -> None:
    client, token, _memory = served
    body = {"query": QUERY, "limit": 20, "now": NOW, "reinforce": False}
    found = _post(client, token, "search", {**body, "where": {"speaker": "Maya"}})
    assert found.status_code == 200, found.text
    hits = found.json()["hits"]
    assert len(hits) == 6
    assert {h["engram"]["speaker"] for h in hits} == {"Maya"}
    assert {h["engram"]["namespace"] for h in hits} == {"alice"}
    bounded = _post(client, token, "search", {
        **body,
        "where": {"metadata.dish": {"$in": ["soup", "pie"]}, "metadata.day": {"$lt": 4}},
        "occurred_after": (T0 + timedelta(days=2)).isoformat(),
        "occurred_before": (T0 + timedelta(days=5)).isoformat(),
    })  # fmt: skip
    assert sorted(h["engram"]["metadata"]["day"] for h in bounded.json()["hits"]) == [2, 3]
    context = _post(client, token, "context",
                    {"query": QUERY, "now": NOW, "where": {"speaker": "Tom"}})  # fmt: skip
    assert context.status_code == 200, context.text
    recalled = [i for i in context.json()["items"] if i["kind"] == "episode"]
    assert recalled
    assert {i["speaker"] for i in recalled} == {"Tom"}


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        ({"where": {"text": "soup"}}, "invalid_input", "where field 'text' is not filterable"),
        ({"where": {"metadata.dish": {"$like": "s"}}}, "invalid_input", "unknown operator"),
        ({"where": {"metadata.day": {"$in": []}}}, "invalid_input", "at least one value"),
        ({"where": {"metadata.day": {"$gt": True}}}, "invalid_input", "not a boolean"),
        ({"where": {"speaker": 7}}, "invalid_input", "speaker values are strings"),
        ({"where": ["speaker", "Maya"]}, "invalid_request", "where"),
        (
            {"where": {f"metadata.k{i}": {"$gte": 0, "$lt": 9} for i in range(17)}},
            "invalid_input",
            "where holds 34 conditions; the limit is 32",
        ),
        ({"occurred_after": "2024-01-01T00:00:00"}, "invalid_request", "occurred_after"),
        (
            {"occurred_after": "2024-02-01T00:00:00Z", "occurred_before": "2024-01-01T00:00:00Z"},
            "invalid_input",
            "occurred_after must be earlier than occurred_before",
        ),
    ],
)
@pytest.mark.parametrize("route", ["search", "context"])
def test_a_malformed_filter_is_a_422_naming_the_problem(
    served: tuple[TestClient, str, Memory],
    route: str,
    extra: dict[str, Any],
    code: str,
    message: str,
) -> None:
    client, token, _memory = served
    answer = _post(client, token, route, {"query": QUERY, **extra})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == code
    assert message in answer.json()["error"]["message"]


def test_an_ordering_filter_on_an_encrypted_namespace_is_a_422() -> None:
    settings = Settings(path=":memory:", encryption=EncryptionKey("k", generate_key()))
    with (
        Memory(settings=settings, embedder=HashEmbedder()) as memory,
        KeyRing(":memory:") as ring,
    ):
        _seed(memory, "alice")
        token = ring.create(name="admin", namespaces=[], access="admin").token
        app = create_app(
            settings, memory=memory, keys=ring, options=ServerOptions(mcp=False, rate_per_s=0.0)
        )
        with TestClient(app, raise_server_exceptions=False) as client:
            equal = _post(client, token, "search", {"query": QUERY, "limit": 20,
                                                    "where": {"metadata.dish": "pie"}})  # fmt: skip
            assert equal.status_code == 200, equal.text
            assert {h["engram"]["metadata"]["dish"] for h in equal.json()["hits"]} == {"pie"}
            ordered = _post(client, token, "search",
                            {"query": QUERY, "where": {"metadata.day": {"$gte": 3}}})  # fmt: skip
            assert ordered.status_code == 422
            assert ordered.json()["error"]["code"] == "invalid_input"
            assert "encrypted namespace" in ordered.json()["error"]["message"]


# The schema accepts exactly what the library accepts (save the count of conditions in
# all, which no JSON Schema can say: tests/server/test_fuzz.py leaves it out).
GOOD = [
    {},
    {"speaker": "Maya"},
    {"speaker": {"$ne": "Tom", "$in": ["Maya", "Ana"]}, "session": {"$gte": "s1"}},
    {"metadata.day": {"$gt": 2, "$lte": 5.5}, "metadata.dish": "soup"},
    {"metadata.flag": True, "metadata.n": {"$nin": [1, "1", False]}},
    {"metadata.a.b": {"$eq": 1e308}},
]
BAD = [
    {"text": "x"},
    {"metadata.": 1},
    {"speaker": 1},
    {"speaker": {"$in": ["a", 1]}},
    {"speaker": {}},
    {"metadata.d": None},
    {"metadata.d": [1, 2]},
    {"metadata.d": {"$in": []}},
    {"metadata.d": {"$in": list(range(257))}},
    {"metadata.d": {"$gt": True}},
    {"metadata.d": {"$regex": "a"}},
    {"metadata.d": "a\x00b"},
    {"metadata.d": 10**400},
    {f"metadata.k{i}": i for i in range(33)},
]


@pytest.mark.parametrize("where", GOOD + BAD)
def test_the_schema_of_where_accepts_what_the_library_accepts(where: dict[str, Any]) -> None:
    try:
        parse(where)
        accepted = True
    except InvalidInputError:
        accepted = False
    assert accepted == (where in GOOD)
    valid = jsonschema.Draft202012Validator(WHERE_RULE).is_valid(where)
    assert valid == accepted, where


def test_the_openapi_document_states_the_filter_options(
    served: tuple[TestClient, str, Memory],
) -> None:
    client, _token, _memory = served
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("SearchIn", "ContextIn"):
        properties = schemas[name]["properties"]
        where = next(s for s in properties["where"]["anyOf"] if s.get("type") == "object")
        assert where == WHERE_RULE
        for bound in ("occurred_after", "occurred_before"):
            given = next(s for s in properties[bound]["anyOf"] if s.get("type") == "string")
            assert given["format"] == "date-time"


def test_the_client_filters_as_memory_does(served: tuple[TestClient, str, Memory]) -> None:
    client, token, memory = served
    options: dict[str, Any] = {
        "where": {"speaker": "Maya", "metadata.dish": {"$ne": "pie"}},
        "occurred_before": T0 + timedelta(days=9),
    }
    now = T0 + timedelta(days=90)
    local = memory.search(QUERY, namespace="alice", limit=20, now=now, reinforce=False, **options)
    with Client("http://testserver", api_key=token, transport=InProcess(client)) as remote:
        hits = remote.search(QUERY, namespace="alice", limit=20, now=now, reinforce=False,
                             **options)  # fmt: skip
        bundle = remote.context(QUERY, namespace="alice", now=now, **options)
        assert [h.engram.id for h in hits] == [h.engram.id for h in local]
        assert sorted(h.engram.metadata["day"] for h in hits) == [0, 4, 8]
        assert bundle.render() == memory.context(QUERY, namespace="alice", now=now,
                                                 **options).render()  # fmt: skip
        # refused as Memory refuses it: here (a datetime has no place in where) and by
        # the server (the library's message comes back as the same error)
        with pytest.raises(InvalidInputError, match="must be a string, a number or a boolean"):
            remote.search(QUERY, namespace="alice", where={"metadata.day": T0})
        with pytest.raises(InvalidInputError, match="earlier than occurred_before"):
            remote.search(QUERY, namespace="alice", occurred_after=now, occurred_before=T0)


def _tool(memory: Memory, tool: str, **arguments: Any) -> Any:
    async def call() -> Any:
        async with mcp.Client(build_mcp(memory, namespace="alice")) as client:
            result = await client.call_tool(tool, arguments)
            if result.is_error:
                return str(result.content[0].text)  # type: ignore[union-attr]
            return result.structured_content

    return anyio.run(call)


def test_the_mcp_tools_filter_and_say_what_is_wrong(
    served: tuple[TestClient, str, Memory],
) -> None:
    _client, _token, memory = served
    after = (T0 + timedelta(days=4)).isoformat()
    found = _tool(memory, "recall", query=QUERY, limit=20, now=NOW, reinforce=False,
                  where={"speaker": "Tom"}, occurred_after=after)  # fmt: skip
    assert sorted(h["engram"]["metadata"]["day"] for h in found["hits"]) == [5, 7, 9, 11]
    assert {h["engram"]["namespace"] for h in found["hits"]} == {"alice"}
    bundle = _tool(memory, "context", query=QUERY, now=NOW, where={"metadata.dish": "rice"})
    assert {i["text"].split(" on ")[0] for i in bundle["items"] if i["kind"] == "episode"} == {
        "Tom cooked rice"
    }
    refused = _tool(memory, "recall", query=QUERY, where={"metadata.dish": {"$near": "x"}})
    assert "invalid_input: where['metadata.dish'] has an unknown operator '$near'" in refused

    async def schemas() -> dict[str, Any]:
        async with mcp.Client(build_mcp(memory)) as client:
            return {t.name: t.input_schema for t in (await client.list_tools()).tools}

    tools = anyio.run(schemas)
    for name in ("recall", "context"):
        where = tools[name]["properties"]["where"]
        assert WHERE_RULE in where["anyOf"], name
