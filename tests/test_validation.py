"""Unit tests of engramdb.validation: each check returns the clean value or raises typed."""

from __future__ import annotations

import inspect
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from engramdb import Memory
from engramdb.config import Limits
from engramdb.embed import Embedder
from engramdb.errors import InvalidInputError, LimitExceededError
from engramdb.validation import (
    EARLIEST,
    ITEM_KEYS,
    LATEST,
    MAX_BUDGET,
    MAX_WINDOW,
    NewMemory,
    check_budget,
    check_flag,
    check_id,
    check_int,
    check_item,
    check_kinds,
    check_label,
    check_limit,
    check_metadata,
    check_namespace,
    check_new_memory,
    check_number,
    check_query,
    check_text,
    check_time,
)

LIMITS = Limits()
SMALL = Limits(
    max_text_chars=10, max_metadata_bytes=20, max_query_chars=5, max_label_chars=4, max_limit=3
)


@pytest.mark.parametrize("value", ["default", "user-42", "a", "A.b_c:d@e-f", "9lives", "x" * 128])
def test_check_namespace_accepts_plain_labels(value: str) -> None:
    assert check_namespace(value, LIMITS) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        " lead",
        "a b",
        "-x",
        ".x",
        "_x",
        "ns/evil",
        "ns\n",
        "é",
        "a'b",
        'a"b',
        "a*",
        None,
        5,
    ],
)
def test_check_namespace_refuses_malformed_labels(value: object) -> None:
    with pytest.raises(InvalidInputError, match="namespace"):
        check_namespace(value, LIMITS)


def test_check_namespace_length_is_a_limit() -> None:
    with pytest.raises(LimitExceededError):
        check_namespace("x" * 129, LIMITS)


def test_check_label_strips_and_allows_none() -> None:
    assert check_label(None, "session", LIMITS) is None
    assert check_label("  Zoë 🙂 ", "speaker", LIMITS) == "Zoë 🙂"


@pytest.mark.parametrize("value", ["", "   ", "two\nlines", "c\rr", "bell\x07", "nul\x00", 3, b"x"])
def test_check_label_refuses_empty_multiline_or_non_strings(value: object) -> None:
    with pytest.raises(InvalidInputError, match="session"):
        check_label(value, "session", LIMITS)


def test_check_label_length_is_a_limit() -> None:
    assert check_label("abcd", "speaker", SMALL) == "abcd"
    with pytest.raises(LimitExceededError, match="speaker"):
        check_label("abcde", "speaker", SMALL)


def test_check_text_keeps_text_exactly() -> None:
    text = "  leading and trailing space, ünïcode 🎉\nand a newline  "
    assert check_text(text, LIMITS) == text


@pytest.mark.parametrize("value", ["", "   ", "\n\t", "nul\x00inside", None, 3, ["a"], b"bytes"])
def test_check_text_refuses_empty_nul_or_non_strings(value: object) -> None:
    with pytest.raises(InvalidInputError, match="text"):
        check_text(value, LIMITS)


def test_check_text_length_is_a_limit() -> None:
    assert check_text("x" * 10, SMALL) == "x" * 10
    with pytest.raises(LimitExceededError):
        check_text("x" * 11, SMALL)


def test_check_query_refuses_empty_and_long() -> None:
    assert check_query("hello", SMALL) == "hello"
    for bad in ("", "  ", None, 1):
        with pytest.raises(InvalidInputError, match="query"):
            check_query(bad, SMALL)
    with pytest.raises(LimitExceededError):
        check_query("hello!", SMALL)


def test_check_time_converts_aware_to_utc() -> None:
    local = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    converted = check_time(local, "occurred_at")
    assert converted == local
    assert converted.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", [datetime(2024, 5, 1), "2024-05-01T00:00:00Z", 1714521600, None])  # noqa: DTZ001
def test_check_time_refuses_naive_and_non_datetimes(value: object) -> None:
    with pytest.raises(InvalidInputError, match="occurred_at"):
        check_time(value, "occurred_at")


def test_check_limit_bounds() -> None:
    assert check_limit(1, SMALL) == 1
    assert check_limit(3, SMALL) == 3
    for bad in (0, -1, True, 2.0, "3", None):
        with pytest.raises(InvalidInputError, match="limit"):
            check_limit(bad, SMALL)
    with pytest.raises(LimitExceededError):
        check_limit(4, SMALL)


