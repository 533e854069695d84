"""The weights learned from feedback (learn.weights) and the replay guard (learn.feedback)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from engramdb import Memory
from engramdb.learn.feedback import Learner, Trace
from engramdb.learn.weights import Judged, agreement, fit, judged_pairs, learnable
from engramdb.recall.ranker import RankerWeights
from engramdb.testing.fakes import HashEmbedder

PRIOR = RankerWeights.default()
T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)
NAN = float("nan")


def _search(dense: list[float], lexical: list[float], rewards: list[float]) -> Judged:
    return Judged(("dense", "lexical"), np.array([dense, lexical]).T, np.array(rewards))


# Each says: the hit with more lexical than dense overlap is the useful one.
LEXICAL_WINS = _search([0.9, 0.2], [0.1, 0.8], [-1.0, 1.0])


def test_without_feedback_the_weights_are_the_prior() -> None:
    assert fit(PRIOR, []) == {n: PRIOR.weights[n] for n in learnable(PRIOR)}
    unjudged = _search([0.9, 0.2], [0.1, 0.8], [NAN, NAN])
    assert fit(PRIOR, [unjudged]) == fit(PRIOR, [])


def test_feedback_moves_the_weights_its_way_and_salience_stays() -> None:
    learned = fit(PRIOR, [LEXICAL_WINS])
    assert learned["lexical"] > PRIOR.weights["lexical"]
    assert learned["dense"] < PRIOR.weights["dense"]
    assert "salience" not in learned
    assert agreement(learned, [LEXICAL_WINS]) == 1.0


def test_a_flood_of_the_same_feedback_drifts_no_further_than_a_little() -> None:
    once = fit(PRIOR, [LEXICAL_WINS])
    flood = fit(PRIOR, [LEXICAL_WINS] * 500)
    assert np.allclose([once[n] for n in once], [flood[n] for n in once])
    stronger = fit(PRIOR, [LEXICAL_WINS], strength=100.0)  # held harder: moves less
    assert abs(stronger["lexical"] - PRIOR.weights["lexical"]) < abs(
        once["lexical"] - PRIOR.weights["lexical"]
    )


def test_unrewarded_hits_above_a_rewarded_one_count_as_passed_over() -> None:
    better, worse, weight = judged_pairs(np.array([NAN, -1.0, 1.0, NAN]))
    pairs = set(zip(better.tolist(), worse.tolist(), weight.tolist(), strict=True))
    # hit 3 (below every judged hit) says nothing; hit 0 was seen and passed over
    assert pairs == {(2, 0, 1.0), (2, 1, 2.0), (0, 1, 1.0)}


def test_the_replay_guard_refuses_weights_that_order_earlier_feedback_worse() -> None:
    with Memory(":memory:", embedder=HashEmbedder()) as mem:
        first = mem.add("alpha", namespace="n").id
        second = mem.add("beta", namespace="n").id
        learner = Learner(mem.store, PRIOR)

        def judged(search_id: str, dense: list[float], lexical: list[float], best: str) -> bool:
            values = np.array([dense, lexical]).T
            learner.searched(
                "n", Trace(search_id, "q", (first, second), ("dense", "lexical"), values)
            )
            worst = second if best == first else first
            told = learner.judge("n", search_id, best, 1.0, T0).learned
            return learner.judge("n", search_id, worst, -1.0, T0).learned or told

        assert judged("a" * 32, [0.9, 0.2], [0.1, 0.8], second)  # lexical wins: learned
        weights = mem.weights(namespace="n")
        # a louder search that says the opposite would misorder the first one: refused
        assert not judged("b" * 32, [0.2, 1.9], [1.8, 0.1], second)
        after = mem.weights(namespace="n")
        assert after.signals == weights.signals
        assert after.rejected >= 1
        assert after.feedback == 4
