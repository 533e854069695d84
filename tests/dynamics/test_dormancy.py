"""Dormancy picks the least retained memories and never more than it must."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engramdb import Budget
from engramdb.dynamics.dormancy import to_put_aside


@given(
    st.lists(st.floats(min_value=0.0, max_value=1.0, allow_nan=False), min_size=1, max_size=40),
    st.integers(min_value=0, max_value=45),
)
def test_budget_keeps_the_most_retained(retention: list[float], limit: int) -> None:
    r = np.array(retention)
    n = len(r)
    rows = to_put_aside(
        r,
        np.zeros(n),
        np.zeros(n, dtype=bool),
        np.ones(n, dtype=np.int64),
        below=0.0,
        budget=Budget(max_memories=limit),
    )
    assert len(rows) == max(0, n - limit)
    kept = np.setdiff1d(np.arange(n), rows)
    if len(rows) and len(kept):
        assert r[rows].max() <= r[kept].min()


def test_faded_and_already_dormant_memories() -> None:
    r = np.array([0.01, 0.5, 0.9, 0.02])
    dormant = np.array([False, False, False, True])
    rows = to_put_aside(r, np.zeros(4), dormant, np.ones(4, dtype=np.int64), below=0.05)
    assert rows.tolist() == [0]  # row 3 is dormant already


def test_byte_budget() -> None:
    r = np.array([0.3, 0.9, 0.6])
    sizes = np.array([100, 100, 100], dtype=np.int64)
    rows = to_put_aside(
        r, np.zeros(3), np.zeros(3, dtype=bool), sizes, below=0.0, budget=Budget(max_bytes=150)
    )
    assert rows.tolist() == [0, 2]


def test_budget_rejects_negative_bounds() -> None:
    with pytest.raises(ValueError):
        Budget(max_memories=-1)