def test_check_id_accepts_only_32_lowercase_hex() -> None:
    assert check_id("0123456789abcdef" * 2) == "0123456789abcdef" * 2
    for bad in (
        "0123456789ABCDEF" * 2,
        "a" * 31,
        "a" * 33,
        "g" * 32,
        "",
        None,
        42,
        "a" * 32 + "\n",
    ):
        with pytest.raises(InvalidInputError):
            check_id(bad)


def test_check_metadata_returns_a_plain_json_copy() -> None:
    given: dict[str, Any] = {"a": (1, 2), "nested": {"b": [None, True, 1.5, "ü"]}}
    cleaned = check_metadata(given, LIMITS)
    assert cleaned == {"a": [1, 2], "nested": {"b": [None, True, 1.5, "ü"]}}
    assert cleaned is not given
    assert cleaned["nested"] is not given["nested"]
    assert check_metadata(None, LIMITS) == {}


@pytest.mark.parametrize(
    "value",
    [
        {"s": {1, 2}},
        {"o": object()},
        {"nan": float("nan")},
        {"inf": [float("inf")]},
        {1: "int key"},
        {"deep": {(1, 2): "tuple key"}},
        {"b": b"bytes"},
        {"when": datetime(2024, 1, 1, tzinfo=timezone.utc)},
        ["not", "a", "mapping"],
        "string",
    ],
)
def test_check_metadata_refuses_what_json_cannot_hold(value: object) -> None:
    with pytest.raises(InvalidInputError, match="metadata"):
        check_metadata(value, LIMITS)


def test_check_metadata_refuses_deep_nesting() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(40):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(InvalidInputError, match="nested"):
        check_metadata(deep, LIMITS)


def test_check_metadata_size_is_counted_in_utf8_bytes() -> None:
    assert check_metadata({"k": "é" * 5}, SMALL) == {"k": "é" * 5}  # 14 characters, 19 bytes
    with pytest.raises(LimitExceededError):
        check_metadata({"k": "é" * 6}, SMALL)  # 15 characters, 21 bytes
    near = {"blob": "x" * (LIMITS.max_metadata_bytes - 20)}
    assert check_metadata(near, LIMITS) == near
    with pytest.raises(LimitExceededError):
        check_metadata({"blob": "x" * LIMITS.max_metadata_bytes}, LIMITS)


def test_check_time_refuses_a_datetime_without_a_utc_form() -> None:
    too_early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    with pytest.raises(InvalidInputError, match="occurred_at"):
        check_time(too_early, "occurred_at")


def test_check_int_takes_integers_within_both_bounds() -> None:
    assert check_int(0, "before", 0, 100) == 0
    assert check_int(100, "before", 0, 100) == 100
    for bad in (-1, 101, True, False, 1.0, "3", None, 10**400):
        with pytest.raises(InvalidInputError, match=r"^before must be an integer from 0 to 100$"):
            check_int(bad, "before", 0, 100)


def test_check_number_takes_finite_numbers_and_can_leave_the_low_bound_out() -> None:
    assert check_number(0, "x", 0, 1) == 0.0
    assert check_number(1, "x", 0, 1) == 1.0
    assert check_number(36_500, "days", 0, 36_500, low_included=False) == 36_500.0
    assert isinstance(check_number(7, "days", 0, 36_500, low_included=False), float)
    for bad in (0, -1, 36_501, math.nan, math.inf, True, "7", None, 10**400):
        with pytest.raises(
            InvalidInputError, match=r"^days must be a number from 0 \(exclusive\) to 36500$"
        ):
            check_number(bad, "days", 0, 36_500, low_included=False)


def test_check_flag_takes_only_booleans() -> None:
    assert check_flag(True, "reinforce") is True
    assert check_flag(False, "reinforce") is False
    for bad in (0, 1, "yes", None):
        with pytest.raises(InvalidInputError, match="reinforce must be True or False"):
            check_flag(bad, "reinforce")


def test_check_kinds_takes_one_kind_or_several() -> None:
    assert check_kinds(None) is None
    assert check_kinds("fact") == {"fact"}
    assert check_kinds(["episode", "summary"]) == {"episode", "summary"}
    for bad in ([], ["note"], "note", {"fact": 1}, 3, [1], [{}], [["fact"]]):
        with pytest.raises(InvalidInputError, match="kinds must be"):
            check_kinds(bad)


