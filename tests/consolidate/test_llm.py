"""The optional LLM extractor, against a fake OpenAI-compatible chat endpoint.

No language model runs here: the server below is a fake that answers every
chat completion with a fixed JSON list of facts, so the test checks the wire
format (request, response parsing, checks) and that consolidation uses it
only when configured.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from engramdb import EmbeddingError, Memory, Settings
from engramdb.consolidate.llm import LLMExtractor
from engramdb.testing.fakes import HashEmbedder

from .conftest import NOW, day


class FakeChat(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []  # noqa: RUF012 - shared by the test on purpose
    answer: Any = None

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        payload = json.dumps(type(self).answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def completion(facts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "choices": [{"message": {"role": "assistant", "content": json.dumps({"facts": facts})}}]
    }


@pytest.fixture
def fake_chat() -> Iterator[str]:
    FakeChat.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_the_llm_extractor_speaks_the_chat_completions_format(fake_chat: str) -> None:
    FakeChat.answer = completion(
        [
            {"turn": 0, "subject": "Maya", "attribute": "residence", "value": "Denver"},
            {"turn": 7, "subject": "Maya", "attribute": "residence", "value": "Oslo"},  # no turn 7
            {"turn": 1, "subject": "", "attribute": "employer", "value": "Stripe"},  # no subject
        ]
    )
    settings = Settings(extractor="llm", extractor_url=fake_chat, extractor_model="tiny")
    with Memory(":memory:", embedder=HashEmbedder(), settings=settings) as mem:
        mem.add("I just moved to Denver!", namespace="u", speaker="Maya", occurred_at=day(1))
        mem.add("Nice.", namespace="u", speaker="Tom", occurred_at=day(1))
        report = mem.consolidate(namespace="u", now=NOW)
        facts = mem.facts(namespace="u")
    assert report.facts == 1
    assert [(f.subject, f.attribute, f.value, f.text) for f in facts] == [
        ("Maya", "residence", "Denver", "Maya lives in Denver")
    ]
    (sent,) = FakeChat.requests
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"]["model"] == "tiny"
    assert "Maya: I just moved to Denver!" in sent["body"]["messages"][-1]["content"]


def test_a_malformed_answer_writes_nothing(fake_chat: str) -> None:
    FakeChat.answer = {"choices": [{"message": {"content": "not json"}}]}
    extractor = LLMExtractor(fake_chat, "tiny", api_key="k")
    settings = Settings(extractor="llm", extractor_url=fake_chat, extractor_model="tiny")
    with Memory(":memory:", embedder=HashEmbedder(), settings=settings) as mem:
        mem.add("I just moved to Denver!", namespace="u", speaker="Maya", occurred_at=day(1))
        with pytest.raises(EmbeddingError):
            mem.consolidate(namespace="u", now=NOW)
        assert mem.store.pending_count("u") == 1
        with pytest.raises(EmbeddingError):
            extractor.extract(list(mem.store.iter_engrams("u")))
    assert FakeChat.requests[-1]["auth"] == "Bearer k"


def test_no_endpoint_is_called_unless_configured(fake_chat: str) -> None:
    with Memory(":memory:", embedder=HashEmbedder()) as mem:
        mem.add("I just moved to Denver!", namespace="u", speaker="Maya", occurred_at=day(1))
        mem.consolidate(namespace="u", now=NOW)
        assert [f.value for f in mem.facts(namespace="u")] == ["Denver"]
    assert FakeChat.requests == []


def test_a_fact_names_as_sources_the_turns_its_words_come_from(fake_chat: str) -> None:
    # A model may pin a statement on the wrong turn of its batch: the fact's value
    # ("Plumtrazk") is said in turn 1 (another session), not in turn 0. The fact names
    # turn 1 as a source too, so erasing turn 1 erases the fact (docs/security.md).
    FakeChat.answer = completion(
        [
            {"turn": 0, "subject": "Maya", "attribute": "residence", "value": "Plumtrazk"},
            {"turn": 2, "subject": "Maya", "attribute": "employer", "value": "Stripe"},
        ]
    )
    settings = Settings(extractor="llm", extractor_url=fake_chat, extractor_model="tiny")
    with Memory(":memory:", embedder=HashEmbedder(), settings=settings) as mem:
        greeting = mem.add(
            "Hello again, Tom!", namespace="u", speaker="Maya", session="a", occurred_at=day(1)
        )
        home = mem.add(
            "I live in Plumtrazk now.", namespace="u", speaker="Maya", session="b",
            occurred_at=day(1),
        )  # fmt: skip
        job = mem.add(
            "I work at Stripe.", namespace="u", speaker="Maya", session="c", occurred_at=day(1)
        )
        mem.consolidate(namespace="u", now=NOW)
        (residence,) = mem.facts(namespace="u", attribute="residence")
        assert set(residence.sources) == {greeting.id, home.id}
        (employer,) = mem.facts(namespace="u", attribute="employer")
        assert employer.sources == (job.id,)  # its words are all its own turn's
        mem.delete(home.id, namespace="u")
        texts = [e["text"] for e in mem.export(namespace="u")]
        assert [t for t in texts if "Plumtrazk" in t] == []
        assert "Maya works at Stripe" in texts
