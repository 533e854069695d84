"""Experiences: procedural memory, "what worked last time" (docs/learning.md).

An experience is a memory of kind ``"experience"``: its text is the
situation (what its vector means), its metadata the action taken, the
outcome and the reward. Being a memory, it is stored, sealed, exported,
erased, strengthened by recall and faded by time as every memory is; this
module only says how one is written and read and how a recall ranks them.

Ranking: ``score = similarity + REWARD_WEIGHT * reward * retention``. The
similarity of the situations comes first: a reward says how well an action
worked *there*, so it may reorder the experiences of one situation (cosines
within a few tenths of each other) but not raise a well-rewarded experience
of another situation over a similar one. Weighing the reward by the
experience's retention R(now) makes an old lesson count less than a fresh
one, and one recalled often (stability grows) count longer (docs/dynamics.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from engramdb.dynamics.retention import initial_stability
from engramdb.model import Engram, Experience

__all__ = [
    "KIND",
    "REWARD_WEIGHT",
    "experience_of",
    "metadata_of",
    "scores",
    "stability_of",
]

#: The kind of memory an experience is.
KIND = "experience"
#: How much a reward of 1 adds to a similarity (BENCHMARKS.md, "Experiences").
REWARD_WEIGHT = 0.4


def metadata_of(action: str, outcome: str, reward: float) -> dict[str, Any]:
    """What an experience's memory keeps beside its situation."""
    return {"action": action, "outcome": outcome, "reward": reward}


def stability_of(reward: float) -> tuple[float, float]:
    """An experience's importance and initial stability: a strong outcome, good or bad,
    is remembered longer (as arousal raises a memory's stability, docs/dynamics.md)."""
    importance = 0.5 + 0.5 * abs(reward)
    return importance, initial_stability(importance, abs(reward))


def experience_of(engram: Engram) -> Experience:
    """The experience an ``"experience"`` memory holds."""
    meta: Mapping[str, Any] = engram.metadata
    return Experience(
        id=engram.id,
        namespace=engram.namespace,
        situation=engram.text,
        action=str(meta.get("action", "")),
        outcome=str(meta.get("outcome", "")),
        reward=float(meta.get("reward", 0.0)),
        occurred_at=engram.occurred_at,
        recorded_at=engram.recorded_at,
        stability_days=engram.stability_days,
        recalls=engram.recalls,
        last_recalled_at=engram.last_recalled_at,
    )


def scores(
    similarity: npt.NDArray[np.float64],
    rewards: npt.NDArray[np.float64],
    retention: npt.NDArray[np.float64],
    reward_weight: float = REWARD_WEIGHT,
) -> npt.NDArray[np.float64]:
    """Each experience's score for a situation (module docstring)."""
    return np.asarray(similarity + reward_weight * rewards * retention, dtype=np.float64)


def since(now: datetime, last_used_at: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Days from each experience's last use to ``now`` (0 when ``now`` is earlier)."""
    return np.maximum(0.0, (now.timestamp() - last_used_at) / 86_400.0)
