"""The attention ranker: softmax attention, explanation shares, shipped weights."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

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
