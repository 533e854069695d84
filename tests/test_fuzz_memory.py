"""Fuzzing every public ``Memory`` method's arguments: each call succeeds or raises an
``EngramError`` (never a ``TypeError``, ``OverflowError`` or ``UnicodeEncodeError``), and
the store's ``check()`` is clean afterwards (docs/limits.md says what is refused).

The arguments mix plausible values with hostile ones: lone surrogates, control and
separator characters, NUL, times from year 1 to 9999 in any offset and naive, numbers
from -10**4000 to NaN, metadata deep and wide, and values of the wrong type. Bounded and
seeded: a fixed number of derandomized examples per method (``EXAMPLES``), on one store
per method seeded with a few memories whose ids the strategies also draw.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engramdb import EngramError, Memory
from engramdb.embed import Embedder

EXAMPLES = 60  # per method

# -- strategies ---------------------------------------------------------------------------

HOSTILE_CHARS = "\x00\t\n\r\x0b\x1f\x7f\x85\x9b\u2028\u2029\ufeff\u200b\udfff\ud800"
characters = st.one_of(
    st.characters(),
    st.characters(categories=["Cs", "Cc", "Zl", "Zp", "Zs", "Cf", "Co"]),
    st.sampled_from(HOSTILE_CHARS),
)
plain = st.text(string.ascii_letters + " ", min_size=1, max_size=24).filter(str.strip)
hostile_strings = st.one_of(
    st.text(characters, max_size=24),
    st.sampled_from(["", " ", "\udfff", "a\udfffb", "a\tb", "x" * 200, "\x85", "\u2028", "\x00"]),
)
# Mostly plain, so that one hostile argument at a time gets past the others' checks.
strings = st.one_of(plain, plain, plain, hostile_strings)
# 4,001 digits: under the 4,300 that repr() (and so a falsifying example) can print
huge = st.sampled_from([10**4000, -(10**4000), 2**63, -(2**63) - 1, 2**53 + 1])
numbers = st.one_of(
    st.integers(min_value=-3, max_value=30),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    huge,
    st.booleans(),
)
offsets = st.sampled_from(
    [timezone.utc, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12)), None]
)
utc = timezone.utc
plain_times = st.datetimes(
    min_value=datetime(1990, 1, 1),  # noqa: DTZ001 (st.datetimes takes naive bounds)
    max_value=datetime(2030, 1, 1),  # noqa: DTZ001
    timezones=st.just(utc),
)
hostile_times = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 1),  # noqa: DTZ001
        max_value=datetime(9999, 12, 31),  # noqa: DTZ001
        timezones=offsets,
    ),
    st.sampled_from(
        [
            datetime(1, 1, 1, tzinfo=utc),
            datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=2))),
            datetime(9999, 12, 31, 23, 59, 59, tzinfo=utc),
            datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-2))),
            datetime(199, 12, 31, tzinfo=utc),
            datetime(9900, 1, 1, tzinfo=utc),
        ]
    ),
)
times = st.one_of(plain_times, plain_times, hostile_times)
leaves = st.one_of(st.none(), st.booleans(), numbers, strings)
json_like = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(strings, inner, max_size=4)
    ),
    max_leaves=20,
)


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels):
        value = {"k": value}
    return value


metadata = st.one_of(
    st.none(),
    st.dictionaries(strings, json_like, max_size=6),
    st.dictionaries(strings, json_like, max_size=6),
    st.sampled_from([_deep(31), _deep(33), _deep(500), {str(i): i for i in range(5000)}]),
    st.sampled_from([{1: "a"}, {"k": {1, 2}}, {"k": b"bytes"}, ["not", "a", "dict"]]),
)
#: Anything at all: what a caller of the wrong type sends.
anything = st.one_of(st.none(), numbers, strings, times, st.binary(max_size=8), json_like)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``strategy``, sometimes None, now and then a value of any type."""
    return st.one_of(strategy, strategy, strategy, strategy, st.none(), anything)


namespaces = st.one_of(st.just("fz"), st.just("fz"), st.just("fz"), st.just("other"), anything)
kinds = st.one_of(
    st.sampled_from(["episode", "fact", "summary"]),
    st.lists(st.sampled_from(["episode", "fact", "summary", "nope"]), max_size=3),
    anything,
)
emotions = st.one_of(st.sampled_from(["joy", "anger", "neutral"]), anything)
# A search's where (docs/filters.md): known fields and operators, and anything else.
where_fields = st.one_of(
    st.sampled_from(["speaker", "session", "metadata.a", "metadata."]), strings
)
operators = st.one_of(st.sampled_from(["$eq", "$ne", "$in", "$nin", "$gt", "$lte"]), strings)
conditions = st.one_of(leaves, st.lists(leaves, max_size=3), st.dictionaries(operators, anything))
filters = st.one_of(st.dictionaries(where_fields, conditions, max_size=4), anything)


