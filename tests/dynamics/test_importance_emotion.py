"""Importance cues and the emotion appraisal on plain sentences."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from engramdb.dynamics.emotion import EMOTIONS, EmotionTagger, arousal, valence
from engramdb.dynamics.importance import cues, importance
from engramdb.testing.fakes import HashEmbedder


def _importance(text: str, similarity: float = 0.0) -> float:
    v = valence(text)
    return importance(
        cues(text, nearest_similarity=similarity, valence=v, arousal=arousal(text, v))
    )


def test_explicit_markers_and_plans_make_a_memory_important() -> None:
    routine = _importance("Had toast for breakfast.")
    marked = _importance("Remember that my passport expires in March 2031.")
    plan = _importance("I will meet the landlord next Monday to sign the lease.")
    assert marked > 0.6 > routine
    assert plan > routine


def test_repeating_a_memory_lowers_its_novelty() -> None:
    text = "Bought a teal notebook at the corner shop."
    assert _importance(text, similarity=0.95) < _importance(text, similarity=0.0)


@given(st.text(max_size=200), st.floats(min_value=-1.0, max_value=2.0))
def test_importance_is_always_between_zero_and_one(text: str, similarity: float) -> None:
    assert 0.0 <= _importance(text, similarity) <= 1.0


def test_valence_and_arousal_follow_the_feeling() -> None:
    assert valence("We got engaged, I am so happy!") > 0.5
    assert valence("I was devastated when grandma died.") < -0.5
    assert arousal("Panic! The car skidded and crashed!") > arousal("Took the bus to work.")
    assert arousal("") == 0.0


def test_tagger_labels_are_known_and_neutral_text_is_neutral() -> None:
    tagger = EmotionTagger(HashEmbedder(384))
    texts = ["Took the bus to work.", "I am furious, someone stole my bike!"]
    found = tagger.appraise(texts, HashEmbedder(384).embed(texts))
    assert found[0].label == "neutral"
    assert found[1].label in EMOTIONS
    assert found[1].label != "joy"
    assert found[1].valence < 0 < found[1].arousal
    assert tagger.appraise([], np.zeros((0, 384), dtype=np.float32)) == []
