"""The Ollama and vLLM configurations of docs/integrations/openai-compatible.md, as
written: each ``sh`` block of variables is set, its URLs pointed at a local fake server
that answers ``/v1/embeddings`` and ``/v1/chat/completions`` as those servers do; then
a store adds, searches and consolidates through them. No model runs here."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from engramdb import EmbeddingError, Memory, Settings

PAGE = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "openai-compatible.md"
DIMS = 384  # the size every store is made for (docs/integrations/openai-compatible.md)
NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)


def documented() -> dict[str, dict[str, str]]:
    """Each ``sh`` block of the page that starts with ``# <name>``: its variables."""
    blocks = re.findall(r"```sh\n# (\w+)\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    return {
        name: dict(line.split("=", 1) for line in body.splitlines() if line.strip())
        for name, body in blocks
    }


def vector(text: str, dims: int = DIMS) -> list[float]:
    """Words hashed into buckets: texts that share words point the same way."""
    found = [0.0] * dims
    for word in re.findall(r"\w+", text.lower()):
        found[int(hashlib.sha256(word.encode()).hexdigest(), 16) % dims] += 1.0
    return found


@dataclass
class Seen:
    requests: list[dict[str, Any]] = field(default_factory=list)
    dims: int = DIMS


class Fake(BaseHTTPRequestHandler):
    seen: Seen

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        auth = self.headers.get("Authorization")
        self.seen.requests.append({"path": self.path, "model": body["model"], "auth": auth})
        if self.path == "/v1/embeddings":
            data = [
                {"object": "embedding", "index": i, "embedding": vector(t, self.seen.dims)}
                for i, t in enumerate(body["input"])
            ]
            answer: dict[str, Any] = {"object": "list", "data": data, "model": body["model"]}
        else:
            facts = [{"turn": 0, "subject": "Maya", "attribute": "residence", "value": "Lisbon"}]
            content = json.dumps({"facts": facts})
            answer = {
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]
            }
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake() -> Iterator[tuple[str, Seen]]:
    seen = Seen()
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Served", (Fake,), {"seen": seen}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_the_page_documents_both_servers() -> None:
    blocks = documented()
    assert set(blocks) == {"ollama", "vllm"}
    for variables in blocks.values():
        assert variables["ENGRAMDB_EMBEDDER"] == "openai"
        assert variables["ENGRAMDB_EXTRACTOR"] == "llm"


@pytest.mark.parametrize("server", ["ollama", "vllm"])
def test_the_documented_configuration_embeds_searches_and_extracts(
    server: str, fake: tuple[str, Seen], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, seen = fake
    variables = {
        name: re.sub(r"^http://localhost:\d+", base, value)
        for name, value in documented()[server].items()
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    assert settings.embedder_url == f"{base}/v1"
    with Memory(str(tmp_path / "store"), settings=settings) as mem:
        mem.add("I moved to Lisbon in February.", namespace="u", speaker="Maya", embed="now")
        mem.add("The cello lesson is on Thursday.", namespace="u", speaker="Jonah", embed="now")
        hits = mem.search("where does Maya live, Lisbon?", namespace="u", limit=1, now=NOW)
        report = mem.consolidate(namespace="u", now=NOW)
        facts = [(f.subject, f.attribute, f.value) for f in mem.facts(namespace="u")]
    assert hits[0].engram.text == "I moved to Lisbon in February."
    assert report.facts == 1
    assert facts == [("Maya", "residence", "Lisbon")]
    models = {r["path"]: r["model"] for r in seen.requests}
    assert models == {
        "/v1/embeddings": variables["ENGRAMDB_EMBEDDER_MODEL"],
        "/v1/chat/completions": variables["ENGRAMDB_EXTRACTOR_MODEL"],
    }
    keys = {r["path"]: r["auth"] for r in seen.requests}
    embed_key = variables.get("ENGRAMDB_EMBEDDER_API_KEY")
    chat_key = variables.get("ENGRAMDB_EXTRACTOR_API_KEY")
    assert keys["/v1/embeddings"] == (None if embed_key is None else f"Bearer {embed_key}")
    assert keys["/v1/chat/completions"] == (None if chat_key is None else f"Bearer {chat_key}")


def test_a_model_of_another_size_is_refused_before_anything_is_written(
    fake: tuple[str, Seen], tmp_path: Path
) -> None:
    base, seen = fake
    seen.dims = 768  # nomic-embed-text's size, say
    settings = Settings(embedder="openai", embedder_url=f"{base}/v1", embedder_model="nomic")
    with Memory(str(tmp_path / "store"), settings=settings) as mem:
        with pytest.raises(EmbeddingError, match=r"768-dim vectors .* expected 384"):
            mem.add("I moved to Lisbon in February.", namespace="u", embed="now")
        assert mem.namespaces() == []
