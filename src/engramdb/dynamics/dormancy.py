"""Which memories to put aside: faded below a threshold, or over a namespace budget.

A dormant memory is left out of default search and never deleted
(``search(include_dormant=True)`` brings it back; a recall wakes it). When a
namespace holds more active memories (or bytes) than its budget, the least
retained active ones go dormant first, so growth is bounded while what is
important, emotional or often recalled stays (its stability is higher). Pure
functions over arrays; the facade writes the result. ``Budget`` itself is a
public value (``engramdb.model``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engramdb.model import Budget

__all__ = ["to_put_aside"]


def to_put_aside(
    retention: npt.NDArray[np.float64],
    importance: npt.NDArray[np.float64],
    dormant: npt.NDArray[np.bool_],
    sizes: npt.NDArray[np.int64],
    *,
    below: float,
    budget: Budget | None = None,
) -> npt.NDArray[np.int64]:
    """Rows of active memories to make dormant, least retained first.

    Every active memory with R < ``below`` goes; then, while the active ones
    exceed the budget, the one with the lowest R (ties: lower importance).
    """
    active = ~dormant
    faded = active & (retention < below)
    chosen = list(np.flatnonzero(faded))
    keep = active & ~faded
    if budget is not None:
        rows = np.flatnonzero(keep)
        # least retained first; np.lexsort sorts by the last key first
        order = rows[np.lexsort((importance[rows], retention[rows]))]
        count = len(rows)
        used = int(sizes[rows].sum())
        for row in order:
            over_count = budget.max_memories is not None and count > budget.max_memories
            over_bytes = budget.max_bytes is not None and used > budget.max_bytes
            if not (over_count or over_bytes):
                break
            chosen.append(row)
            count -= 1
            used -= int(sizes[row])
    return np.array(sorted(int(r) for r in chosen), dtype=np.int64)
