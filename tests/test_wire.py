"""engramdb.wire: one JSON form per public value, both ways, with one datetime form."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from engramdb import FixedClock, Memory, Settings
from engramdb.clock import to_iso
from engramdb.testing.fakes import HashEmbedder

T0 = datetime(2024, 2, 10, 18, 0, tzinfo=timezone.utc)
NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)
#: How datetimes look in an export record written before wire: fixed-width, microseconds always.
_OLD_FORM = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")


def _memory() -> Memory:
    settings = Settings(consolidation_batch=4)
    return Memory(":memory:", embedder=HashEmbedder(), settings=settings, clock=FixedClock(T0))


def _filled(mem: Memory) -> None:
    said = [
        (0, "Maya", "I live in Boston and I love sushi."),
        (0, "Maya", "I work at Google. My partner is Alex."),
        (100, "Maya", "I just moved to Denver!"),
        (101, "Maya", "My new job at Stripe is great."),
    ]
    added = mem.add_many(
        [
            {"text": text, "speaker": who, "session": f"s{d}", "occurred_at": _day(d)}
            for d, who, text in said
        ],
        namespace="u",
    )  # fmt: skip
    mem.update(added[0].id, namespace="u", text="I live in Boston.", now=_day(1))
    mem.search("where does Maya live?", namespace="u", now=NOW)  # recalls: dynamics state
    mem.consolidate(namespace="u", now=NOW)  # facts, sources, consumed marks


def _day(n: int) -> datetime:
    return T0 + timedelta(days=n, microseconds=7 * n)  # some times carry microseconds


def _times(value: Any, path: str = "") -> dict[str, str]:
    """Every datetime string in an export record, by its path."""
    found: dict[str, str] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            found |= _times(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found |= _times(item, f"{path}[{i}]")
    elif isinstance(value, str) and _TIME.match(value):
        found[path] = value
    return found


def _old_form(value: Any) -> Any:
    """An export record as versions before wire wrote it: datetimes as ``clock.to_iso``."""
    if isinstance(value, dict):
        return {key: _old_form(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_old_form(item) for item in value]
    if isinstance(value, str) and _TIME.match(value):
        return to_iso(datetime.fromisoformat(value.replace("Z", "+00:00")))
    return value


def test_export_writes_datetimes_in_the_one_form() -> None:
    with _memory() as mem:
        _filled(mem)
        records = list(mem.export(namespace="u"))
    times = {t for r in records for t in _times(r).values()}
    assert "2024-02-10T18:00:00Z" in times  # whole seconds: no microseconds
    assert any("." in t for t in times)  # microseconds when there are any
    assert not any(_OLD_FORM.match(t) and t.endswith(".000000Z") for t in times)


def test_stores_exported_by_earlier_versions_import_as_before() -> None:
    with _memory() as mem:
        _filled(mem)
        records = json.loads(json.dumps(list(mem.export(namespace="u"))))
        facts = mem.facts(namespace="u")
    old = _old_form(records)
    assert old != records
    assert all(_OLD_FORM.match(t) for r in old for t in _times(r).values())
    with _memory() as copy:
        assert copy.import_records(old) == len(records)
        assert list(copy.export(namespace="u")) == records
        assert copy.facts(namespace="u") == facts
