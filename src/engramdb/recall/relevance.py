"""How likely each hit of a search is relevant: a calibrated probability.

A hit's ``score`` is its share of one softmax over the memories a search ranks:
it says which memory is best, not whether any is good (a namespace holding one
memory about a dog answers a question about a tax deadline with that memory at
score 1.0). ``relevance`` is a probability instead (docs/recall.md,
"Relevance"): that the hit is on the query's subject, as an answer is, rather
than off topic. A logistic regression reads four things about each hit, all on
absolute scales, none of them a share that depends on how many memories compete:

- ``logit``: its linear score without the priors (``PRIORS``: how strongly a
  memory is held says nothing about whether it answers), the match on the
  ranker's own scale;
- ``gap``: how far that falls below the best match among the memories the
  search may return;
- ``dense``: its cosine with the query;
- ``names``: the share of the names the query says (its capitalised words
  after the first: people, places, things) that some memory the search ranked
  holds at all (``names``: the lexical index's document frequencies), the same
  for every hit of a search, 1 when it names none. A namespace that never
  mentions the person a question is about has nothing to say about them.

The coefficients ship as ``relevance.json`` beside this module, fitted on
LoCoMo dev by the command recorded in that file (``bench/relevance.py``), for
the ranker weights whose fingerprint it records: new weights need a new fit.
This module changes no ranking and does no I/O beyond loading the file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from engramdb.errors import InvalidInputError
from engramdb.recall.lexical import LexicalIndex, analyze
from engramdb.recall.ranker import Ranking

__all__ = ["FEATURES", "PRIORS", "Calibration", "features", "fingerprint", "match", "names"]

F64 = npt.NDArray[np.float64]
Rows = Sequence[int] | npt.NDArray[np.intp] | npt.NDArray[np.int64]

#: The calibration's inputs, in the order of ``features``' columns.
FEATURES = ("logit", "gap", "dense", "names")
#: Signals that weigh how strongly a memory is held (docs/dynamics.md), not how well it
#: matches: left out of the ``logit`` relevance reads.
PRIORS = frozenset({"retention", "importance", "salience"})


def match(ranking: Ranking) -> F64:
    """Every candidate's linear score less what the priors add to it."""
    held = [i for i, signal in enumerate(ranking.signals) if signal in PRIORS]
    if not held:
        return ranking.linear
    return np.asarray(ranking.linear - ranking.contributions[held].sum(axis=0), dtype=np.float64)


def names(lexical: LexicalIndex, text: str) -> float:
    """The share of the names ``text`` says (its capitalised words after the first)
    that some document of ``lexical`` holds; 1.0 when it says none. Read from the
    index's document frequencies: a few lookups, no pass over the memories. A
    two-stage search's index is its pool's, which holds the best lexical matches of
    the query's words (``recall.candidates``): a name the namespace holds is in it."""
    said = re.findall(r"[^\W\d_]+", text)[1:]
    terms = {term for word in said if word[:1].isupper() for term in analyze(word)}
    if not terms:
        return 1.0
    return sum(lexical.frequency(term) > 0 for term in terms) / len(terms)


def features(matched: F64, dense: F64, share: float, rows: Rows, among: Rows | None = None) -> F64:
    """The calibration's inputs for the candidates at ``rows``: a (rows, FEATURES)
    matrix. ``matched`` is ``match(ranking)``, ``dense`` the cosine signal and
    ``share`` the query's ``names`` share; the best match is looked for among
    ``among`` (default: ``rows``), the candidates the search may return."""
    picked = np.asarray(rows, dtype=np.intp)
    if not picked.size:
        return np.zeros((0, len(FEATURES)))
    pool = picked if among is None else np.asarray(among, dtype=np.intp)
    logit = matched[picked]
    best = float(matched[pool].max()) if pool.size else 0.0
    return np.stack(
        [logit, best - logit, dense[picked], np.full(picked.size, float(share))], axis=1
    )


def fingerprint(weights: Mapping[str, Any]) -> str:
    """What a calibration depends on in a ranker weights document: all of it but its
    ``source`` note, as a SHA-256 of its canonical JSON."""
    kept = {k: v for k, v in weights.items() if k != "source"}
    canonical = json.dumps(kept, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Calibration:
    """A logistic regression from ``FEATURES`` to the probability that a hit is
    relevant; ``ranker`` is the fingerprint of the weights it was fitted with."""

    intercept: float
    coefficients: Mapping[str, float]
    ranker: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if set(self.coefficients) != set(FEATURES):
            raise InvalidInputError(f"a relevance calibration needs coefficients for {FEATURES}")
        values = [self.intercept, *self.coefficients.values()]
        if not all(np.isfinite(v) for v in values):
            raise InvalidInputError("a relevance calibration's coefficients must be finite")
        # With the best match fixed, the log-odds move by (logit - gap coefficient) per
        # logit of match: a calibration whose relevance fell as the match rose is broken.
        if self.coefficients["logit"] <= self.coefficients["gap"]:
            raise InvalidInputError("a relevance calibration must grow with the match")
        if self.coefficients["dense"] < 0 or self.coefficients["names"] < 0:
            raise InvalidInputError(
                "a relevance calibration must not fall with the cosine or the names known"
            )

    @classmethod
    def default(cls) -> Calibration:
        raw = resources.files("engramdb.recall").joinpath("relevance.json").read_text("utf-8")
        return cls.from_json(json.loads(raw))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Calibration:
        coefficients = data.get("coefficients")
        if not isinstance(coefficients, Mapping):
            raise InvalidInputError("a relevance calibration needs a 'coefficients' object")
        try:
            return cls(
                intercept=float(data.get("intercept", 0.0)),
                coefficients={str(k): float(v) for k, v in coefficients.items()},
                ranker=str(data.get("ranker", "")),
                source=str(data.get("source", "")),
            )
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"a relevance calibration's numbers: {exc}") from exc

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ranker": self.ranker,
            "features": list(FEATURES),
            "intercept": self.intercept,
            "coefficients": {name: self.coefficients[name] for name in FEATURES},
        }

    def probability(self, inputs: F64) -> F64:
        """The relevance of each row of a ``features`` matrix."""
        w = np.array([self.coefficients[name] for name in FEATURES], dtype=np.float64)
        z = np.clip(self.intercept + inputs @ w, -500.0, 500.0)
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)

    def relevance(
        self,
        ranking: Ranking,
        signals: Mapping[str, F64],
        share: float,
        rows: Rows,
        among: Rows | None = None,
    ) -> F64:
        """The relevance of the candidates at ``rows`` of ``ranking`` (``signals``: what
        it ranked; ``share``: the query's ``names`` share), the best match looked for
        among ``among`` (default: ``rows``)."""
        return self.probability(features(match(ranking), signals["dense"], share, rows, among))
