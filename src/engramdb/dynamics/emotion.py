"""Emotion of a text: valence, arousal and a discrete label, without a model download.

- **Valence** in [-1, 1] is VADER's compound score (``vaderSentiment`` 3.3.2,
  MIT licence, lexicon bundled in the wheel; Hutto & Gilbert 2014).
- **Arousal** in [0, 1] is a cheap estimate on Russell's circumplex: the
  strength of the sentiment, raised by high-arousal words, exclamation marks
  and shouting (capitals), lowered by low-arousal words ("tired", "calm"). The
  two short word lists are engramdb's own, written for this module.
- **Label** is one of ``EMOTIONS``: the nearest of a few short descriptions of
  each emotion (Ekman's six basic emotions) by cosine with the same embedder
  that embeds memories, restricted to labels that agree with the valence, and
  ``"neutral"`` when the text carries little feeling. (The NRC emotion lexicons
  would do this too but are licensed for research only, so they are not used.)

It owns the appraisal of one text; it does not store anything or rank.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from engramdb.embed.base import Embedder

__all__ = ["EMOTIONS", "Appraisal", "EmotionTagger", "arousal", "valence"]

#: The labels a memory can carry; "neutral" when it carries little feeling.
EMOTIONS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")

# Short descriptions per emotion (engramdb's own wording): their mean vector is
# the emotion's prototype for the embedder in use.
_DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "joy": (
        "I am so happy and excited, this is wonderful",
        "we celebrated, it was a joyful day",
        "I feel proud and delighted",
    ),
    "sadness": (
        "I am so sad, I miss them and cried",
        "a heartbreaking loss, I feel lonely and down",
        "I was devastated and grieving",
    ),
    "anger": (
        "I am furious and angry about it",
        "that made me so mad, it is outrageous",
        "I was annoyed and frustrated and shouted",
    ),
    "fear": (
        "I am scared and terrified",
        "I was anxious and worried something bad would happen",
        "a frightening, panicked moment",
    ),
    "surprise": (
        "I was shocked, I could not believe it",
        "what a surprise, totally unexpected",
        "I was amazed and astonished",
    ),
    "disgust": (
        "that was disgusting and gross",
        "I was revolted and sickened by it",
        "it smelled awful and made me nauseous",
    ),
}
_POSITIVE = frozenset({"joy", "surprise"})
_NEGATIVE = frozenset({"sadness", "anger", "fear", "surprise", "disgust"})
# Below both, a text is "neutral" (VADER's own convention puts neutral at |compound| < 0.05).
_NEUTRAL_VALENCE = 0.05
_NEUTRAL_AROUSAL = 0.25

_HIGH_AROUSAL = re.compile(
    r"\b(thrill\w*|excit\w*|ecstatic|furious|rage|terrif\w*|panic\w*|scream\w*|shout\w*|"
    r"shock\w*|amaz\w*|incredible|unbelievable|emergency|accident|crash\w*|fire|"
    r"ambulance|hospital|attack\w*|fight|won|win|engaged|wedding|proposed|born|died|"
    r"death|funeral|fired|promot\w*|robbed|stolen|lost|broke up|divorce\w*|cancer|pregnant|"
    r"surgery|diagnos\w*|arrested|earthquake|flood\w*)\b",
    re.IGNORECASE,
)
_LOW_AROUSAL = re.compile(
    r"\b(calm|relax\w*|tired|sleepy|bored|quiet|peaceful|content|lonely|dull|routine)\b",
    re.IGNORECASE,
)
_SHOUT = re.compile(r"\b[A-Z]{3,}\b")


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    # vaderSentiment has no type hints; loading the lexicon takes ~40 ms, once.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def valence(text: str) -> float:
    """VADER's compound score: -1 (most negative) to 1 (most positive)."""
    return float(_analyzer().polarity_scores(text)["compound"])


def arousal(text: str, valence_score: float | None = None) -> float:
    """A cheap arousal estimate in [0, 1] (see the module docstring)."""
    v = valence(text) if valence_score is None else valence_score
    score = 0.55 * abs(v)
    if _HIGH_AROUSAL.search(text):
        score += 0.35
    if _LOW_AROUSAL.search(text):
        score -= 0.2
    score += 0.1 * min(text.count("!"), 3) / 3.0
    if _SHOUT.search(text):
        score += 0.1
    return float(min(1.0, max(0.0, score)))


@dataclass(frozen=True, slots=True)
class Appraisal:
    """The emotion found in one text."""

    valence: float
    arousal: float
    label: str


class EmotionTagger:
    """Appraises texts with VADER and the embedder's emotion prototypes.

    The prototypes are embedded once, on first use, with the embedder that
    embeds memories, so a label costs one matrix product per text.
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._prototypes: npt.NDArray[np.float32] | None = None
        self._labels = tuple(_DESCRIPTIONS)
        self._lock = threading.Lock()

    def prototypes(self) -> npt.NDArray[np.float32]:
        with self._lock:
            if self._prototypes is None:
                rows = []
                for label in self._labels:
                    vectors = self.embedder.embed(list(_DESCRIPTIONS[label]))
                    mean = np.asarray(vectors, dtype=np.float32).mean(axis=0)
                    rows.append(mean / max(float(np.linalg.norm(mean)), 1e-9))
                self._prototypes = np.stack(rows).astype(np.float32)
            return self._prototypes

    def appraise(self, texts: Sequence[str], vectors: npt.NDArray[np.float32]) -> list[Appraisal]:
        """Valence, arousal and label of each text (``vectors`` are their embeddings)."""
        if not texts:
            return []
        similarity = np.asarray(vectors, dtype=np.float32) @ self.prototypes().T
        out = []
        for i, text in enumerate(texts):
            v = valence(text)
            a = arousal(text, v)
            out.append(Appraisal(v, a, self._label(similarity[i], v, a)))
        return out

    def _label(self, similarity: npt.NDArray[np.float32], v: float, a: float) -> str:
        if abs(v) < _NEUTRAL_VALENCE and a < _NEUTRAL_AROUSAL:
            return "neutral"
        allowed = (
            _POSITIVE if v > _NEUTRAL_VALENCE else _NEGATIVE if v < -_NEUTRAL_VALENCE else None
        )
        best, best_score = "neutral", -np.inf
        for j, label in enumerate(self._labels):
            if allowed is not None and label not in allowed:
                continue
            if similarity[j] > best_score:
                best, best_score = label, float(similarity[j])
        return best