def ids(seeded: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(seeded), st.text("0123456789abcdef", min_size=32, max_size=32), anything
    )


def item() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries(
            {"text": maybe(strings)},
            optional={
                "session": maybe(strings),
                "speaker": maybe(strings),
                "occurred_at": maybe(times),
                "metadata": metadata,
                "importance": maybe(numbers),
                "emotion": maybe(emotions),
                "idempotency_key": maybe(strings),
                "expires_at": maybe(times),
            },
        ),
        st.dictionaries(strings, anything, max_size=3),
        anything,
    )


def record(seeded: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries(
            {
                "namespace": namespaces,
                "id": ids(seeded),
                "recorded_at": maybe(st.one_of(strings, times.map(str))),
                "versions": st.lists(
                    st.dictionaries(
                        st.sampled_from(["text", "speaker", "metadata", "occurred_at"]),
                        anything,
                    ),
                    max_size=2,
                ),
            },
            optional={"kind": anything, "session": maybe(strings), "links": anything},
        ),
        st.dictionaries(strings, anything, max_size=3),
        anything,
    )


#: method name -> the keyword arguments to fuzz it with, given the seeded ids.
CALLS: dict[str, Callable[[list[str]], st.SearchStrategy[dict[str, Any]]]] = {
    "add": lambda s: st.fixed_dictionaries(
        {"text": maybe(strings), "namespace": namespaces},
        optional={
            "session": maybe(strings),
            "speaker": maybe(strings),
            "occurred_at": maybe(times),
            "metadata": metadata,
            "importance": maybe(numbers),
            "emotion": maybe(emotions),
            "idempotency_key": maybe(strings),
            "expires_at": maybe(times),
        },
    ),
    "add_many": lambda s: st.fixed_dictionaries(
        {"items": st.one_of(st.lists(item(), max_size=4), anything), "namespace": namespaces}
    ),
    "update": lambda s: st.fixed_dictionaries(
        {"id": ids(s), "namespace": namespaces},
        optional={
            "text": maybe(strings),
            "speaker": maybe(strings),
            "occurred_at": maybe(times),
            "metadata": metadata,
            "now": maybe(times),
        },
    ),
    "delete": lambda s: st.fixed_dictionaries({"id": ids(s), "namespace": namespaces}),
    "delete_where": lambda s: st.fixed_dictionaries(
        {"namespace": namespaces},
        optional={
            "where": maybe(st.one_of(metadata, st.just({"speaker": "ann"}))),
            "kinds": maybe(st.one_of(st.sampled_from(["episode", "fact", "summary"]), anything)),
            "occurred_after": maybe(times),
            "occurred_before": maybe(times),
            "dry_run": maybe(st.booleans()),
        },
    ),
    "forget_namespace": lambda s: st.fixed_dictionaries(
        {"namespace": st.one_of(st.just("other"), strings, anything)}
    ),
    "get": lambda s: st.fixed_dictionaries({"id": ids(s), "namespace": namespaces}),
    "history": lambda s: st.fixed_dictionaries({"id": ids(s), "namespace": namespaces}),
    "search": lambda s: st.fixed_dictionaries(
        {"query": maybe(strings), "namespace": namespaces},
        optional={
            "limit": maybe(numbers),
            "now": maybe(times),
            "neighbours": maybe(numbers),
            "include_dormant": maybe(st.booleans()),
            "reinforce": maybe(st.booleans()),
            "emotion": maybe(emotions),
            "mood_congruent": maybe(st.booleans()),
            "context": maybe(st.one_of(strings, st.lists(strings, max_size=3))),
            "as_of": maybe(times),
            "kinds": maybe(kinds),
            "where": maybe(filters),
            "occurred_after": maybe(times),
            "occurred_before": maybe(times),
        },
    ),
    "consolidate": lambda s: st.fixed_dictionaries(
        {"namespace": namespaces}, optional={"now": maybe(times)}
    ),
    "facts": lambda s: st.fixed_dictionaries(
        {"namespace": namespaces},
        optional={
            "subject": maybe(strings),
            "attribute": maybe(strings),
            "as_of": maybe(times),
        },
    ),
    # the pinned profile (docs/profile.md)
    "pin": lambda s: st.fixed_dictionaries(
        {
            "key": st.one_of(st.sampled_from(["name", "diet"]), strings, anything),
            "text": maybe(strings),
            "namespace": namespaces,
        },
        optional={"source_id": maybe(st.one_of(ids(s), strings))},
    ),
    "unpin": lambda s: st.fixed_dictionaries(
        {
            "key": st.one_of(st.sampled_from(["name", "diet"]), strings, anything),
            "namespace": namespaces,
        }
    ),
    "profile": lambda s: st.fixed_dictionaries(
        {"namespace": namespaces},
        optional={"as_of": maybe(times), "history": maybe(st.one_of(st.booleans(), anything))},
    ),
    "profile_proposals": lambda s: st.fixed_dictionaries({"namespace": namespaces}),
    "working": lambda s: st.fixed_dictionaries(
        {"namespace": namespaces, "session": maybe(strings)},
        optional={"max_turns": maybe(numbers), "max_tokens": maybe(numbers)},
    ),
    "context": lambda s: st.fixed_dictionaries(
        {"query": maybe(strings), "namespace": namespaces},
        optional={
            "session": maybe(strings),
            "budget_tokens": maybe(numbers),
            "now": maybe(times),
            "where": maybe(filters),
            "occurred_after": maybe(times),
            "occurred_before": maybe(times),
        },
    ),
    "mood": lambda s: st.fixed_dictionaries(
        {"namespace": namespaces},
        optional={
            "window": maybe(
                st.timedeltas(min_value=timedelta(days=-(10**6)), max_value=timedelta(days=10**6))
            ),
            "now": maybe(times),
        },
    ),
    "flush": lambda s: st.just({}),
    "set_budget": lambda s: st.fixed_dictionaries(
        {"namespace": st.one_of(st.just("budgeted"), namespaces)},
        optional={"max_memories": maybe(numbers), "max_bytes": maybe(numbers)},
    ),
    "budget": lambda s: st.fixed_dictionaries({"namespace": namespaces}),
    "set_expiry": lambda s: st.fixed_dictionaries(
        {"id": ids(s), "namespace": namespaces, "expires_at": maybe(times)}
    ),
    "set_ttl": lambda s: st.fixed_dictionaries(
        {
            "ttl": maybe(
                st.timedeltas(min_value=timedelta(days=-(10**6)), max_value=timedelta(days=10**6))
            ),
            "namespace": namespaces,
        }
    ),
    "ttl": lambda s: st.fixed_dictionaries({"namespace": namespaces}),
    "purge": lambda s: st.fixed_dictionaries({}, optional={"namespace": maybe(namespaces)}),
    "fade": lambda s: st.fixed_dictionaries(
        {"namespace": namespaces}, optional={"now": maybe(times)}
    ),
    "retention": lambda s: st.fixed_dictionaries(
        {"id": ids(s), "namespace": namespaces}, optional={"now": maybe(times)}
    ),
    "curve": lambda s: st.fixed_dictionaries(
        {"id": ids(s), "namespace": namespaces},
        optional={"days": maybe(numbers), "points": maybe(numbers)},
    ),
    "neighbours": lambda s: st.fixed_dictionaries(
        {"id": ids(s), "namespace": namespaces},
        optional={"before": maybe(numbers), "after": maybe(numbers)},
    ),
    "namespaces": lambda s: st.just({}),
    "stats": lambda s: st.fixed_dictionaries({"namespace": namespaces}),
    "reindex": lambda s: st.fixed_dictionaries({"namespace": maybe(namespaces)}),
    "export": lambda s: st.fixed_dictionaries({"namespace": maybe(namespaces)}),
    "import_record": lambda s: st.fixed_dictionaries({"record": record(s)}),
    "list": lambda s: st.fixed_dictionaries(
        {"namespace": namespaces},
        optional={
            "where": maybe(st.one_of(metadata, st.just({"speaker": "ann"}))),
            "occurred_after": maybe(times),
            "occurred_before": maybe(times),
            "kinds": maybe(st.one_of(st.sampled_from(["episode", "fact", "summary"]), anything)),
            "order": maybe(st.one_of(st.sampled_from(["occurred_at", "recorded_at"]), anything)),
            "descending": maybe(st.one_of(st.booleans(), anything)),
            "limit": maybe(numbers),
            "cursor": maybe(strings),
        },
    ),
    # learning (docs/learning.md): a hit is a Hit or a memory's id with its search's id
    "feedback": lambda s: st.fixed_dictionaries(
        {"hit": st.one_of(ids(s), anything), "reward": numbers, "namespace": namespaces},
        optional={"search_id": maybe(strings), "now": maybe(times)},
    ),
    "weights": lambda s: st.fixed_dictionaries({"namespace": namespaces}),
    "reset_weights": lambda s: st.fixed_dictionaries({"namespace": namespaces}),
    "record_experience": lambda s: st.fixed_dictionaries(
        {
            "situation": strings,
            "action": strings,
            "outcome": strings,
            "reward": numbers,
            "namespace": namespaces,
        },
        optional={"occurred_at": maybe(times)},
    ),
    "recall_experiences": lambda s: st.fixed_dictionaries(
        {"situation": strings, "namespace": namespaces},
        optional={
            "limit": maybe(numbers),
            "now": maybe(times),
            "reinforce": st.one_of(st.booleans(), anything),
        },
    ),
    "teach": lambda s: st.fixed_dictionaries(
        {
            "concept": strings,
            "examples": st.one_of(st.lists(strings, max_size=3), anything),
            "namespace": namespaces,
        }
    ),
    "concepts": lambda s: st.fixed_dictionaries({"namespace": namespaces}),
    "retag": lambda s: st.fixed_dictionaries({"namespace": namespaces}),
    "import_records": lambda s: st.fixed_dictionaries(
        {
            "records": st.one_of(st.lists(record(s), max_size=3), anything),
            "batch_size": st.one_of(st.just(256), numbers),
        }
    ),
}

