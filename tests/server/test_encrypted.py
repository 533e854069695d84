"""A server over an encrypted store: plaintext over the API, none in the files."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from engramdb import EncryptionKey, Memory, Settings
from engramdb.embed import Embedder
from engramdb.security import store_files, where_found
from engramdb.security.crypto import generate_key
from engramdb.security.keys import KeyRing, keys_path
from engramdb.server.http import ServerOptions, create_app

from .conftest import bearer


def test_a_server_over_an_encrypted_store(tmp_path: Path, embedder: Embedder) -> None:
    store = tmp_path / "store"
    settings = Settings(path=str(store), encryption=EncryptionKey.from_text(generate_key()))
    with (
        Memory(settings=settings, embedder=embedder) as memory,
        KeyRing(keys_path(str(store))) as ring,
    ):
        token = ring.create(name="app", namespaces=["maya"], access="write").token
        app = create_app(
            settings, memory=memory, keys=ring, options=ServerOptions(mcp=False, rate_per_s=0.0)
        )
        with TestClient(app) as client:
            added = client.post(
                "/v1/namespaces/maya/engrams",
                json={"text": "Maya adopted a greyhound called Vexmortain", "speaker": "Maya"},
                headers=bearer(token),
            )
            assert added.status_code == 201, added.text
            found = client.post(
                "/v1/namespaces/maya/search",
                json={"query": "what is the dog called?"},
                headers=bearer(token),
            )
            assert found.status_code == 200, found.text
            assert "Vexmortain" in found.json()["hits"][0]["engram"]["text"]
        assert memory.encrypted
    assert where_found(store_files(store), ["Vexmortain", "greyhound"]) == []
