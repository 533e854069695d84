"""OpenAIEmbedder against a real HTTP server on 127.0.0.1 speaking /v1/embeddings."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from engramdb.embed import Embedder, OpenAIEmbedder
from engramdb.embed.http import endpoint_url
from engramdb.errors import EmbeddingError, InvalidInputError

DIMS = 8


def fake_vector(text: str, dims: int = DIMS) -> list[float]:
    """Deterministic, deliberately not unit-length: the client must normalise."""
    return [float((len(text) + 1) * (i + 1) % 7 + 1) for i in range(dims)]


@dataclass
class Script:
    """What the server answers: queued (status, body) first, then real embeddings."""

    queued: list[tuple[int, bytes]] = field(default_factory=list)
    dims: int = DIMS
    reverse: bool = False  # answer items out of order, relying on "index"
    requests: list[dict[str, Any]] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    script: Script

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.script.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        if self.script.queued:
            status, payload = self.script.queued.pop(0)
        else:
            items = [
                {"object": "embedding", "index": i, "embedding": fake_vector(t, self.script.dims)}
                for i, t in enumerate(body["input"])
            ]
            if self.script.reverse:
                items.reverse()
            status = 200
            payload = json.dumps({"object": "list", "data": items, "model": body["model"]}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    handler = type("ScriptedHandler", (Handler,), {"script": script})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", script
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def client(url: str, **kwargs: Any) -> OpenAIEmbedder:
    return OpenAIEmbedder(url, "nomic-embed-text", backoff_s=0.01, **kwargs)


def test_embeds_normalises_and_discovers_dims(server: tuple[str, Script]) -> None:
    url, script = server
    embedder = client(url, api_key="sk-test")
    assert embedder.model_id == "openai:nomic-embed-text"
    vectors = embedder.embed(["hello", "a longer text"])
    assert vectors.shape == (2, DIMS)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    expected = np.array(fake_vector("hello"))
    np.testing.assert_allclose(vectors[0], expected / np.linalg.norm(expected), atol=1e-6)
    assert embedder.dims == DIMS
    assert isinstance(embedder, Embedder)  # reads dims: no probe once it is known
    (request,) = script.requests
    assert request["path"] == "/v1/embeddings"
    assert request["auth"] == "Bearer sk-test"
    assert request["body"] == {"model": "nomic-embed-text", "input": ["hello", "a longer text"]}


def test_batches_requests_and_keeps_order(server: tuple[str, Script]) -> None:
    url, script = server
    script.reverse = True  # the server answers out of order; "index" puts it right
    texts = [f"text {'x' * i}" for i in range(7)]
    vectors = client(url, batch_size=3).embed(texts)
    assert [len(r["body"]["input"]) for r in script.requests] == [3, 3, 1]
    assert script.requests[0]["auth"] is None
    for text, vector in zip(texts, vectors, strict=True):
        expected = np.array(fake_vector(text))
        np.testing.assert_allclose(vector, expected / np.linalg.norm(expected), atol=1e-6)


def test_dims_probe_before_first_embed(server: tuple[str, Script]) -> None:
    url, script = server
    embedder = client(url)
    assert embedder.dims == DIMS
    assert len(script.requests) == 1
    assert embedder.embed([]).shape == (0, DIMS)


def test_retries_500_then_succeeds(server: tuple[str, Script]) -> None:
    url, script = server
    script.queued = [(500, b'{"error": "warming up"}'), (429, b'{"error": "slow down"}')]
    vectors = client(url).embed(["hello"])
    assert vectors.shape == (1, DIMS)
    assert len(script.requests) == 3


def test_gives_up_after_three_tries(server: tuple[str, Script]) -> None:
    url, script = server
    script.queued = [(503, b"busy")] * 5
    with pytest.raises(EmbeddingError, match=r"HTTP 503.*after 3 tries: busy"):
        client(url).embed(["hello"])
    assert len(script.requests) == 3


def test_client_error_is_not_retried(server: tuple[str, Script]) -> None:
    url, script = server
    script.queued = [(401, b'{"error": "bad key"}')]
    with pytest.raises(EmbeddingError, match=r"HTTP 401.*bad key"):
        client(url).embed(["hello"])
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>oops</html>", "not JSON"),
        (b'{"result": []}', "without a 'data' list"),
        (b'{"data": [{"embedding": [1.0, 2.0]}]}', "1 embeddings for 2 texts"),
        (b'{"data": [{"embedding": [1.0]}, {"embedding": [1.0, 2.0]}]}', "equal-length"),
        (b'{"data": [{"embedding": "abc"}, {"embedding": [1.0]}]}', "'embedding' list"),
        (b'{"data": [{"embedding": [0.0]}, {"embedding": [1.0]}]}', "zero or non-finite"),
        (b'{"data": [{"index": 0, "embedding": [1]}, {"index": 0, "embedding": [1]}]}', "index"),
    ],
)
def test_malformed_response_raises_embedding_error(
    server: tuple[str, Script], body: bytes, message: str
) -> None:
    url, script = server
    script.queued = [(200, body)]
    with pytest.raises(EmbeddingError, match=message):
        client(url).embed(["one", "two"])


def test_wrong_dims_raise(server: tuple[str, Script]) -> None:
    url, _ = server
    with pytest.raises(EmbeddingError, match=rf"{DIMS}-dim vectors.*expected 16"):
        client(url, dims=16).embed(["hello"])


def test_unreachable_server_raises_after_retries() -> None:
    probe = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = probe.server_address[1]
    probe.server_close()  # nothing listens on this port now
    with pytest.raises(EmbeddingError, match="cannot reach"):
        client(f"http://127.0.0.1:{port}", timeout_s=2).embed(["hello"])


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("http://localhost:11434", "http://localhost:11434/v1/embeddings"),
        ("http://localhost:11434/v1/", "http://localhost:11434/v1/embeddings"),
        ("https://api.example.com/v1/embeddings", "https://api.example.com/v1/embeddings"),
    ],
)
def test_endpoint_url_accepts_base_or_endpoint(url: str, endpoint: str) -> None:
    assert endpoint_url(url) == endpoint


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://host/v1", "localhost:8080", "http://u:secret@host/v1"]
)
def test_non_http_urls_are_rejected(url: str) -> None:
    with pytest.raises(InvalidInputError):
        OpenAIEmbedder(url, "m")


def test_api_key_is_not_in_repr() -> None:
    assert "secret" not in repr(OpenAIEmbedder("http://h/v1", "m", api_key="secret"))