def test_check_budget_bounds_are_none_or_integers_up_to_the_largest() -> None:
    assert check_budget(None, None) == (None, None)
    assert check_budget(0, MAX_BUDGET) == (0, MAX_BUDGET)
    for bad in (-1, MAX_BUDGET + 1, 1.5, True, "10"):
        with pytest.raises(InvalidInputError, match=r"max_bytes must be an integer .* or None"):
            check_budget(None, bad)


NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def test_check_new_memory_fills_occurred_at_and_leaves_estimates_open() -> None:
    new = check_new_memory(LIMITS, NOW, text="hi", speaker=" Maya ")
    assert new == NewMemory(
        text="hi",
        session=None,
        speaker="Maya",
        occurred_at=NOW,
        metadata={},
        importance=None,
        emotion=None,
        occurred_at_given=False,  # filled with now (docs/repetition.md: a retry matches)
    )
    with pytest.raises(AttributeError):
        new.text = "changed"  # type: ignore[misc]


def test_check_item_names_the_position_and_the_keys_it_takes() -> None:
    assert check_item({"text": "hi", "importance": 1}, 0, LIMITS, NOW).importance == 1.0
    # the batch's options are not an item's: its namespace, and when its vectors are made
    batch = {"self", "namespace", "embed"}
    assert set(inspect.signature(Memory.add).parameters) - batch == ITEM_KEYS
    with pytest.raises(InvalidInputError, match=r"^item 3 must be a mapping, got str$"):
        check_item("hi", 3, LIMITS, NOW)
    with pytest.raises(InvalidInputError, match=r"^item 1 has unknown keys \['7', 'when'\]"):
        check_item({"text": "hi", "when": "today", 7: 1}, 1, LIMITS, NOW)
    with pytest.raises(InvalidInputError, match=r"^item 2: text must be a string, got NoneType$"):
        check_item({"speaker": "Maya"}, 2, LIMITS, NOW)
    with pytest.raises(LimitExceededError, match=r"^item 0: text is 11 characters"):
        check_item({"text": "x" * 11}, 0, SMALL, NOW)


# -- every string a caller gives, every time (docs/limits.md) ------------------------------

LONE_SURROGATES = ["\udfff", "ok\ud800", "\udc00tail"]


@pytest.mark.parametrize("bad", LONE_SURROGATES)
def test_a_lone_surrogate_is_invalid_input_wherever_a_string_goes(bad: str) -> None:
    for check in (
        lambda: check_text(bad, LIMITS),
        lambda: check_query(bad, LIMITS),
        lambda: check_label(bad, "speaker", LIMITS),
        lambda: check_label(bad, "session", LIMITS),
        lambda: check_metadata({bad: 1}, LIMITS),
        lambda: check_metadata({"k": bad}, LIMITS),
        lambda: check_metadata({"k": [{"deeper": bad}]}, LIMITS),
    ):
        with pytest.raises(InvalidInputError, match="lone surrogate"):
            check()


def test_memory_refuses_a_lone_surrogate_before_the_tokenizer_sees_it(embedder: Embedder) -> None:
    with Memory(":memory:", embedder=embedder) as memory:
        for kwargs in ({"speaker": "\udfff"}, {"session": "\udfff"}, {"metadata": {"\udfff": 1}}):
            with pytest.raises(InvalidInputError):
                memory.add("ok", namespace="fz", **kwargs)
        with pytest.raises(InvalidInputError, match="lone surrogate"):
            memory.add("ok \udfff", namespace="fz")
        assert memory.namespaces() == []


@pytest.mark.parametrize("char", ["\t", "\x85", "\u2028", "\u2029", "\x1f", "\x7f", "\x9b"])
def test_a_label_with_a_control_or_line_separator_is_refused_by_name(char: str) -> None:
    for value in (f"ali{char}ce", f"{char}alice", f"alice{char}"):
        with pytest.raises(InvalidInputError, match=f"U\\+{ord(char):04X}") as refused:
            check_label(value, "speaker", LIMITS)
        assert "empty" not in str(refused.value)


