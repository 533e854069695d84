"""The forgetting curve's maths: properties that must hold for every input (docs/dynamics.md)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engramdb.dynamics.retention import (
    DIFFICULTY,
    curve,
    initial_stability,
    recalled_stability,
    retrievability,
)

days = st.floats(min_value=0.0, max_value=36_500.0, allow_nan=False)
stabilities = st.floats(min_value=0.01, max_value=100_000.0, allow_nan=False)
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@given(days, days, stabilities)
def test_retention_never_rises_with_time(t1: float, t2: float, s: float) -> None:
    early, late = sorted((t1, t2))
    assert retrievability(late, s) <= retrievability(early, s)


@given(days, stabilities, stabilities)
def test_retention_never_falls_with_stability(t: float, s1: float, s2: float) -> None:
    weak, strong = sorted((s1, s2))
    assert retrievability(t, strong) >= retrievability(t, weak)


@given(days, stabilities)
def test_retention_stays_between_zero_and_one(t: float, s: float) -> None:
    assert 0.0 <= retrievability(t, s) <= 1.0


@given(stabilities)
def test_retention_is_ninety_percent_after_one_stability(s: float) -> None:
    assert retrievability(0.0, s) == 1.0
    assert retrievability(s, s) == pytest.approx(0.9)


@given(stabilities, unit)
def test_a_recall_never_lowers_stability(s: float, r: float) -> None:
    assert recalled_stability(s, r) >= s


@given(stabilities, unit, unit)
def test_a_recall_gains_more_when_retention_was_lower(s: float, r1: float, r2: float) -> None:
    low, high = sorted((r1, r2))
    assert recalled_stability(s, low) >= recalled_stability(s, high)


@given(unit, unit, unit)
def test_higher_arousal_never_lowers_initial_stability(i: float, a1: float, a2: float) -> None:
    calm, aroused = sorted((a1, a2))
    assert initial_stability(i, aroused) >= initial_stability(i, calm)


@given(unit, unit, unit)
def test_higher_importance_never_lowers_initial_stability(a: float, i1: float, i2: float) -> None:
    low, high = sorted((i1, i2))
    assert initial_stability(high, a) >= initial_stability(low, a)


def test_spaced_recalls_strengthen_more_than_massed_ones() -> None:
    spaced = recalled_stability(recalled_stability(2.0, retrievability(2.0, 2.0)), 0.9)
    massed = recalled_stability(recalled_stability(2.0, 1.0), 1.0)
    assert massed == pytest.approx(2.0)
    assert spaced > 4 * massed
    assert 1.0 <= DIFFICULTY <= 10.0


def test_curve_starts_at_one_and_falls() -> None:
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    times, values = curve(10.0, start, start, start + timedelta(days=100), points=11)
    assert times[0] == start
    assert len(values) == 11
    assert values[0] == 1.0
    assert all(a >= b for a, b in itertools.pairwise(values))
    with pytest.raises(ValueError):
        curve(10.0, start, start, start, points=1)
