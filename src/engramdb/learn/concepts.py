"""Concepts from a few examples: prototypes, thresholds, membership (docs/learning.md).

A concept is the mean of its examples' normalised embeddings, normalised
again (a prototype, as in prototypical networks: Snell, Swersky and Zemel
2017), so one example is enough and each further one refines it. A memory
belongs to a concept when both hold:

- **open set**: its cosine to the prototype is at least the concept's
  ``threshold``. With one example the threshold is ``FLOOR``; with more it is
  calibrated on them, leaving one out: the mean cosine of each example to the
  prototype of the others, i.e. a new memory belongs when it is as close to
  the concept as its own examples typically are to one another, held between
  ``LOWEST`` and ``HIGHEST``. A tight concept ("my dog") gets a high
  threshold, a broad one ("work") a lower one, and the threshold follows the
  examples as more are taught;
- **nearest**: its cosine is within ``MARGIN`` of its best cosine to any
  concept of the namespace, so a memory about food is not also tagged travel
  because it mentions a restaurant abroad, while one about both keeps both.

The constants were chosen on the packaged model (all-MiniLM-L6-v2) with
``bench/learning.py concepts``: a topic taught alone, the F1 of its tags over
the labelled LoCoMo turns and the share of unlabelled turns it tags
(BENCHMARKS.md, "Concepts").
What this module does not do: read a store, embed text, or decide names;
the facade (``engramdb.lessons``) does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["FLOOR", "HIGHEST", "LOWEST", "MARGIN", "Prototypes", "prototype", "threshold"]

F32 = npt.NDArray[np.float32]

#: The threshold of a concept taught with one example: below about this cosine, two
#: sentences of the packaged model are about different things.
FLOOR = 0.3
#: The bounds of a threshold calibrated on several examples.
LOWEST = 0.25
HIGHEST = 0.45
#: How far below its nearest concept's cosine a memory's cosine may be and still
#: belong (a memory may belong to several concepts).
MARGIN = 0.05


def _unit(vector: npt.NDArray[np.floating]) -> F32:
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm > 0 else vector).astype(np.float32)


def prototype(examples: F32) -> F32:
    """The concept's prototype: the normalised mean of its examples' unit vectors."""
    units = examples / np.maximum(np.linalg.norm(examples, axis=1, keepdims=True), 1e-12)
    return _unit(units.mean(axis=0))


def threshold(examples: F32) -> float:
    """The open-set threshold calibrated on a concept's examples (module docstring)."""
    if len(examples) < 2:
        return FLOOR
    units = examples / np.maximum(np.linalg.norm(examples, axis=1, keepdims=True), 1e-12)
    total = units.sum(axis=0)
    held_out = [float(units[i] @ _unit(total - units[i])) for i in range(len(units))]
    return float(min(HIGHEST, max(LOWEST, float(np.mean(held_out)))))


@dataclass(frozen=True, slots=True)
class Prototypes:
    """A namespace's concepts as arrays: one prototype row and threshold each."""

    names: tuple[str, ...]
    matrix: F32  # one unit prototype a row
    thresholds: npt.NDArray[np.float64]

    @classmethod
    def of(cls, concepts: Sequence[tuple[str, F32]]) -> Prototypes:
        """From each concept's name and its examples' vectors (one row each)."""
        if not concepts:
            return cls((), np.zeros((0, 0), dtype=np.float32), np.zeros(0))
        return cls(
            names=tuple(name for name, _ in concepts),
            matrix=np.stack([prototype(vectors) for _, vectors in concepts]),
            thresholds=np.array([threshold(vectors) for _, vectors in concepts]),
        )

    def __len__(self) -> int:
        return len(self.names)

    def similarities(self, vectors: F32) -> npt.NDArray[np.float64]:
        """Cosine of each vector (a row, unit or zero) to each prototype: rows x concepts."""
        return np.asarray(vectors @ self.matrix.T, dtype=np.float64)

    def membership(self, vectors: F32) -> npt.NDArray[np.bool_]:
        """Which vectors belong to which concept (rows x concepts). A zero vector (one
        not computed yet: docs/write-path.md) belongs to none."""
        if not len(self) or not len(vectors):
            return np.zeros((len(vectors), len(self)), dtype=bool)
        sims = self.similarities(vectors)
        best = sims.max(axis=1, keepdims=True)
        return np.asarray((sims >= self.thresholds[None, :]) & (sims >= best - MARGIN), dtype=bool)

    def nearest(self, vectors: F32) -> list[str | None]:
        """Each vector's best concept among those it belongs to, None for none."""
        if not len(self):
            return [None] * len(vectors)
        member = self.membership(vectors)
        best = np.where(member, self.similarities(vectors), -np.inf).argmax(axis=1)
        return [self.names[int(b)] if member[i, b] else None for i, b in enumerate(best)]