def test_a_label_keeps_its_inner_spaces_and_loses_the_outer_ones() -> None:
    assert check_label("  Ada Lovelace ", "speaker", LIMITS) == "Ada Lovelace"
    assert check_label("Ada\u00a0L", "speaker", LIMITS) == "Ada\u00a0L"


def test_nul_is_refused_in_metadata_keys_and_values_as_in_text() -> None:
    for metadata in ({"k\x00": 1}, {"k": "a\x00b"}, {"k": {"inner": ["\x00"]}}):
        with pytest.raises(InvalidInputError, match="NUL"):
            check_metadata(metadata, LIMITS)


@pytest.mark.parametrize(
    "when",
    [
        datetime(1, 1, 1, tzinfo=timezone.utc),
        datetime(199, 12, 31, 23, 59, tzinfo=timezone.utc),
        datetime(9900, 1, 1, tzinfo=timezone.utc),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc),
    ],
)
def test_a_time_outside_the_documented_range_is_refused(when: datetime) -> None:
    with pytest.raises(InvalidInputError, match=r"0200-01-01 up to \(not including\) 9900-01-01"):
        check_time(when, "now")


def test_the_ends_of_the_time_range() -> None:
    assert check_time(EARLIEST, "now") == EARLIEST
    last = LATEST - timedelta(microseconds=1)
    assert check_time(last, "now") == last


def test_mood_and_retention_at_the_ends_of_time_are_refused(embedder: Embedder) -> None:
    with Memory(":memory:", embedder=embedder) as memory:
        added = memory.add("a quiet day", namespace="fz")
        for now in (
            datetime(1, 1, 1, tzinfo=timezone.utc),
            datetime.max.replace(tzinfo=timezone.utc),
        ):
            with pytest.raises(InvalidInputError, match="now must be from"):
                memory.mood(namespace="fz", now=now)
            with pytest.raises(InvalidInputError, match="now must be from"):
                memory.retention(added.id, namespace="fz", now=now)
        # the longest window from the earliest time stays representable
        mood = memory.mood(namespace="fz", window=MAX_WINDOW, now=EARLIEST)
        assert mood.start == EARLIEST - MAX_WINDOW
        with pytest.raises(InvalidInputError, match="window"):
            memory.mood(namespace="fz", window=timedelta(days=999_999_999))
        assert memory.check() == []


def test_a_far_future_now_cannot_freeze_a_memory(embedder: Embedder) -> None:
    with Memory(":memory:", embedder=embedder) as memory:
        added = memory.add("a plan", namespace="fz")
        with pytest.raises(InvalidInputError, match="now must be from"):
            memory.update(
                added.id,
                namespace="fz",
                text="a new plan",
                now=datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc),
            )
        assert memory.update(added.id, namespace="fz", text="a newer plan").text == "a newer plan"


@pytest.mark.parametrize("batch", [None, 3, 1.5, object()])
def test_a_batch_that_is_not_iterable_is_invalid_input(embedder: Embedder, batch: Any) -> None:
    with Memory(":memory:", embedder=embedder) as memory:
        with pytest.raises(InvalidInputError, match="items must be an iterable"):
            memory.add_many(batch, namespace="fz")
        with pytest.raises(InvalidInputError, match="records must be an iterable"):
            memory.import_records(batch)


def test_an_imported_record_keeps_to_the_range_of_times(embedder: Embedder) -> None:
    with Memory(":memory:", embedder=embedder) as memory:
        record = next(iter(_exported_one(memory)))
    bad = {**record, "recorded_at": "0001-01-01T00:00:00Z"}
    with (
        Memory(":memory:", embedder=embedder) as fresh,
        pytest.raises(InvalidInputError, match="recorded_at must be from"),
    ):
        fresh.import_record(bad)
    version = {**record["versions"][0], "occurred_at": "9999-12-31T00:00:00Z"}
    with Memory(":memory:", embedder=embedder) as fresh:
        with pytest.raises(InvalidInputError, match="occurred_at must be from"):
            fresh.import_record({**record, "versions": [version]})
        assert fresh.import_record(record).text == "an old chronicle"


def _exported_one(memory: Memory) -> list[dict[str, Any]]:
    memory.add("an old chronicle", namespace="fz")
    return list(memory.export(namespace="fz"))
