"""Accent-insensitive recall, end to end: a query finds a memory whether or not
either writes the accents, on a plain and on an encrypted store, and the lexical
signal is what finds it (the hashed test embedder sees "obidos" and "óbidos"
as unrelated words, so no dense clue helps)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engramdb import EncryptionKey, Hit, Memory, Settings
from engramdb.security.crypto import generate_key
from engramdb.testing.fakes import HashEmbedder

OTHERS = [
    "The quarterly budget review moved to Thursday afternoon.",
    "Bring the blue umbrella, rain is forecast.",
    "Her cat sleeps on the windowsill every morning.",
    "We repainted the kitchen a pale green colour.",
    "The train to the airport leaves at seven.",
]
ACCENTED = "Comemos pastéis de nata em Óbidos, junto à muralha."
PLAIN = "Comemos pasteis de nata em Obidos, junto a muralha."


@pytest.fixture(params=["plain", "encrypted"])
def mem(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Memory]:
    if request.param == "plain":
        memory = Memory(":memory:", embedder=HashEmbedder())
    else:
        key = EncryptionKey.from_text(generate_key())
        memory = Memory(
            str(tmp_path / "sealed"), embedder=HashEmbedder(), settings=Settings(encryption=key)
        )
        assert memory.encrypted
    with memory:
        yield memory


def _value(hit: Hit, signal: str) -> float:
    return next(c.value for c in hit.explain.contributions if c.signal == signal)


def _found_lexically(mem: Memory, memory: str, query: str) -> None:
    mem.add_many([{"text": t} for t in [*OTHERS[:3], memory, *OTHERS[3:]]])
    hits = mem.search(query, reinforce=False)
    assert hits[0].engram.text == memory
    assert "lexical" in hits[0].explain.paths
    assert _value(hits[0], "lexical") == 1.0  # the best BM25 of the namespace
    assert all(_value(h, "lexical") == 0.0 for h in hits[1:])


def test_a_query_without_accents_finds_the_accented_memory(mem: Memory) -> None:
    _found_lexically(mem, ACCENTED, "pasteis obidos")


def test_a_query_with_accents_finds_the_unaccented_memory(mem: Memory) -> None:
    _found_lexically(mem, PLAIN, "PASTÉIS ÓBIDOS")


def test_a_speaker_named_without_accents_is_the_speaker(mem: Memory) -> None:
    mem.add_many(
        [
            {"text": "I planted tomatoes in the garden.", "speaker": "José Álvarez"},
            {"text": "I planted roses by the fence.", "speaker": "Ana"},
        ]
    )
    hits = mem.search("What did Jose plant?", reinforce=False)
    assert hits[0].engram.speaker == "José Álvarez"
    assert _value(hits[0], "speaker") == 1.0


@pytest.mark.parametrize("said", ["and what about jose?", "and what about José?"])
def test_a_follow_up_names_the_speaker_with_or_without_accents(mem: Memory, said: str) -> None:
    mem.add_many(
        [
            {"text": "I planted tomatoes in the garden.", "speaker": "José Álvarez"},
            {"text": "I planted roses by the fence.", "speaker": "Ana"},
        ]
    )
    # Neither is a capitalised name to the follow-up resolver ("jose" is lower-case,
    # "José" not plain A-Z): only matching the known speaker makes it a person.
    hits = mem.search("What did he plant?", context=[said], reinforce=False)
    assert hits[0].engram.speaker == "José Álvarez"
    assert _value(hits[0], "speaker") == 1.0
