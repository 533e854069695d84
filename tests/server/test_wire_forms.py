"""The REST API's answers are engramdb.wire's JSON forms, and its OpenAPI schemas come from them."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from engramdb import Budget, Memory, Settings, wire
from engramdb.server import schemas
from engramdb.server.http import ServerOptions, create_app
from engramdb.testing.fakes import HashEmbedder

NOW = datetime(2024, 4, 1, tzinfo=timezone.utc)


def response_model(kind: type) -> type:
    """The response model the server built for the public value ``kind`` (as its schema
    module was imported)."""
    model = schemas._NAMED.get(kind)
    assert isinstance(model, type), kind
    assert issubclass(model, schemas.ValueOut), kind
    return model


_NO_AUTH = ServerOptions(auth=False)


@pytest.mark.parametrize("kind", wire.VALUES, ids=lambda kind: kind.__name__)
def test_a_response_schema_has_exactly_the_keys_of_the_json_form_all_required(
    kind: type,
) -> None:
    with Memory(":memory:", embedder=HashEmbedder()) as memory:
        app = create_app(Settings(path=":memory:"), memory=memory, options=_NO_AUTH)
        schema = app.openapi()["components"]["schemas"][response_model(kind).__name__]
    keys = [f.name for f in wire.fields(kind)]
    if kind is Budget:
        keys = ["namespace", *keys]  # the budget's envelope
    assert list(schema["properties"]) == keys
    assert schema["required"] == keys


def test_answers_are_the_json_forms_wire_writes() -> None:
    # tests/server/test_client.py reads them back with the Client, against a live server
    with Memory(":memory:", embedder=HashEmbedder()) as memory:
        app = create_app(Settings(path=":memory:"), memory=memory, options=_NO_AUTH)
        with TestClient(app) as http:
            body = {
                "text": "Rex is our dog.",
                "speaker": "Maya",
                "occurred_at": "2024-03-23T11:15+01:00",
            }
            added = http.post("/v1/namespaces/n/engrams", json=body).json()
            engram = memory.get(added["id"], namespace="n")
            assert added == wire.to_json(engram)
            answer = http.get(f"/v1/namespaces/n/engrams/{engram.id}").json()
            assert answer == wire.to_json(engram)
            assert answer["occurred_at"] == "2024-03-23T10:15:00Z"
            query = {"query": "dog", "reinforce": False, "now": "2024-04-01T00:00:00Z"}
            hits = http.post("/v1/namespaces/n/search", json=query).json()["hits"]
            found = memory.search("dog", namespace="n", reinforce=False, now=NOW)
            # each search has its own id (docs/learning.md): the rest is the same
            assert {h["search_id"] for h in hits} != {found[0].search_id}
            unsearched = [{**h, "search_id": None} for h in hits]
            assert unsearched == [{**wire.to_json(h), "search_id": None} for h in found]
