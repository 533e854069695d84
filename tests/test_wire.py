"""engramdb.wire: one JSON form per public value, both ways, with one datetime form.

Each value goes to JSON and back unchanged; the datetime form is the same on
every surface; export files written before it still import; and no module but
``wire.py`` writes a value's JSON form by hand (the source scans below).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import engramdb
from engramdb import (
    Budget,
    Concept,
    ConsolidationReport,
    ContextBundle,
    ContextItem,
    Contribution,
    Deletion,
    Engram,
    Experience,
    ExperienceHit,
    Explanation,
    Fact,
    Feedback,
    FixedClock,
    Hit,
    InvalidInputError,
    Memory,
    Mood,
    NamespaceStats,
    NamespaceWeights,
    Page,
    ProfileEntry,
    ProfileProposal,
    Settings,
    SignalWeight,
    Version,
    wire,
)
from engramdb.clock import to_iso
from engramdb.testing.fakes import HashEmbedder

SRC = Path(engramdb.__file__).parent

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
    )
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


# -- every public value goes to JSON and back unchanged -----------------------------------

ID = "0123456789abcdef0123456789abcdef"
ENGRAM = Engram(
    id=ID,
    namespace="user-42",
    text="Rex is our dog. 🐕",
    occurred_at=T0,
    recorded_at=T0 + timedelta(microseconds=5),
    valid_from=T0 + timedelta(days=1),
    session="s1",
    speaker="Maya",
    metadata={"dia_id": "D1:3", "tags": ["pets", 2], "nested": {"ok": True, "n": None}},
    kind="fact",
    version=3,
    importance=0.75,
    stability_days=31.5,
    valence=-0.25,
    arousal=0.5,
    emotion="joy",
    recalls=4,
    last_recalled_at=NOW,
    dormant=True,
)
EXPLANATION = Explanation(
    contributions=(Contribution("semantic", 0.8, 1.5, 0.75), Contribution("recency", 1, 2, 0.25)),
    paths=("vector", "lexical"),
    retention=0.9,
    stability_days=12.0,
    importance=0.5,
    emotion="neutral",
)
FACT = Fact(
    ID,
    "n",
    "Maya",
    "lives in",
    "Boston",
    "Maya lives in Boston",
    T0,
    NOW,
    T0,
    NOW,
    "superseded",
    superseded_by=ID,
    sources=(ID, ID),
)
MOOD = Mood("user-42", T0, NOW, 0.25, 0.5, "joy", 3, drivers=(ENGRAM,))
EXPERIENCE = Experience(
    ID, "n", "the build fails", "pin the version", "it built", -0.5, T0, NOW, 30.0, 2, NOW
)
VALUES: list[tuple[Any, dict[str, Any]]] = [
    (ENGRAM, {}),
    (Engram(ID, "n", "plain", T0, T0, T0), {}),  # every default
    (Version(ID, 2, "text", None, {}, T0, T0, None), {"engram_id": ID}),
    (Version(ID, 1, "text", "Maya", {"a": 1}, T0, T0, NOW), {"engram_id": ID}),
    (Contribution("lexical", 0.0, 1.0, 0.0), {}),
    (EXPLANATION, {}),
    (Explanation(contributions=()), {}),
    (Hit(ENGRAM, 0.5, 1, EXPLANATION, neighbours=(ENGRAM, ENGRAM), relevance=0.25), {}),
    (NamespaceStats("n", 0, 0, 0, None, None), {}),
    (NamespaceStats("n", 3, 4, 1, T0, NOW), {}),
    (FACT, {}),
    (ConsolidationReport("n", 10, 2, 1, 1, 0, 3, 1, 2, 0, 1.5), {}),
    (MOOD, {}),
    (ContextItem("episode", "Rex is our dog", 7, 0.5, ID, T0, "Maya", "s1"), {}),
    (ContextItem("mood", "recent mood", 3, 1.0), {}),
    (ContextBundle("q", "n", "s1", 100, 10, (ContextItem("fact", "t", 2, 0.5, ID),), MOOD), {}),
    (ContextBundle("q", "n", None, 100, 0, ()), {}),
    (Budget(max_memories=3), {}),
    (Budget(), {}),
    (Hit(ENGRAM, 0.5, 1, EXPLANATION, search_id=ID), {}),
    (Feedback(ID, ID, -0.5, T0, learned=True), {}),
    (SignalWeight("dense", 1.5, 1.0, 0.5), {}),
    (NamespaceWeights("n", (SignalWeight("dense", 1.5, 1.0, 0.5),), True, 3, 2, 1, T0), {}),
    (NamespaceWeights("n", ()), {}),
    (EXPERIENCE, {}),
    (Experience(ID, "n", "s", "a", "", 0.0, T0, T0), {}),  # every default
    (ExperienceHit(EXPERIENCE, 0.9, 0.7, 0.95, 1), {}),
    (Concept("pets", "n", ID, ("my dog", "our cat"), 0.31, 4, T0), {}),
    (Concept("none yet", "n", ID, ("one",), 0.3, 0, T0), {}),
    (Deletion("n", (ID,), (ID,), dry_run=True), {}),
    (Deletion("n"), {}),
    (Page("org-1:user-42", (ENGRAM, ENGRAM), "eyJ2IjoxfQ"), {}),
    (Page("n", ()), {}),
    (ProfileEntry("diet", "Vegetarian since 2019. 🥕", 3, T0, NOW, ID), {}),
    (ProfileEntry("name", "Maya", 1, T0), {}),  # every default
    (ProfileProposal("maya.residence", "Maya lives in Boston", ID, pinned="Lives in Lisbon"), {}),
    (ProfileProposal("maya.job", "Maya is a nurse", ID), {}),
    (
        ContextBundle(
            "q", "n", None, 5, 3, (ContextItem("profile", "name: Maya", 3, 1.0),), None, ("diet",)
        ),
        {},
    ),
]


@pytest.mark.parametrize(("value", "envelope"), VALUES, ids=lambda v: type(v).__name__)
def test_a_value_reads_back_equal_from_its_json_form(value: Any, envelope: dict[str, Any]) -> None:
    document = json.loads(json.dumps(wire.to_json(value)))
    assert wire.from_json(type(value), document, **envelope) == value


def test_every_public_value_has_a_json_form_and_a_round_trip_test() -> None:
    public = {
        getattr(engramdb, name)
        for name in engramdb.__all__
        if dataclasses.is_dataclass(getattr(engramdb, name))
        and getattr(engramdb, name).__module__ == "engramdb.model"
    }
    assert public == set(wire.VALUES)
    assert {type(value) for value, _ in VALUES} == set(wire.VALUES)


def test_the_json_form_has_one_key_per_field_and_its_derived_keys() -> None:
    engram = wire.to_json(ENGRAM)
    assert list(engram) == [f.name for f in dataclasses.fields(Engram)]
    assert "engram_id" not in wire.to_json(VALUES[2][0])  # the history holds the id once
    assert wire.to_json(EXPLANATION)["summary"] == str(EXPLANATION)
    bundle = VALUES[15][0]
    assert wire.to_json(bundle)["text"] == bundle.render()


def test_an_older_writer_without_the_dynamics_keys_reads_with_their_defaults() -> None:
    document = wire.to_json(Engram(ID, "n", "plain", T0, T0, T0))
    older = {k: v for k, v in document.items() if k not in ("importance", "recalls", "dormant")}
    assert wire.from_json(Engram, older) == Engram(ID, "n", "plain", T0, T0, T0)


def test_a_hit_carries_its_relevance_and_an_older_writer_s_counts_as_relevant() -> None:
    # docs/recall.md, "Relevance": a hit without one (an older server's) reads as 1.0
    hit = Hit(ENGRAM, 0.5, 1, EXPLANATION, relevance=0.25)
    document = wire.to_json(hit)
    assert document["relevance"] == 0.25
    assert [f.name for f in wire.fields(Hit)][-2:] == ["relevance", "search_id"]
    older = {k: v for k, v in document.items() if k not in ("relevance", "search_id")}
    assert wire.from_json(Hit, older) == Hit(ENGRAM, 0.5, 1, EXPLANATION)
    assert wire.from_json(Hit, older).relevance == 1.0
    with pytest.raises(InvalidInputError, match="relevance must be a number"):
        wire.from_json(Hit, document | {"relevance": "high"})


def test_a_hit_names_its_search_and_an_older_writer_s_names_none() -> None:
    # docs/learning.md: feedback names the search by the id its hits carry
    document = wire.to_json(Hit(ENGRAM, 0.5, 1, EXPLANATION, search_id=ID))
    assert document["search_id"] == ID
    older = {k: v for k, v in document.items() if k != "search_id"}
    assert wire.from_json(Hit, older).search_id == ""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": "3"}, "version must be an integer"),
        ({"dormant": 1}, "dormant must be true or false"),
        ({"importance": "high"}, "importance must be a number"),
        ({"metadata": None}, "metadata must not be null"),
        ({"occurred_at": "2024-02-10T18:00:00"}, "has no timezone"),
        ({"occurred_at": 1707588000}, "must be an ISO 8601 string"),
    ],
)
def test_a_malformed_json_form_is_invalid_input(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        wire.from_json(Engram, wire.to_json(ENGRAM) | change)
    with pytest.raises(InvalidInputError, match="lacks the field 'text'"):
        wire.from_json(Engram, {k: v for k, v in wire.to_json(ENGRAM).items() if k != "text"})


# -- one datetime form ----------------------------------------------------------------------

_aware = st.datetimes(
    min_value=datetime(2, 1, 1),  # noqa: DTZ001 (hypothesis bounds are naive)
    max_value=datetime(9998, 12, 31),  # noqa: DTZ001
    timezones=st.builds(
        timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
    ),
)


@given(_aware)
def test_every_aware_datetime_has_one_utc_form_that_reads_back(when: datetime) -> None:
    text = wire.time_to_json(when)
    assert _TIME.match(text), text
    assert wire.time_from_json(text) == when
    assert wire.time_to_json(wire.time_from_json(text)) == text


def test_a_naive_datetime_is_refused_both_ways() -> None:
    with pytest.raises(InvalidInputError, match="timezone"):
        wire.time_to_json(datetime(2024, 1, 1))  # noqa: DTZ001
    with pytest.raises(InvalidInputError, match="no timezone"):
        wire.time_from_json("2024-01-01T00:00:00")


# -- no hand-written JSON form outside wire.py ------------------------------------------------

#: Files that build a dict from a value's fields for another reason than its JSON form.
_NOT_JSON = {
    # compares a stored Engram with the record it was written from, field by field
    "testing/conformance.py",
}
_FIELDS = {kind: {f.name for f in dataclasses.fields(kind)} for kind in wire.VALUES}


def _sources() -> list[tuple[str, ast.Module]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        name = path.relative_to(SRC).as_posix()
        if name != "wire.py":
            found.append((name, ast.parse(path.read_text(encoding="utf-8"))))
    return found


def _copies(node: ast.expr, name: str) -> bool:
    """Whether ``node`` is ``x.<name>``, maybe converted (``iso(x.name)``, ``a if .. else b``)."""
    if isinstance(node, ast.Attribute):
        return node.attr == name
    if isinstance(node, ast.Call):
        return any(_copies(arg, name) for arg in node.args)
    if isinstance(node, ast.IfExp):
        return _copies(node.body, name) or _copies(node.orelse, name)
    return False


def _hand_written(tree: ast.Module) -> list[str]:
    """Dict literals that copy four or more fields of one public value, by line."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict):
            continue
        for kind, names in _FIELDS.items():
            copied = [
                key.value
                for key, value in zip(node.keys, node.values, strict=True)
                if isinstance(key, ast.Constant)
                and key.value in names
                and _copies(value, key.value)
            ]
            if len(copied) >= 4:
                found.append(f"line {node.lineno}: {kind.__name__} {copied}")
    return found


