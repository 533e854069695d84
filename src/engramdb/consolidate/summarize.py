"""Extractive session summaries and near-duplicate detection: pure functions over vectors.

A session's summary is its most central turns (cosine to the session's mean
vector), in the order they were said: no model beyond the embedder, nothing
invented. Two episodes are near-duplicates when their vectors are close
(cosine at or above a threshold) and their words mostly agree (Jaccard), so
"I moved to Denver" and "I moved to Denver!" match while "I love X" and
"I hate X" (close vectors: a bi-encoder does not tell them apart) do not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from engramdb.model import Engram

__all__ = ["central_rows", "near_duplicate", "summary_text"]

_WORD = re.compile(r"[^\W_]+")


def central_rows(vectors: npt.NDArray[np.float32], k: int) -> list[int]:
    """The ``k`` rows closest to the mean vector, in their original order."""
    if len(vectors) == 0:
        return []
    centre = vectors.mean(axis=0)
    norm = float(np.linalg.norm(centre))
    scores = vectors @ (centre / norm if norm > 0 else centre)
    best = np.argsort(-scores, kind="stable")[:k]
    return sorted(int(i) for i in best)


def summary_text(session: str, episodes: Sequence[Engram], rows: Sequence[int]) -> str:
    """``Session s1 (2023-05-08): Caroline: ... Melanie: ...`` with each turn clipped."""
    when = str(min(e.occurred_at for e in episodes).date())  # 2023-05-08
    parts = []
    for row in rows:
        episode = episodes[row]
        text = episode.text if len(episode.text) <= 200 else episode.text[:197].rstrip() + "..."
        parts.append(f"{episode.speaker}: {text}" if episode.speaker else text)
    return f"Session {session} ({when}): " + " ".join(parts)


def near_duplicate(a: str, b: str, cosine: float, *, threshold: float, jaccard: float) -> bool:
    """Cosine at or above ``threshold`` and word-set Jaccard at or above ``jaccard``."""
    if cosine < threshold:
        return False
    wa, wb = set(_WORD.findall(a.casefold())), set(_WORD.findall(b.casefold()))
    if not wa or not wb:
        return False
    return len(wa & wb) / len(wa | wb) >= jaccard
