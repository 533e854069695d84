"""Resource bounds (docs/reliability.md): every limit is enforced through ``Memory`` and documented.

Each field of ``Limits`` needs an entry in ``ENFORCED`` (an input just at the
limit is accepted, one just over it raises ``LimitExceededError`` and writes
nothing) and a row in docs/limits.md; a new limit without both fails here.
Uses ``HashEmbedder``, a deterministic stand-in for the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import pytest

from engramdb import LimitExceededError, Limits, Memory, Settings
from engramdb.testing.fakes import HashEmbedder

DOC = (Path(__file__).parents[2] / "docs" / "limits.md").read_text(encoding="utf-8")
SMALL = Limits(
    max_text_chars=50,
    max_metadata_bytes=64,
    max_batch=3,
    max_query_chars=20,
    max_label_chars=8,
    max_limit=4,
)

#: field -> (an input at the limit, one just over it), each a call on a Memory
ENFORCED: dict[str, tuple[Callable[[Memory], object], Callable[[Memory], object]]] = {
    "max_text_chars": (
        lambda m: m.add("x" * 50),
        lambda m: m.add("x" * 51),
    ),
    "max_metadata_bytes": (  # {"k": "..."} is 9 bytes of JSON around the value
        lambda m: m.add("meta", metadata={"k": "v" * 55}),
        lambda m: m.add("meta", metadata={"k": "v" * 56}),
    ),
    "max_batch": (
        lambda m: m.add_many([{"text": "one"}] * 3),
        lambda m: m.add_many([{"text": "one"}] * 4),
    ),
    "max_query_chars": (
        lambda m: m.search("q" * 20, limit=4),
        lambda m: m.search("q" * 21, limit=4),
    ),
    "max_label_chars": (
        lambda m: m.add("labelled", namespace="n" * 8, session="s" * 8, speaker="p" * 8),
        lambda m: m.add("labelled", speaker="p" * 9),
    ),
    "max_limit": (
        lambda m: m.search("query", limit=4),
        lambda m: m.search("query", limit=5),
    ),
}


def test_every_limit_has_an_enforcement_check() -> None:
    assert sorted(ENFORCED) == sorted(f.name for f in fields(Limits))


@pytest.mark.parametrize("name", sorted(f.name for f in fields(Limits)))
def test_every_limit_is_documented_with_its_default(name: str) -> None:
    assert f"`{name}`" in DOC, f"{name} is not in docs/limits.md"
    default = getattr(Limits(), name)
    assert f"{default:,}" in DOC, f"the default of {name} ({default:,}) is not in docs/limits.md"


@pytest.mark.parametrize("name", sorted(ENFORCED))
def test_each_limit_is_enforced_at_its_bound(name: str) -> None:
    at_limit, over_limit = ENFORCED[name]
    settings = Settings(path=":memory:", limits=SMALL)
    with Memory(settings=settings, embedder=HashEmbedder()) as mem:
        at_limit(mem)
        before = sum(mem.stats(namespace=ns).engrams for ns in mem.namespaces())
        with pytest.raises(LimitExceededError):
            over_limit(mem)
        after = sum(mem.stats(namespace=ns).engrams for ns in mem.namespaces())
        assert after == before  # refused before anything was written
