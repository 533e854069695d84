"""The time-expression resolver on a table of phrases and reference dates."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from engramdb.recall.when import find_times

# Monday 8 May 2023, 13:56 (the first LoCoMo session's time).
MONDAY = datetime(2023, 5, 8, 13, 56, tzinfo=timezone.utc)
# Friday 15 December 2023.
FRIDAY = datetime(2023, 12, 15, 9, 0, tzinfo=timezone.utc)

TABLE = [
    # phrase, reference, first day, last day (inclusive)
    ("I went yesterday", MONDAY, date(2023, 5, 7), date(2023, 5, 7)),
    ("today was long", MONDAY, date(2023, 5, 8), date(2023, 5, 8)),
    ("last night we talked", MONDAY, date(2023, 5, 7), date(2023, 5, 7)),
    ("the day before yesterday", MONDAY, date(2023, 5, 6), date(2023, 5, 6)),
    ("tomorrow I fly", FRIDAY, date(2023, 12, 16), date(2023, 12, 16)),
    ("3 days ago", MONDAY, date(2023, 5, 5), date(2023, 5, 5)),
    ("two weeks ago", MONDAY, date(2023, 4, 21), date(2023, 4, 27)),
    ("a few months ago", MONDAY, date(2023, 2, 1), date(2023, 2, 28)),
    ("two years ago", MONDAY, date(2021, 1, 1), date(2021, 12, 31)),
    ("last Tuesday", MONDAY, date(2023, 5, 2), date(2023, 5, 2)),
    ("on Friday", MONDAY, date(2023, 5, 5), date(2023, 5, 5)),
    ("next Friday", MONDAY, date(2023, 5, 12), date(2023, 5, 12)),
    ("the sunday before", MONDAY, date(2023, 5, 7), date(2023, 5, 7)),
    ("last weekend", MONDAY, date(2023, 5, 6), date(2023, 5, 7)),
    ("last week", MONDAY, date(2023, 5, 1), date(2023, 5, 7)),
    ("next week", FRIDAY, date(2023, 12, 18), date(2023, 12, 24)),
    ("last month", MONDAY, date(2023, 4, 1), date(2023, 4, 30)),
    ("next month", FRIDAY, date(2024, 1, 1), date(2024, 1, 31)),
    ("last year", MONDAY, date(2022, 1, 1), date(2022, 12, 31)),
    ("this year", MONDAY, date(2023, 1, 1), date(2023, 12, 31)),
    ("last May", FRIDAY, date(2023, 5, 1), date(2023, 5, 31)),
    ("last May", MONDAY, date(2022, 5, 1), date(2022, 5, 31)),
    ("in March", MONDAY, date(2023, 3, 1), date(2023, 3, 31)),
    ("in October", MONDAY, date(2022, 10, 1), date(2022, 10, 31)),
    ("next March", MONDAY, date(2024, 3, 1), date(2024, 3, 31)),
    ("in 2022", MONDAY, date(2022, 1, 1), date(2022, 12, 31)),
    ("back in 2019", FRIDAY, date(2019, 1, 1), date(2019, 12, 31)),
    ("on 7 May 2023", FRIDAY, date(2023, 5, 7), date(2023, 5, 7)),
    ("May 7, 2023", FRIDAY, date(2023, 5, 7), date(2023, 5, 7)),
    ("the 3rd of June", FRIDAY, date(2023, 6, 3), date(2023, 6, 3)),
    ("June 2023", FRIDAY, date(2023, 6, 1), date(2023, 6, 30)),
    ("December 20", FRIDAY, date(2022, 12, 20), date(2022, 12, 20)),
    ("last summer", FRIDAY, date(2023, 6, 1), date(2023, 8, 31)),
    ("recently", MONDAY, date(2023, 4, 24), date(2023, 5, 8)),
]


@pytest.mark.parametrize(("phrase", "reference", "first", "last"), TABLE)
def test_resolves_phrase_against_reference(
    phrase: str, reference: datetime, first: date, last: date
) -> None:
    windows = find_times(phrase, reference)
    assert len(windows) == 1, windows
    window = windows[0]
    assert window.start.date() == first
    assert window.end.date() - timedelta(days=1) == last


@pytest.mark.parametrize(
    "text",
    ["I may go later", "We talked about the weather", "Call me at 5", "in may be", "Sunday roast"],
)
def test_text_without_a_time_expression_yields_nothing(text: str) -> None:
    assert find_times(text, MONDAY) == []


def test_several_expressions_come_in_text_order() -> None:
    found = find_times("Yesterday I ran, and last Tuesday I swam.", MONDAY)
    assert [w.phrase.lower() for w in found] == ["yesterday", "last tuesday"]


def test_windows_are_half_open_utc_intervals() -> None:
    (window,) = find_times("yesterday", MONDAY)
    assert window.start.tzinfo is timezone.utc
    assert window.overlaps(datetime(2023, 5, 7, 23, 59, tzinfo=timezone.utc))
    assert not window.overlaps(datetime(2023, 5, 8, 0, 0, tzinfo=timezone.utc))


def test_labels_name_the_day_for_day_windows() -> None:
    (window,) = find_times("yesterday", MONDAY)
    assert window.label() == "7 May 2023 Sunday"


def test_an_impossible_day_falls_back_to_its_month() -> None:
    (window,) = find_times("on 31 February 2023", MONDAY)
    assert (window.start.date(), window.end.date()) == (date(2023, 2, 1), date(2023, 3, 1))
