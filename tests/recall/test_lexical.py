"""The lexical index analyses each document once per namespace, across rebuilds."""

from __future__ import annotations

import numpy as np
import pytest

from engramdb import Memory
from engramdb.recall.lexical import DocumentCache, LexicalIndex, analyze
from engramdb.store.sqlite import SqliteStore
from engramdb.testing.fakes import HashEmbedder


def test_an_empty_cache_handed_in_is_the_one_filled() -> None:
    cache = DocumentCache()
    LexicalIndex(["the river museum", "a guitar"], np.array([0, 0]), cache=cache)
    assert len(cache) == 2


def test_a_write_then_a_search_analyses_only_the_new_memory() -> None:
    # a store that keeps no analyses (written before they were kept): recall analyses
    # each memory itself, once (docs/recall.md, "What a search reads")
    with Memory(store=SqliteStore(":memory:"), embedder=HashEmbedder()) as mem:
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


def test_a_search_analyses_no_memory_the_store_kept_an_analysis_of() -> None:
    with Memory(":memory:", embedder=HashEmbedder()) as mem:
        mem.add_many([{"text": f"note {i} about the river museum?"} for i in range(50)])
        assert mem.search("museum", reinforce=False)
        assert len(mem._recall()._documents["default"]) == 0, "a stored analysis was redone"


# -- accents and compatibility forms fold away (engramdb.recall.text.fold) ----------


@pytest.mark.parametrize(
    ("plain", "marked"),
    [
        ("pasteis obidos", "Pastéis ÓBIDOS"),
        ("creme brulee", "crème brûlée"),
        ("fish file", "ﬁsh ﬁle"),  # ligatures
        ("full width", "\uff26\uff35\uff2c\uff2c \uff57\uff49\uff44\uff54\uff48"),
        ("strasse", "Straße"),
        ("kobenhavn lodz aeroskobing", "København Łódź Ærøskøbing"),
    ],
)
def test_accents_and_compatibility_forms_analyse_to_the_plain_terms(
    plain: str, marked: str
) -> None:
    assert analyze(marked) == analyze(plain)
    assert analyze(plain)


def test_an_unaccented_query_scores_the_accented_memory() -> None:
    index = LexicalIndex(
        ["Comemos pastéis de nata em Óbidos", "a guitar lesson"], np.array([-1, -1])
    )
    single = index.scores(analyze("pasteis obidos"))["single"]
    assert single[0] > 0
    assert single[1] == 0
