"""Time expressions: "yesterday", "last May", "two weeks ago" as soft windows.

``find_times(text, reference)`` resolves each time expression in ``text``
against a reference moment (``now`` for a query, ``occurred_at`` for a memory)
into a ``TimeWindow`` [start, end). Rule-based and fast (no dateparser: ~5 ms
per call is too slow for the search path). It resolves; it does not decide how
much a window should count in ranking (that is the ranker's weight).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

__all__ = ["TimeWindow", "find_times", "month_words"]

MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH_NAMES = [
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
WEEKDAYS = {
    name: i
    for i, names in enumerate(
        [
            ("monday", "mon"),
            ("tuesday", "tue", "tues"),
            ("wednesday", "wed"),
            ("thursday", "thu", "thurs"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        ]
    )
    for name in names
}
_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "a couple of": 2,
    "couple of": 2,
    "a few": 3,
    "few": 3,
    "several": 3,
}
_UNIT_DAYS = {"day": 1, "week": 7, "fortnight": 14}

_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY_RE = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_NUMBER_RE = r"\d+|" + "|".join(sorted((re.escape(k) for k in _NUMBERS), key=len, reverse=True))

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in [
        ("ago", rf"\b(?P<n>{_NUMBER_RE})\s+(?P<unit>day|week|fortnight|month|year)s?\s+ago\b"),
        (
            "day_month_year",
            rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m>{_MONTH_RE})\.?,?\s+(?P<y>\d{{4}})\b",
        ),
        (
            "month_day_year",
            rf"\b(?P<m>{_MONTH_RE})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})\b",
        ),
        ("month_year", rf"\b(?P<m>{_MONTH_RE})\.?,?\s+(?:of\s+)?(?P<y>\d{{4}})\b"),
        ("day_month", rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m>{_MONTH_RE})\b"),
        ("month_day", rf"\b(?P<m>{_MONTH_RE})\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b"),
        (
            "rel_month",
            rf"\b(?P<rel>last|this|next|in|since|during|early|late|mid)\s+(?P<m>{_MONTH_RE})\b",
        ),
        ("rel_weekday", rf"\b(?P<rel>last|this|next|on|past)\s+(?P<w>{_WEEKDAY_RE})\b"),
        ("weekday_before", rf"\bthe\s+(?P<w>{_WEEKDAY_RE})\s+before\b"),
        (
            "rel_unit",
            r"\b(?P<rel>last|this|next|past|previous|coming)\s+(?P<unit>week|weekend|month|year|summer|winter|spring|fall|autumn|night)\b",
        ),
        ("year", r"\b(?:in|since|during|of|back in)\s+(?P<y>(?:19|20)\d{2})\b"),
        (
            "word",
            r"\b(?P<word>yesterday|today|tonight|tomorrow|this morning|this afternoon|this evening"
            r"|last night|the other day|recently|lately|the day before yesterday)\b",
        ),
    ]
]


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A resolved expression: the half-open interval [start, end) it names."""

    phrase: str
    start: datetime
    end: datetime

    @property
    def middle(self) -> datetime:
        return self.start + (self.end - self.start) / 2

    def overlaps(self, moment: datetime, slack: timedelta = timedelta(0)) -> bool:
        return self.start - slack <= moment < self.end + slack

    def label(self) -> str:
        """Words a question might use for this time: "7 May 2023 May 2023"."""
        days = (self.end - self.start).days
        start = self.start
        if days <= 1:
            return f"{start.day} {_MONTH_NAMES[start.month]} {start.year} {start.strftime('%A')}"
        if days <= 10:
            return f"week of {start.day} {_MONTH_NAMES[start.month]} {start.year}"
        if days <= 31:
            return f"{_MONTH_NAMES[start.month]} {start.year}"
        return f"{start.year}"


def month_words() -> frozenset[str]:
    return frozenset(MONTHS)


def _day(d: date) -> tuple[datetime, datetime]:
    start = datetime.combine(d, time(0), tzinfo=timezone.utc)
    return start, start + timedelta(days=1)


def _month(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=timezone.utc)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=timezone.utc)
    return start, end


def _year(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=timezone.utc), datetime(year + 1, 1, 1, tzinfo=timezone.utc)


def _shift_months(d: date, months: int) -> tuple[int, int]:
    index = d.year * 12 + (d.month - 1) + months
    return index // 12, index % 12 + 1