def _isoformat_calls(tree: ast.Module) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "isoformat"
    ]


def test_no_module_but_wire_writes_a_datetime_with_isoformat() -> None:
    found = {name: lines for name, tree in _sources() if (lines := _isoformat_calls(tree))}
    assert found == {}, "write datetimes with wire.time_to_json (one form everywhere)"


def test_no_module_but_wire_builds_a_public_value_json_form_field_by_field() -> None:
    found = {
        name: hits
        for name, tree in _sources()
        if name not in _NOT_JSON and (hits := _hand_written(tree))
    }
    assert found == {}, "use wire.to_json (and wire.fields) instead"


def test_the_scans_find_what_they_look_for() -> None:
    # The hand-written forms this module replaced, as they were written.
    before = ast.parse(
        "def engram_json(engram):\n"
        "    return {'id': engram.id, 'text': engram.text, 'metadata': dict(engram.metadata),\n"
        "            'occurred_at': iso(engram.occurred_at), 'session': engram.session}\n"
        "def version(v):\n"
        "    return {'version': v.version, 'text': v.text, 'speaker': v.speaker,\n"
        "            'valid_to': None if v.valid_to is None else to_iso(v.valid_to)}\n"
        "def utc(value):\n"
        "    return value.astimezone(timezone.utc).isoformat().replace('+00:00', 'Z')\n"
    )
    assert [hit.split(":")[0] for hit in _hand_written(before)] == ["line 2", "line 5"]
    assert _isoformat_calls(before) == [8]
    labels = ast.parse(
        "x = {'importance': f'{e.importance:.2f}', 'dormant': 'yes' if e.dormant else 'no',"
        " 'recalls': f'{e.recalls}', 'emotion': e.emotion}"
    )
    assert _hand_written(labels) == []  # a text form's labels are not a JSON form


def test_a_time_without_a_utc_form_is_invalid_input_not_an_overflow() -> None:
    with pytest.raises(InvalidInputError, match="no UTC form"):
        wire.time_from_json("0001-01-01T00:00:00+02:00", "occurred_at")
