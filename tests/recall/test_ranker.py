"""The attention ranker: softmax attention, explanation shares, shipped weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from engramdb.errors import InvalidInputError
from engramdb.recall.features import SIGNALS
from engramdb.recall.ranker import AttentionRanker, RankerWeights

WEIGHTS = RankerWeights(weights={"a": 2.0, "b": -1.0, "c": 0.5}, temperature=1.0)
finite = st.floats(min_value=-5, max_value=5, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    a=arrays(np.float64, 7, elements=finite),
    b=arrays(np.float64, 7, elements=finite),
    c=arrays(np.float64, 7, elements=finite),
)
def test_attention_sums_to_one_and_shares_sum_to_one(
    a: np.ndarray, b: np.ndarray, c: np.ndarray
) -> None:
    ranking = AttentionRanker(WEIGHTS).rank({"a": a, "b": b, "c": c})
    assert math.isclose(float(ranking.attention.sum()), 1.0, rel_tol=1e-9)
    assert np.all(ranking.attention >= 0)
    for index in range(7):
        shares = [part.share for part in ranking.explain(index).contributions]
        assert math.isclose(sum(shares), 1.0, abs_tol=1e-9)
        assert all(0.0 <= share <= 1.0 for share in shares)


def test_order_follows_the_linear_score() -> None:
    ranking = AttentionRanker(WEIGHTS).rank(
        {"a": np.array([0.0, 1.0, 0.5]), "b": np.zeros(3), "c": np.zeros(3)}
    )
    assert list(ranking.order) == [1, 2, 0]
    assert ranking.attention[1] > ranking.attention[2] > ranking.attention[0]


def test_explanation_credits_the_signal_that_sets_a_memory_apart() -> None:
    ranking = AttentionRanker(WEIGHTS).rank(
        {"a": np.array([0.0, 1.0, 0.0]), "b": np.ones(3), "c": np.ones(3)}
    )
    best = ranking.explain(int(ranking.order[0]))
    assert best.contributions[0].signal == "a"
    assert best.shares["a"] == 1.0


def test_shipped_weights_cover_every_signal_and_say_how_they_were_made() -> None:
    shipped = RankerWeights.default()
    assert set(shipped.weights) == set(SIGNALS)
    assert "bench/ranker_fit.py" in shipped.source
    assert all(math.isfinite(w) for w in shipped.weights.values())


PRIOR = RankerWeights(weights={"a": 1.0, "salience": 6.81}, temperature=1.0, salience_band=8.0)


def test_salience_decides_a_near_tie() -> None:
    ranking = AttentionRanker(PRIOR).rank(
        {"a": np.array([1.0, 0.5, -3.0]), "salience": np.array([0.1, 0.6, 1.0])}
    )
    assert list(ranking.order[:2]) == [1, 0]
    assert ranking.explain(1).contributions[0].signal == "salience"


@settings(max_examples=100, deadline=None)
@given(
    relevance=arrays(np.float64, 6, elements=finite),
    salience=arrays(np.float64, 6, elements=st.floats(0, 1)),
)
def test_salience_never_overrides_a_clearly_better_match(
    relevance: np.ndarray, salience: np.ndarray
) -> None:
    ranking = AttentionRanker(PRIOR).rank({"a": relevance, "salience": salience})
    strength, band = PRIOR.weights["salience"], PRIOR.salience_band
    clear = strength * band / (strength + band)  # the most logits salience can make up
    best = int(np.argmax(relevance))
    position = {int(i): p for p, i in enumerate(ranking.order)}
    for i in range(len(relevance)):
        if relevance[best] - relevance[i] > clear:
            assert position[i] > position[best]


def test_salience_fades_from_the_best_match_the_search_may_return() -> None:
    # row 0 is the best by content but cannot be returned (a fact in a search for
    # episodes): the prior is measured from row 1, the best eligible one
    features = {"a": np.array([9.0, 1.0, 0.6]), "salience": np.array([0.0, 0.0, 1.0])}
    eligible = np.array([False, True, True])
    ranking = AttentionRanker(PRIOR).rank(features, eligible)
    assert [int(i) for i in ranking.order if eligible[i]] == [2, 1]
    assert [int(i) for i in AttentionRanker(PRIOR).rank(features).order] == [0, 1, 2]


def test_the_salience_band_must_be_positive() -> None:
    with pytest.raises(InvalidInputError):
        RankerWeights.from_json({"weights": {"a": 1.0}, "salience_band": 0})
