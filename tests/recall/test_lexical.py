"""The lexical index analyses each document once per namespace, across rebuilds."""

from __future__ import annotations

import numpy as np

from engramdb import Memory
from engramdb.recall.lexical import DocumentCache, LexicalIndex
from engramdb.testing.fakes import HashEmbedder


def test_an_empty_cache_handed_in_is_the_one_filled() -> None:
    cache = DocumentCache()
    LexicalIndex(["the river museum", "a guitar"], np.array([0, 0]), cache=cache)
    assert len(cache) == 2


def test_a_write_then_a_search_analyses_only_the_new_memory() -> None:
    with Memory(":memory:", embedder=HashEmbedder()) as mem:
        mem.add_many([{"text": f"note {i} about the river museum"} for i in range(50)])
        mem.search("museum", reinforce=False)
        cache = mem._recall()._documents["default"]
        assert len(cache) == 50
        analysed = dict(cache._documents)
        mem.add("a guitar lesson")
        assert mem.search("guitar", reinforce=False)[0].engram.text == "a guitar lesson"
        assert mem._recall()._documents["default"] is cache
        assert len(cache) == 51
        assert all(cache._documents[d] is a for d, a in analysed.items())  # not redone
