"""The calibrated relevance of hits and the relevance floor (docs/recall.md, "Relevance"):
with the real packaged model, a store holding nothing relevant answers ``min_relevance``
with nothing, a good match keeps its hit, on the exhaustive and the two-stage path, and
the floor drops hits without reordering them. The calibration itself: a probability
that falls with the match, read from the shipped file, fitted for the shipped ranker
weights."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engramdb import InvalidInputError, Memory
from engramdb.embed import Embedder
from engramdb.recall.engine import Recaller, SearchRequest
from engramdb.recall.lexical import LexicalIndex
from engramdb.recall.relevance import (
    FEATURES,
    Calibration,
    features,
    fingerprint,
    match,
    names,
)

T0 = datetime(2024, 3, 1, 10, tzinfo=timezone.utc)
NOW = T0 + timedelta(days=30)
DIARY = [
    "I adopted a rescue dog called Pastel.",
    "Pastel chewed my running shoes this morning.",
    "We went hiking in the Alps last summer with my brother.",
    "My sister moved to Lyon in March for a job at a bakery.",
    "I finally finished painting the kitchen a pale green.",
    "The book club is reading a novel about lighthouse keepers.",
    "I started learning the cello again after ten years.",
    "Our neighbour's cat keeps sleeping on the car.",
]


@pytest.fixture
def diary(embedder: Embedder) -> Iterator[Memory]:
    with Memory(":memory:", embedder=embedder) as mem:
        mem.add_many(
            [
                {"text": text, "speaker": "Maya", "occurred_at": T0 + timedelta(hours=i)}
                for i, text in enumerate(DIARY)
            ],
            namespace="maya",
        )
        yield mem


def _search(mem: Memory, query: str, **options: Any) -> list[Any]:
    return mem.search(query, namespace="maya", now=NOW, reinforce=False, **options)


def test_an_unrelated_query_gets_no_hit_at_min_relevance_one_half(embedder: Embedder) -> None:
    with Memory(":memory:", embedder=embedder) as mem:
        mem.add("I adopted a rescue dog called Pastel.", namespace="pets", speaker="Maya",
                session="s1", occurred_at=T0)  # fmt: skip
        asked = {"namespace": "pets", "now": NOW, "reinforce": False}
        # the softmax share of the only memory is 1.0 whatever the question ...
        (only,) = mem.search("When is the tax deadline?", **asked)
        assert only.score == pytest.approx(1.0)
        # ... its relevance is not, and the floor leaves nothing
        assert only.relevance < 0.5
        assert mem.search("When is the tax deadline?", min_relevance=0.5, **asked) == []
        (kept,) = mem.search("What is Maya's dog called?", min_relevance=0.5, **asked)
        assert kept.engram.text == "I adopted a rescue dog called Pastel."
        assert kept.relevance >= 0.5


UNRELATED = [
    "What is the boiling point of tungsten?",
    "When is the tax deadline?",
    "What did Bob say about the election?",  # a person the diary never mentions
]
ANSWERED = {
    "Where did my sister move?": "My sister moved to Lyon",
    "What instrument is Maya learning?": "I started learning the cello",
    "Who is reading about lighthouse keepers?": "The book club is reading",
    "What colour is the kitchen?": "I finally finished painting the kitchen",
}


@pytest.mark.parametrize("query", UNRELATED)
def test_an_unrelated_query_of_a_namespace_gets_no_hit_at_one_half(
    diary: Memory, query: str
) -> None:
    assert _search(diary, query)  # there are hits, at relevance below the floor
    assert _search(diary, query, min_relevance=0.5) == []


@pytest.mark.parametrize(("query", "answer"), ANSWERED.items())
def test_the_answer_keeps_its_hit_at_one_half(diary: Memory, query: str, answer: str) -> None:
    kept = _search(diary, query, min_relevance=0.5)
    assert kept
    assert kept[0].engram.text.startswith(answer)


def test_the_two_stage_search_reads_relevance_as_the_exhaustive_one(diary: Memory) -> None:
    # the whole diary fits in the pool: both paths rank the same memories alike
    exhaustive = diary._recall()
    pooled = Recaller(diary.store, exhaustive.embedder, exhaustive.ranker, exhaustive_up_to=0)
    for query in [*UNRELATED, *ANSWERED]:
        request = SearchRequest(query, "maya", 5, NOW, min_relevance=0.5)
        one = [(h.engram.id, h.relevance) for h in exhaustive.search(request)]
        two = [(h.engram.id, h.relevance) for h in pooled.search(request)]
        assert [i for i, _ in one] == [i for i, _ in two]
        assert [r for _, r in one] == pytest.approx([r for _, r in two])
        assert bool(one) == (query in ANSWERED)


def test_a_hit_s_relevance_is_a_probability_highest_for_the_answer(diary: Memory) -> None:
    hits = _search(diary, "Where did my sister move?")
    assert hits[0].engram.text.startswith("My sister moved to Lyon")
    assert all(0.0 <= h.relevance <= 1.0 for h in hits)
    assert hits[0].relevance == max(h.relevance for h in hits)
    assert hits[0].relevance > 2 * hits[-1].relevance


def test_min_relevance_drops_hits_and_never_reorders_them(diary: Memory) -> None:
    everything = _search(diary, "What did the dog chew?")
    floor = (everything[1].relevance + everything[2].relevance) / 2
    kept = _search(diary, "What did the dog chew?", min_relevance=floor)
    assert 0 < len(kept) < len(everything)
    assert all(h.relevance >= floor for h in kept)
    ids = [h.engram.id for h in everything]
    assert [h.engram.id for h in kept] == [i for i in ids if i in {h.engram.id for h in kept}]
    assert [h.rank for h in kept] == list(range(1, len(kept) + 1))
    # the floor applies before the limit: a limit of 1 keeps the best one that passes
    assert [h.engram.id for h in _search(diary, "What did the dog chew?", limit=1,
                                         min_relevance=floor)] == [kept[0].engram.id]  # fmt: skip
    assert _search(diary, "What did the dog chew?", min_relevance=1.0) == []


def test_context_takes_the_floor_too(diary: Memory) -> None:
    asked = {"namespace": "maya", "now": NOW}
    recalled = diary.context("When is the tax deadline?", **asked).items
    assert any(i.kind == "episode" for i in recalled)
    floored = diary.context("When is the tax deadline?", min_relevance=0.5, **asked).items
    assert not any(i.kind == "episode" for i in floored)


@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan, math.inf, "0.5", True, None])
def test_min_relevance_outside_zero_to_one_is_invalid_input(diary: Memory, bad: object) -> None:
    refused = r"min_relevance must be a number from 0\.0 to 1\.0"
    with pytest.raises(InvalidInputError, match=refused):
        _search(diary, "dog", min_relevance=bad)
    with pytest.raises(InvalidInputError, match="min_relevance"):
        diary.context("dog", namespace="maya", min_relevance=bad)


def test_the_engine_s_relevance_is_the_calibration_of_its_ranking(diary: Memory) -> None:
    # bench/relevance.py fits the calibration on these same features: the engine and
    # the benchmark must read a hit alike
    recaller = diary._recall()
    request = SearchRequest("Where did my sister move?", "maya", 5, NOW)
    view, signals = recaller.score(request)
    ranking = recaller.ranker.rank(signals)
    top = ranking.order[:5]
    share = names(view.lexical, "Where did my sister move?")
    inputs = features(match(ranking), signals["dense"], share, top, ranking.order)
    expected = recaller.calibration.probability(inputs)
    found = [h.relevance for h in _search(diary, "Where did my sister move?", limit=5)]
    assert found == pytest.approx(expected.tolist())


def test_the_shipped_calibration_was_fitted_for_the_shipped_ranker_weights() -> None:
    # New ranker weights move every logit: refit with the command in relevance.json.
    weights = resources.files("engramdb.recall").joinpath("weights.json").read_text("utf-8")
    calibration = Calibration.default()
    assert calibration.ranker == fingerprint(json.loads(weights)), calibration.source
    assert "bench/relevance.py" in calibration.source


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=30),
    st.floats(-20, 20),
    st.floats(0.01, 2),
    st.floats(-2, 2),
    st.floats(0, 20),
    st.floats(0, 1),
)
def test_relevance_is_a_probability_that_falls_with_the_match(
    logits: list[float], intercept: float, logit: float, gap: float, named: float, share: float
) -> None:
    coefficients = {"logit": logit + min(gap, 0), "gap": min(gap, 0), "dense": 1.0, "names": named}
    calibration = Calibration(intercept, coefficients)
    matched = np.array(logits)
    order = np.argsort(-matched, kind="stable")
    p = calibration.probability(features(matched, np.zeros(len(logits)), share, order))
    assert np.all((p >= 0) & (p <= 1))
    assert np.all(np.diff(p) <= 1e-12)


def test_the_names_share_counts_the_query_s_names_the_namespace_holds() -> None:
    index = LexicalIndex(
        ["Caroline: I went to the support group in Boston.", "Melanie: I painted a sunrise."],
        np.zeros(2, dtype=np.int64),
    )
    assert names(index, "When did Caroline go to the support group?") == 1.0
    assert names(index, "When did Caroline go to Sweden?") == 0.5
    assert names(index, "What did Gina say about Jon's store?") == 0.0
    # no name (the first word is capitalised as any sentence's is): nothing to miss
    assert names(index, "Where is the support group?") == 1.0
    assert names(index, "Boston?") == 1.0


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "needs a 'coefficients' object"),
        ({"coefficients": {"logit": 1.0}}, "needs coefficients for"),
        ({"coefficients": {"logit": 1.0, "gap": 0.0, "rank": 1.0}}, "needs coefficients for"),
        ({"coefficients": {"logit": math.nan, "gap": 0.0, "dense": 0, "names": 0}}, "finite"),
        ({"coefficients": {"logit": 0.1, "gap": 0.5, "dense": 0, "names": 0}}, "must grow"),
        ({"coefficients": {"logit": 1, "gap": 0, "dense": -1, "names": 0}}, "must not fall"),
        ({"coefficients": {"logit": 1, "gap": 0, "dense": 0, "names": -1}}, "must not fall"),
        ({"coefficients": {"logit": "high", "gap": 0.0, "dense": 0, "names": 0}}, "numbers"),
    ],
)
def test_a_malformed_calibration_is_invalid_input(document: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Calibration.from_json(document)


def test_the_shipped_calibration_reads_back_from_its_json_form() -> None:
    shipped = Calibration.default()
    assert list(shipped.to_json()["coefficients"]) == list(FEATURES)
    assert Calibration.from_json(shipped.to_json()) == shipped