#: What the fuzz leaves out, each with its reason.
NOT_FUZZED = {
    "backup": "writes a file at a caller's path: tests/store cover its arguments",
    "restore_backup": "replaces the store from a file: tests/store cover its arguments",
    "encrypt": "takes an EncryptionKey object, not data: tests/security cover it",
    "rotate_master_key": "takes an EncryptionKey object, not data: tests/security cover it",
    "check": "takes no argument; every test here calls it",
    "close": "takes no argument",
}


def test_every_public_method_is_fuzzed_or_says_why_not() -> None:
    public = {
        name
        for name in dir(Memory)
        if not name.startswith("_") and callable(getattr(Memory, name, None))
    }
    assert public == set(CALLS) | set(NOT_FUZZED)


@pytest.fixture
def seeded(embedder: Embedder) -> Iterator[tuple[Memory, list[str]]]:
    with Memory(":memory:", embedder=embedder) as memory:
        at = datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
        added = memory.add_many(
            [
                {
                    "text": f"turn {i}: we talked about the garden",
                    "session": "s1",
                    "speaker": "ann",
                    "occurred_at": at + timedelta(minutes=i),
                }
                for i in range(4)
            ],
            namespace="fz",
        )
        yield memory, [e.id for e in added]


def _call(memory: Memory, name: str, kwargs: dict[str, Any]) -> None:
    args = dict(kwargs)
    method = getattr(memory, name)
    try:
        if name in (
            "update",
            "delete",
            "get",
            "history",
            "retention",
            "curve",
            "neighbours",
            "set_expiry",
        ):
            result = method(args.pop("id"), **args)
        elif name in ("add", "search", "context"):
            result = method(args.pop("text" if name == "add" else "query"), **args)
        elif name == "add_many":
            result = method(args.pop("items"), **args)
        elif name == "pin":
            result = method(args.pop("key"), args.pop("text"), **args)
        elif name == "set_ttl":
            result = method(args.pop("ttl"), **args)
        elif name == "unpin":
            result = method(args.pop("key"), **args)
        elif name == "forget_namespace":
            result = method(args.pop("namespace"))
        elif name == "import_record":
            result = method(args.pop("record"))
        elif name == "import_records":
            result = method(args.pop("records"), **args)
        else:
            result = method(**args)
        if name == "export":
            list(result)
    except EngramError:
        pass


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_fuzzed_call_succeeds_or_raises_an_engram_error(
    seeded: tuple[Memory, list[str]], name: str
) -> None:
    memory, known = seeded

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(kwargs=CALLS[name](known))
    def fuzz(kwargs: dict[str, Any]) -> None:
        _call(memory, name, kwargs)

    fuzz()
    memory.flush()
    assert memory.check() == []
