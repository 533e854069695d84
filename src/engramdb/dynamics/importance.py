"""Importance of a new memory at write time, without an LLM: a score in [0, 1].

Cues, each in [0, 1], combined as a noisy-OR: ``1 - (1 - BASE) * prod(1 - w * cue)``
(weights hand-set, ``CUE_WEIGHTS``), so one strong cue (an explicit "remember
that", an intense feeling) makes a memory important on its own, and each
further cue adds less:

- **novelty**: 1 minus the cosine of the memory to its nearest existing memory
  of the namespace (a thing said for the hundredth time matters less);
- **markers**: explicit cues that the speaker wants it kept ("remember that",
  "important", "never", "don't forget", "allergic", "password");
- **personal facts**: first-person statements, names, dates and numbers;
- **plans and commitments**: "I will", "going to", "appointment", "deadline";
- **emotional intensity**: the arousal and |valence| of the text (``emotion``).

A caller who knows better passes ``importance=`` to ``Memory.add``; this
module is only the default. It does not store anything and sees no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["BASE", "CUE_WEIGHTS", "Cues", "cues", "importance"]

#: Importance of a text with no cue at all.
BASE = 0.05
#: Weight of each cue: the importance that cue alone, at its maximum, would give
#: (on top of BASE). Hand-set; docs/dynamics.md.
CUE_WEIGHTS = {
    "novelty": 0.2,
    "marker": 0.7,
    "personal": 0.2,
    "plan": 0.35,
    "intensity": 0.6,
}

_MARKER = re.compile(
    r"\b(remember|don'?t forget|do not forget|important|importantly|never|always|must|"
    r"promise[ds]?|allerg\w*|password|pin code|emergency|critical|crucial|vital|"
    r"key thing|note that|keep in mind|birthday|anniversary|passport|diagnos\w*|"
    r"married|engaged|divorce\w*|born|died|funeral|pregnan\w*|surgery|hospital|"
    r"graduat\w*|promot\w*|new job|moved to|bought a (house|flat|car)|lease|contract)\b",
    re.IGNORECASE,
)
_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|my|mine|me|we|our)\b", re.IGNORECASE)
_DATE_OR_NUMBER = re.compile(
    r"\b(\d+|january|february|march|april|may|june|july|august|september|october|"
    r"november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]{2,}\b")
_PLAN = re.compile(
    r"\b(will|won't|going to|gonna|plan\w*|intend\w*|schedul\w*|appointment|deadline|"
    r"due|tomorrow|next (week|month|year|monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday)|meeting|book(ed)?|reserv\w*|commit\w*|agreed to|signed up)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Cues:
    """The importance cues found in one text, each in [0, 1]."""

    novelty: float
    marker: float
    personal: float
    plan: float
    intensity: float


def _clip01(value: float) -> float:
    return min(1.0, max(0.0, value))


def cues(text: str, *, nearest_similarity: float, valence: float, arousal: float) -> Cues:
    """The cues of ``text``; ``nearest_similarity`` is its cosine to the nearest memory
    already in the namespace (0 when there is none)."""
    markers = len(_MARKER.findall(text))
    personal = 0.0
    if _FIRST_PERSON.search(text):
        personal += 0.4
    if _NAME.search(text):
        personal += 0.3
    if _DATE_OR_NUMBER.search(text):
        personal += 0.3
    return Cues(
        novelty=_clip01(1.0 - nearest_similarity),
        marker=_clip01(float(markers)),
        personal=_clip01(personal),
        plan=1.0 if _PLAN.search(text) else 0.0,
        intensity=_clip01(0.6 * arousal + 0.4 * abs(valence)),
    )


def importance(found: Cues) -> float:
    """The noisy-OR of ``BASE`` and the weighted cues, in [0, 1]."""
    missed = 1.0 - BASE
    for name, weight in CUE_WEIGHTS.items():
        missed *= 1.0 - weight * _clip01(getattr(found, name))
    return _clip01(1.0 - missed)
