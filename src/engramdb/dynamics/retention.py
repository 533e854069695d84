"""Retention and stability: the forgetting curve, its starting point, and recall.

Pure functions of their inputs and ``now``; no store, no clock. A memory has a
stability ``S`` (days): the time after which its retrievability ``R`` has
fallen to 90 %. ``R`` follows the power-law forgetting curve of FSRS, the
scheduler Anki uses (FSRS-4.5 and FSRS-5 share it)::

    R(t) = (1 + F * t / S) ** C        F = 19/81, C = -0.5

so ``R(0) = 1``, ``R(S) = 0.9``, and the tail is long, as Ebbinghaus' savings
data and later re-analyses of it show (a power law fits forgetting better than
an exponential; Wixted & Ebbesen 1991). ``t`` is the time since the memory was
last *used*: the event itself, or its latest recall.

Initial stability rises with importance (on a log scale, from FSRS-5's
"again" stability to a year) and with emotional arousal: arousal strengthens
consolidation (McGaugh 2004, "The amygdala modulates the consolidation of
memories of emotionally arousing experiences"; Cahill & McGaugh 1995), here a
multiplier of up to ``1 + AROUSAL_GAIN``.

A recall raises stability with FSRS-5's "Good" review rule, which holds the
spacing effect: the gain grows as ``R`` was lower when the memory was
recalled, and a recall right after the last one (``R`` near 1) adds almost
nothing. Difficulty is not modelled per memory: the FSRS-5 initial difficulty
of a "Good" first review is used throughout.

Sources: FSRS algorithm wiki, "The Algorithm" (open-spaced-repetition/fsrs4anki,
FSRS-4.5 and FSRS-5 formulas and default parameters); Ebbinghaus 1885,
"Über das Gedächtnis"; McGaugh 2004, Annual Review of Neuroscience 27:1-28.
This module does not decide what is important or emotional (``importance``,
``emotion``) and does not write anything (the facade queues recalls).
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import numpy.typing as npt

__all__ = [
    "AROUSAL_GAIN",
    "DECAY",
    "DIFFICULTY",
    "FACTOR",
    "MAX_STABILITY_DAYS",
    "MIN_STABILITY_DAYS",
    "curve",
    "elapsed_days",
    "initial_stability",
    "recalled_stability",
    "retrievability",
    "retrievability_array",
]

F64 = npt.NDArray[np.float64]

#: FSRS-4.5/5 curve constants: R(S) = 0.9 by construction of F = 0.9**(1/C) - 1.
DECAY = -0.5
FACTOR = 19.0 / 81.0
#: FSRS-5 default initial stability for a first "Again" review (w0, days): the
#: least-important memory starts here.
MIN_STABILITY_DAYS = 0.40255
#: A memory of importance 1 starts with a year: engramdb's choice, so that what a
#: person marks as important keeps R above 0.8 for a year (R(365 d, 365 d) = 0.9).
MAX_STABILITY_DAYS = 365.0
#: Arousal multiplies initial stability by up to 1 + AROUSAL_GAIN (hand-set;
#: emotional enhancement, McGaugh 2004). Checked by bench/lifelog.py.
AROUSAL_GAIN = 2.0
# FSRS-5 default parameters used by the recall rule (w4, w5, w8, w9, w10).
_W4, _W5, _W8, _W9, _W10 = 7.1949, 0.5345, 1.54575, 0.1192, 1.01925
#: FSRS-5 initial difficulty after a "Good" first review: w4 - e^(w5 * (3 - 1)) + 1.
DIFFICULTY = _W4 - math.exp(_W5 * 2.0) + 1.0
_SECONDS_PER_DAY = 86_400.0


def _clip01(value: float) -> float:
    return min(1.0, max(0.0, value))


def retrievability(elapsed_days: float, stability_days: float) -> float:
    """R after ``elapsed_days`` for a memory of stability ``stability_days`` (in [0, 1])."""
    t = max(0.0, elapsed_days)
    s = max(stability_days, 1e-9)
    return float((1.0 + FACTOR * t / s) ** DECAY)


def retrievability_array(elapsed_days: F64, stability_days: F64) -> F64:
    """``retrievability`` over arrays (one value per memory)."""
    t = np.maximum(elapsed_days, 0.0)
    s = np.maximum(stability_days, 1e-9)
    return np.asarray((1.0 + FACTOR * t / s) ** DECAY, dtype=np.float64)


def elapsed_days(last_used: datetime, now: datetime) -> float:
    """Days from a memory's last use to ``now``; 0 when ``now`` is earlier."""
    return max(0.0, (now - last_used).total_seconds() / _SECONDS_PER_DAY)


def initial_stability(importance: float, arousal: float) -> float:
    """Stability (days) of a new memory: log-interpolated by importance, raised by arousal."""
    ratio = MAX_STABILITY_DAYS / MIN_STABILITY_DAYS
    base = MIN_STABILITY_DAYS * ratio ** _clip01(importance)
    return float(base * (1.0 + AROUSAL_GAIN * _clip01(arousal)))


def recalled_stability(stability_days: float, retrievability_at_recall: float) -> float:
    """Stability after a successful recall at retrievability ``R`` (FSRS-5 "Good").

    ``S' = S * (1 + e^w8 * (11 - D) * S^-w9 * (e^(w10 * (1 - R)) - 1))``: never
    below ``S``; the lower ``R`` was, the larger the gain (spacing effect).
    """
    s = max(stability_days, 1e-9)
    r = _clip01(retrievability_at_recall)
    gain = math.exp(_W8) * (11.0 - DIFFICULTY) * s ** (-_W9) * math.expm1(_W10 * (1.0 - r))
    return float(s * (1.0 + max(0.0, gain)))


def curve(
    stability_days: float, last_used: datetime, start: datetime, end: datetime, points: int = 200
) -> tuple[list[datetime], list[float]]:
    """Retrievability sampled from ``start`` to ``end`` (for plots): times and values."""
    if points < 2:
        raise ValueError("a curve needs at least two points")
    times = [start + (end - start) * (i / (points - 1)) for i in range(points)]
    return times, [retrievability(elapsed_days(last_used, t), stability_days) for t in times]
