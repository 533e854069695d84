"""The lexical index analyses each document once per namespace, across rebuilds."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pytest

from engramdb import Memory
from engramdb.recall.indexing import index_keys
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


TWINS = [
    "I have a review with Noah on 1 August at 8:45 and I'm really nervous.",
    "I have a review with Chloe on 4 August at 7:45 and I'm really nervous.",
    "I have a review with Jorge on 29 August at 10:45 and I'm really nervous.",
    "I have a review with Aiden on 30 March at 9:45 and I'm really nervous.",
    "My trip to Seoul with my aunt Nora was amazing, we ate baklava.",
]


def _recognition(query: str, documents: list[str] = TWINS) -> np.ndarray:
    index = LexicalIndex(documents, np.arange(len(documents), dtype=np.int64))
    return index.recognition(analyze(query))


def test_a_memory_said_again_word_for_word_is_fully_recognised() -> None:
    assert _recognition(TWINS[4])[4] == pytest.approx(1.0)


def test_a_near_verbatim_query_recognises_its_source_and_not_its_twins() -> None:
    # a word in six left out, lower-cased, as bench/scale.py's probes are made
    found = _recognition("i have a review noah 1 august at 8:45 and i'm really nervous")
    assert found[0] == pytest.approx(1.0)
    # the twins share four of the source's five terms, but not the name
    assert found[1:].max() < 0.05


def test_a_question_about_a_memory_does_not_recognise_it() -> None:
    # a question shares its subject's words, not most of the memory's
    assert _recognition("When is my review with Noah?").max() == 0.0
    assert _recognition("What did we eat in Seoul?").max() == 0.0


def test_recognition_counts_names_and_words_no_memory_holds() -> None:
    # "Noah" set apart from the twins; a word no memory holds lowers every share
    assert _recognition("review with Noah on 1 August at 8:45, really nervous")[0] > 0.0
    unknown = _recognition("review with Noah on 1 August at 8:45, really nervous zebra")
    assert unknown[0] < _recognition("review with Noah on 1 August at 8:45, really nervous")[0]


def test_recognition_compares_a_memory_s_own_words_not_its_keys() -> None:
    # a short dated memory is indexed under its speaker and its resolved date too; a
    # query that says its text again with a word left out need not say them
    text = "Daniel has a dentist appointment on 11 September at 8:30 and is dreading it."
    keys = index_keys(text, "Pablo", datetime(2021, 9, 20, tzinfo=UTC), {})
    documents = [f"{text} {keys}", *TWINS]
    index = LexicalIndex(documents, np.arange(len(documents), dtype=np.int64))
    query = analyze("daniel has a dentist appointment on 11 at 8:30 and is dreading")
    own = analyze(text)
    found = index.recognition(query, lambda row: own if row == 0 else analyze(documents[row]))
    assert found[0] > 0.6
    assert index.recognition(query)[0] < found[0]  # with its keys counted as its words
    alone = LexicalIndex([text, *TWINS], np.arange(len(documents), dtype=np.int64))
    assert alone.recognition(query)[0] > 0.6


def test_a_question_asked_again_does_not_recognise_the_question() -> None:
    # asked again, "How long have you been surfing?" asks what the reply to that turn says
    documents = ["Wow! How long have you been surfing?", "Five years now, since college."]
    index = LexicalIndex(documents, np.zeros(2, dtype=np.int64))
    query = analyze("How long have you been surfing?")
    assert index.recognition(query, asks=True).max() == 0.0
    assert index.recognition(query)[0] > 0.0  # the same words, said rather than asked


_RECOGNITION_IN_A_PROCESS = """
import numpy as np
from engramdb.recall.lexical import LexicalIndex, analyze
words = ["lantern", "orchard", "violin", "harbour", "meadow", "copper", "saffron", "glacier",
         "ember", "compass", "willow", "falcon", "marble", "thistle", "canyon", "velvet"]
# each word in its own share of the memories, so that each has its own IDF
docs = [" ".join(w for k, w in enumerate(words) if j % (k + 2) == 0) or "none" for j in range(400)]
index = LexicalIndex(docs, np.arange(len(docs), dtype=np.int64))
print(index.recognition(analyze(docs[0]), lambda row: analyze(docs[row])).tobytes().hex())
"""


def test_recognition_is_the_same_in_every_process() -> None:
    # a memory's own terms were summed in the order of a set of strings, which each
    # process orders by its own hash seed: scores differed in their last bits
    outputs = {
        subprocess.run(
            [sys.executable, "-c", _RECOGNITION_IN_A_PROCESS],
            env=os.environ | {"PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(8)
    }
    assert len(outputs) == 1


def test_the_vocabulary_is_bounded_by_the_terms_the_namespace_holds_now(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a long run of new texts in one namespace: each rebuild sees new terms, and the
    # terms of deleted memories are not kept for ever (docs/limits.md, "Caches")
    monkeypatch.setattr("engramdb.recall.lexical.VOCABULARY_SLACK", 200)
    cache = DocumentCache()
    words = ["river", "museum", "guitar", "lesson", "harbour"]

    def documents(start: int) -> list[str]:
        return [
            f"{words[i % 5]} zq{i}x note{i} about {words[(i + 2) % 5]}"
            for i in range(start, start + 50)
        ]

    first = LexicalIndex(documents(0), np.zeros(50, dtype=np.int64), cache=cache)
    first_vocabulary = cache.vocabulary
    largest = 0
    for start in range(10, 2_000, 10):
        index = LexicalIndex(documents(start), np.zeros(50, dtype=np.int64), cache=cache)
        largest = max(largest, len(cache.vocabulary))
        assert len(cache.vocabulary) <= 2 * len(index.present) + 4 + 200
        assert len(cache) <= 2 * 50 + 1024
    assert cache.vocabulary is not first_vocabulary  # started afresh at least once
    assert largest > 200  # ... only once it had grown past its slack
    # an index built before keeps its own vocabulary and still answers
    assert first.frequency("zq3x") == 1
    assert first.frequency("river") == 20  # 10 first words, 10 last
    # and an index over a started-afresh vocabulary scores as one over a new cache
    last = documents(1_990)
    shared = LexicalIndex(last, np.zeros(50, dtype=np.int64), cache=cache)
    fresh = LexicalIndex(last, np.zeros(50, dtype=np.int64))
    query = analyze("river zq1995x guitar note1999")
    for name, values in fresh.scores(query).items():
        assert shared.scores(query)[name].tobytes() == values.tobytes(), name
    assert shared.recognition(query).tobytes() == fresh.recognition(query).tobytes()
