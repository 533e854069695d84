"""The attention ranker: a weighted model over per-candidate signals.

Each candidate gets a feature vector (dense similarity, lexical score, ...).
Its relevance is the linear score ``sum(w_i * f_i)``. Then salience: a prior
of up to ``weights["salience"]`` logits for how strongly a memory is held
(``salience_prior``, docs/recall.md "Salience"), full for the best match and
fading to nothing ``salience_band`` logits below it, so it decides between
memories of similar relevance and never overrides a clearly better match.
The hit's ``score`` is the softmax of the sum over all candidates of the
search (its attention weight), and its explanation gives each signal's share
of the contribution that sets it apart. The weights ship as ``weights.json``
beside this module (regenerate with the command recorded in that file). This
module does no I/O beyond loading them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from engramdb.errors import InvalidInputError
from engramdb.model import Contribution, Explanation

__all__ = ["SALIENCE", "AttentionRanker", "RankerWeights", "Ranking", "salience_prior"]

F64 = npt.NDArray[np.float64]
#: The signal that is not summed with the others but weighs as a prior after them.
SALIENCE = "salience"


@dataclass(frozen=True, slots=True)
class RankerWeights:
    """Signal weights and the softmax temperature, with where they came from.

    ``weights["salience"]``, when present, is the most logits salience can add
    (the prior's strength); ``salience_band`` how far below the best match,
    in logits, it has faded to nothing.
    """

    weights: Mapping[str, float]
    temperature: float = 0.1
    source: str = ""
    salience_band: float = 8.0

    @classmethod
    def default(cls) -> RankerWeights:
        raw = resources.files("engramdb.recall").joinpath("weights.json").read_text("utf-8")
        return cls.from_json(json.loads(raw))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RankerWeights:
        weights = data.get("weights")
        if not isinstance(weights, Mapping) or not weights:
            raise InvalidInputError("ranker weights need a non-empty 'weights' object")
        temperature = float(data.get("temperature", 0.1))
        if temperature <= 0:
            raise InvalidInputError("ranker temperature must be positive")
        band = float(data.get("salience_band", 8.0))
        if not band > 0:
            raise InvalidInputError("ranker salience_band must be positive")
        return cls(
            weights={str(k): float(v) for k, v in weights.items()},
            temperature=temperature,
            source=str(data.get("source", "")),
            salience_band=band,
        )


@dataclass(frozen=True, slots=True)
class Ranking:
    """Scores of one search's candidates; rows of ``contributions`` follow ``signals``."""

    signals: tuple[str, ...]
    weights: F64  # (signals,)
    values: F64  # (signals, candidates): the raw feature values
    contributions: F64  # (signals, candidates): weight * value
    centre: F64  # (signals,): each signal's mean contribution over the candidates
    linear: F64  # (candidates,)
    attention: F64  # (candidates,): softmax of linear / temperature, sums to 1
    order: npt.NDArray[np.intp]  # candidate indices, best first

    def explain(self, index: int, paths: tuple[str, ...] = ()) -> Explanation:
        # Shares are of what sets this memory apart: each contribution minus its mean
        # over the candidates, so a signal every memory has (length, say) explains little.
        column = np.abs(self.contributions[:, index] - self.centre)
        total = float(column.sum())
        parts = [
            Contribution(
                signal=signal,
                value=float(self.values[i, index]),
                weight=float(self.weights[i]),
                share=float(column[i] / total) if total > 0 else 1.0 / len(self.signals),
            )
            for i, signal in enumerate(self.signals)
        ]
        parts.sort(key=lambda c: -c.share)
        return Explanation(contributions=tuple(parts), paths=paths)


class AttentionRanker:
    """Scores candidates from their signals with fixed (fitted) weights."""

    def __init__(self, weights: RankerWeights | None = None) -> None:
        self.weights = weights or RankerWeights.default()

    def rank(
        self, features: Mapping[str, F64], eligible: npt.NDArray[np.bool_] | None = None
    ) -> Ranking:
        """Score every candidate; ``eligible`` (None: all) are those the search may
        return, among which salience finds the best match it is measured from."""
        weights = self.weights.weights
        signals = tuple(n for n in weights if n in features and n != SALIENCE)
        if not signals:
            raise InvalidInputError("no ranker signal was computed for these candidates")
        values = np.vstack([np.asarray(features[s], dtype=np.float64) for s in signals])
        w = np.array([weights[s] for s in signals], dtype=np.float64)
        if SALIENCE in weights and SALIENCE in features:
            relevance = (values * w[:, None]).sum(axis=0)
            prior = salience_prior(
                relevance, features[SALIENCE], self.weights.salience_band, eligible
            )
            signals += (SALIENCE,)
            values = np.vstack([values, prior])
            w = np.append(w, weights[SALIENCE])
        contributions = values * w[:, None]
        linear = contributions.sum(axis=0)
        centre = contributions.mean(axis=1) if contributions.shape[1] else np.zeros(len(signals))
        logits = linear / self.weights.temperature
        logits -= logits.max() if logits.size else 0.0
        exp = np.exp(logits)
        attention = exp / exp.sum() if exp.size else exp
        order = np.argsort(-linear, kind="stable")
        return Ranking(signals, w, values, contributions, centre, linear, attention, order)


def salience_prior(
    relevance: F64, salience: F64, band: float, eligible: npt.NDArray[np.bool_] | None = None
) -> F64:
    """Each candidate's salience, faded by how far its relevance falls below the
    best eligible match: in full for the best, linearly to nothing ``band``
    logits below it (docs/recall.md, "Salience"). Times the prior's strength
    ``w``, a candidate ``g`` logits behind the best gains at most ``w * (1 -
    g / band)``, so it can overtake the best only when ``g < w * band / (w +
    band)``: salience decides near ties, never a clearly better match."""
    pool = relevance if eligible is None else relevance[eligible]
    if pool.size == 0:
        return np.zeros_like(relevance)
    gap = float(pool.max()) - relevance
    return np.asarray(salience, dtype=np.float64) * np.clip(1.0 - gap / band, 0.0, 1.0)
