"""A namespace's ranker weights, learned from its feedback and held near the prior.

The prior is the shipped weights (``recall/weights.json``): fitted across many
conversations, it is the starting point every namespace shares, and what a
namespace without feedback ranks with. ``fit`` finds the weights that order
the namespace's judged hits as their rewards say, pulled toward the prior:

    minimise   sum_p c_p log(1 + exp(-(w . (x_i - x_j))))  /  sum_p c_p
             + strength * sum_k (scale_k * (w_k - prior_k))^2

over the pairs ``p`` of hits ``i``, ``j`` of one search where ``i`` was judged
better than ``j`` (``c_p`` the difference of their rewards, scaled so that each
search weighs the same; ``judged_pairs`` says which hits count as judged).
``scale_k`` is the spread of signal ``k`` over the hits the judged searches
showed, so the pull is in logits whatever a signal's units. The
loss is a mean over pairs, so a flood of feedback weighs no more against the
prior than a handful: a few judgements move the ranking, many cannot drag it
further than the prior allows. The objective is convex; Newton's method
solves it exactly from the prior, so the weights are a function of the stored
feedback alone (the same feedback gives the same weights in every process).

``agreement`` is the share of judged pairs a set of weights orders as the
rewards say: the replay guard (``learn.feedback``) refuses new weights that
order the namespace's earlier feedback worse than the weights in use.

Salience is a prior after relevance (``recall.ranker.salience_prior``): its
strength is not learned here, and neither is the temperature. This module
does no I/O; it knows nothing of stores or searches.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from engramdb.clock import from_iso, to_iso
from engramdb.recall.ranker import SALIENCE, RankerWeights

__all__ = [
    "STRENGTH",
    "Judged",
    "LearnedWeights",
    "agreement",
    "fit",
    "judged_pairs",
    "learnable",
]

F64 = npt.NDArray[np.float64]

#: How hard the weights are held to the prior (the regulariser's ``strength``), chosen on
#: the training halves of bench/learning.py (docs/learning.md, "How much it learns").
STRENGTH = 2.0
_NEWTON_STEPS = 30
_SCALE_FLOOR = 1e-3  # a signal that never varies among the judged hits is held as by 1e-3


@dataclass(frozen=True, slots=True)
class Judged:
    """One search's hits as feedback judged them.

    ``values`` holds each shown hit's signal values (rows in rank order, columns
    ``signals``); ``rewards`` the reward each hit was given, NaN for none.
    """

    signals: tuple[str, ...]
    values: F64
    rewards: F64


@dataclass(frozen=True, slots=True)
class LearnedWeights:
    """What a namespace's learning holds: its weights (those that differ from the
    prior's or are learned at all), and how many updates were made and refused."""

    weights: Mapping[str, float]
    updates: int = 0
    rejected: int = 0
    updated_at: datetime | None = None

    def ranker(self, prior: RankerWeights) -> RankerWeights:
        """The prior with these weights in place of its own."""
        merged = dict(prior.weights)
        merged.update({k: v for k, v in self.weights.items() if k in merged})
        return RankerWeights(
            weights=merged,
            temperature=prior.temperature,
            source=f"learned from feedback over: {prior.source}",
            salience_band=prior.salience_band,
        )

    def dumps(self) -> str:
        return json.dumps(
            {
                "weights": dict(self.weights),
                "updates": self.updates,
                "rejected": self.rejected,
                "updated_at": None if self.updated_at is None else to_iso(self.updated_at),
            },
            sort_keys=True,
        )

    @classmethod
    def loads(cls, text: str) -> LearnedWeights:
        data = json.loads(text)
        at = data.get("updated_at")
        return cls(
            weights={str(k): float(v) for k, v in data["weights"].items()},
            updates=int(data.get("updates", 0)),
            rejected=int(data.get("rejected", 0)),
            updated_at=None if at is None else from_iso(at),
        )


def learnable(prior: RankerWeights) -> tuple[str, ...]:
    """The signals whose weights feedback may change: all but salience's strength."""
    return tuple(name for name in prior.weights if name != SALIENCE)


def judged_pairs(rewards: F64) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], F64]:
    """The pairs of one search's hits (rows in rank order) as ``(better, worse, weight)``
    arrays.

    The judged hits are those rewarded and the unrewarded ones shown above the
    lowest rewarded hit (seen and passed over: they count as reward 0); an
    unrewarded hit below every rewarded one says nothing. Each pair of judged
    hits with different rewards is one pair, weighted by the difference."""
    rewarded = np.flatnonzero(~np.isnan(rewards))
    if rewarded.size == 0:
        none = np.zeros(0, dtype=np.intp)
        return none, none, np.zeros(0)
    seen = np.nan_to_num(rewards[: int(rewarded.max()) + 1], nan=0.0)
    gap = seen[:, None] - seen[None, :]
    better, worse = np.nonzero(gap > 0)
    return better, worse, gap[better, worse]


def _differences(searches: Sequence[Judged], names: Sequence[str]) -> tuple[F64, F64, F64]:
    """The pairs of every search as rows ``x_better - x_worse`` over ``names``, their
    weights (summing to 1), and each signal's spread over the hits shown."""
    rows: list[F64] = []
    weights: list[F64] = []
    judged: list[F64] = []
    column = {name: k for k, name in enumerate(names)}
    for search in searches:
        values = np.zeros((search.values.shape[0], len(names)))
        for k, name in enumerate(search.signals):
            if name in column:
                values[:, column[name]] = search.values[:, k]
        better, worse, weight = judged_pairs(search.rewards)
        if not weight.size:
            continue
        judged.append(values)
        rows.append(values[better] - values[worse])
        weights.append(weight / weight.sum())  # each search counts once
    if not rows:
        empty = np.zeros((0, len(names)))
        return empty, np.zeros(0), np.ones(len(names))
    spread = np.concatenate(judged).std(axis=0)
    c = np.concatenate(weights)
    return np.vstack(rows), c / c.sum(), np.maximum(spread, _SCALE_FLOOR)


def fit(
    prior: RankerWeights, searches: Sequence[Judged], *, strength: float = STRENGTH
) -> dict[str, float]:
    """The learnable weights that best order ``searches``' judged hits, held to the prior."""
    names = learnable(prior)
    w0 = np.array([prior.weights[n] for n in names])
    diffs, c, scale = _differences(searches, names)
    if diffs.shape[0] == 0:
        return dict(zip(names, w0.tolist(), strict=True))
    pull = 2.0 * strength * scale * scale
    w = w0.copy()
    for _ in range(_NEWTON_STEPS):
        margin = diffs @ w
        wrong = 0.5 * (1.0 - np.tanh(0.5 * margin))  # sigmoid(-margin), stable
        grad = -(c * wrong) @ diffs + pull * (w - w0)
        curvature = c * wrong * (1.0 - wrong)
        hessian = (diffs * curvature[:, None]).T @ diffs + np.diag(pull)
        step = np.linalg.solve(hessian, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-9:
            break
    return dict(zip(names, w.tolist(), strict=True))


def agreement(weights: Mapping[str, float], searches: Sequence[Judged]) -> float:
    """The weighted share of judged pairs that ``weights`` order as the rewards say
    (ties count half); 1.0 when there is no pair."""
    names = tuple(weights)
    diffs, c, _ = _differences(searches, names)
    if diffs.shape[0] == 0:
        return 1.0
    margin = diffs @ np.array([weights[n] for n in names])
    right = np.where(margin > 0, 1.0, np.where(margin == 0, 0.5, 0.0))
    return float(c @ right)