def _number(text: str) -> int:
    text = text.lower()
    return int(text) if text.isdigit() else _NUMBERS.get(text, 1)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _resolve(kind: str, m: re.Match[str], ref: date) -> tuple[datetime, datetime] | None:
    g = m.groupdict()
    if kind == "ago":
        n, unit = _number(g["n"]), g["unit"].lower()
        if unit in _UNIT_DAYS:
            days = n * _UNIT_DAYS[unit]
            if unit == "day":
                return _day(ref - timedelta(days=days))
            center = ref - timedelta(days=days)
            return _day(center - timedelta(days=3))[0], _day(center + timedelta(days=3))[1]
        if unit == "month":
            return _month(*_shift_months(ref, -n))
        return _year(ref.year - n)
    if kind in {"day_month_year", "month_day_year"}:
        d = _safe_date(int(g["y"]), MONTHS[g["m"].lower()], int(g["d"]))
        return None if d is None else _day(d)
    if kind == "month_year":
        return _month(int(g["y"]), MONTHS[g["m"].lower()])
    if kind in {"day_month", "month_day"}:
        month = MONTHS[g["m"].lower()]
        if kind == "month_day" and g["m"].lower() == "may" and int(g["d"]) > 31:
            return None
        d = _safe_date(ref.year, month, int(g["d"]))
        if d is not None and d > ref:  # a date without a year is the most recent one
            d = _safe_date(ref.year - 1, month, int(g["d"]))
        return None if d is None else _day(d)
    if kind == "rel_month":
        month, rel = MONTHS[g["m"].lower()], g["rel"].lower()
        if g["m"].lower() == "may" and rel in {"in", "this"} and not m.group(0)[-3:].istitle():
            return None  # "in may" is usually the verb
        year = ref.year
        if rel == "next":
            year += 1 if month <= ref.month else 0
        elif rel == "this":
            pass
        elif month > ref.month or (rel == "last" and month == ref.month):
            year -= 1
        return _month(year, month)
    if kind in {"rel_weekday", "weekday_before"}:
        weekday = WEEKDAYS[g["w"].lower()]
        rel = (g.get("rel") or "last").lower()
        back = (ref.weekday() - weekday) % 7
        if rel == "next":
            forward = (weekday - ref.weekday()) % 7 or 7
            return _day(ref + timedelta(days=forward))
        if rel in {"last", "past"} or kind == "weekday_before":
            back = back or 7
        return _day(ref - timedelta(days=back))
    if kind == "rel_unit":
        rel, unit = g["rel"].lower(), g["unit"].lower()
        step = {"last": -1, "past": -1, "previous": -1, "this": 0, "next": 1, "coming": 1}[rel]
        if unit == "night":
            return _day(ref - timedelta(days=1)) if step < 0 else _day(ref)
        if unit == "week":
            monday = ref - timedelta(days=ref.weekday()) + timedelta(weeks=step)
            return _day(monday)[0], _day(monday + timedelta(days=6))[1]
        if unit == "weekend":
            saturday = ref - timedelta(days=(ref.weekday() - 5) % 7)
            if step > 0 or (step == 0 and ref.weekday() < 5):
                saturday += timedelta(days=7)
            return _day(saturday)[0], _day(saturday + timedelta(days=1))[1]
        if unit == "month":
            return _month(*_shift_months(ref, step))
        if unit == "year":
            return _year(ref.year + step)
        season = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}[unit]
        year = ref.year + step
        if step < 0 and season + 2 < ref.month:
            year = ref.year
        start = datetime(year, season, 1, tzinfo=timezone.utc)
        return start, _month(*_shift_months(start.date(), 2))[1]
    if kind == "year":
        return _year(int(g["y"]))
    if kind == "word":
        word = g["word"].lower()
        if word in {"yesterday", "last night"}:
            return _day(ref - timedelta(days=1))
        if word == "the day before yesterday":
            return _day(ref - timedelta(days=2))
        if word == "tomorrow":
            return _day(ref + timedelta(days=1))
        if word in {"the other day", "recently", "lately"}:
            return _day(ref - timedelta(days=14))[0], _day(ref)[1]
        return _day(ref)
    return None


def find_times(text: str, reference: datetime) -> list[TimeWindow]:
    """Every time expression in ``text``, resolved against ``reference``, in text order."""
    ref = reference.astimezone(timezone.utc).date()
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, TimeWindow]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            span = match.span()
            if any(span[0] < end and start < span[1] for start, end in taken):
                continue  # a longer, more specific pattern already claimed this text
            window = _resolve(kind, match, ref)
            if window is None:
                continue
            taken.append(span)
            found.append((span[0], TimeWindow(match.group(0), window[0], window[1])))
    return [window for _, window in sorted(found, key=lambda item: item[0])]
